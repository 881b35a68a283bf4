// Well network topology (seed 000 GapNetworkData): per well, the `branches`, `trunks` and
// `paths` of a GAP-like production network, with the time it was last audited. The document is
// checked in three steps, each naming the offending item by its JSON Pointer: its shape
// (NETWORK_SCHEMA, Ajv 2020-12), its graph (declared nodes, no cycle, an export point, the well
// linked), and its links to entities (in the organisation, not deleted). The traversals a
// production engineer asks for, the route to the export point and the wells upstream of a node,
// run on the stored document.
import { and, eq, sql } from 'drizzle-orm'
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { Type, type Static } from 'typebox'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { StringEnum, Strict, Uuid } from '../../core/http/schemas.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { entities as entityTable, networks, type NetworkRow } from './assets.schema.ts'
import type { Entities } from './entities.service.ts'

// ---------------------------------------------------------------------------------------------
// The document

export const NODE_KINDS = ['well', 'joint', 'manifold', 'choke', 'valve', 'separator', 'compressor', 'pump', 'tank', 'export'] as const
export type NodeKind = (typeof NODE_KINDS)[number]

const Label = Type.Optional(Type.String({ maxLength: 200, description: 'A display name' }))
const Extra = Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Any further attributes (GAP equipment data, correlations...), kept as given' }))
const NodeRef = (description: string) => Type.String({ minLength: 1, maxLength: 200, description })
const Length = (description: string) => Type.Optional(Type.Number({ exclusiveMinimum: 0, description }))

export const NetworkNodeSchema = Strict(
  {
    id: NodeRef('Unique among all the nodes of the document (branches and trunks together); edges and paths refer to it'),
    kind: StringEnum(NODE_KINDS, {
      description:
        'well: a producing or injecting well (the start of a route); joint: where lines meet; manifold; choke; valve; separator; compressor; pump; tank; export: the export (delivery) point, where every route ends',
    }),
    name: Label,
    entity_id: Type.Optional(Uuid('The asset this node stands for: an active entity of the same organisation, linked by one node at most. The network\'s own well must be linked by a node of kind well')),
    properties: Extra,
  },
  { description: 'A node of the network: a well, a junction, a piece of equipment or the export point' },
)

export const NetworkEdgeSchema = Strict(
  {
    id: NodeRef('Unique among all the edges of the document'),
    from: NodeRef('The upstream node (flow runs from `from` to `to`); a node declared anywhere in the document'),
    to: NodeRef('The downstream node; a node declared anywhere in the document'),
    name: Label,
    length: Length('Pipe length in metres; a route reports its total length when each of its pipes has one'),
    diameter: Length('Inner diameter in metres'),
    roughness: Type.Optional(Type.Number({ minimum: 0, description: 'Absolute roughness in metres' })),
    properties: Extra,
  },
  { description: 'A pipe (or any flow connection) between two nodes, in the direction of flow' },
)

const SegmentSchema = (what: string) =>
  Strict(
    {
      id: NodeRef('Unique among the branches and trunks of the document'),
      name: Label,
      nodes: Type.Optional(Type.Array(NetworkNodeSchema, { maxItems: 10_000, description: 'The nodes this segment declares; an edge may join nodes of different segments (a branch ends at a joint a trunk declares)' })),
      edges: Type.Optional(Type.Array(NetworkEdgeSchema, { maxItems: 10_000, description: 'Its pipes' })),
    },
    { description: what },
  )

export const NetworkPathSchema = Strict(
  {
    id: NodeRef('Unique among the paths of the document'),
    name: Label,
    nodes: Type.Array(NodeRef('A declared node'), { minItems: 2, maxItems: 10_000, description: 'Node ids in the direction of flow; each consecutive pair must be joined by an edge `from` the first `to` the second' }),
  },
  { description: 'A named route through the network, e.g. a well to the separator it is tested on' },
)

export const NetworkDocumentSchema = Strict(
  {
    paths: Type.Optional(Type.Array(NetworkPathSchema, { maxItems: 1000, description: 'Named routes (ordered lists of node ids); none by default' })),
    branches: Type.Array(SegmentSchema('A branch: the wells and the flowlines from them to the joints and manifolds where they meet'), { maxItems: 1000 }),
    trunks: Type.Array(SegmentSchema('A trunk: a main line from joints and manifolds through the process equipment to the export point'), { maxItems: 1000 }),
  },
  {
    description:
      'A well network as a directed acyclic graph of nodes and pipes (edges, in the direction of flow), grouped into branches (well flowlines) and trunks (main lines). ' +
      'Node and edge ids are unique across the document, and an edge may join nodes of different segments. The document must declare the network\'s well as a node of kind `well` ' +
      'linked to it (`entity_id`), at least one node of kind `export`, and a route from every well to an export point.',
  },
)

export type NetworkNode = Static<typeof NetworkNodeSchema>
export type NetworkEdge = Static<typeof NetworkEdgeSchema>
export type NetworkDocument = Static<typeof NetworkDocumentSchema>

/** The JSON Schema (2020-12) of a network document, for clients to validate with. */
export const NETWORK_SCHEMA: Record<string, unknown> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:stratum:schemas:network:1',
  title: 'Well network topology',
  ...(JSON.parse(JSON.stringify(NetworkDocumentSchema)) as Record<string, unknown>),
}

const ajv = new Ajv2020({ allErrors: true, strict: true })
;(addFormats as unknown as (a: Ajv2020) => void)(ajv)
const validateShape = ajv.compile<NetworkDocument>(NETWORK_SCHEMA)

/** At most this many problems are listed: a broken import would otherwise answer megabytes. */
const MAX_ERRORS = 100

function shapeErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((e) => {
    const at = `${prefix}${e.instancePath}`
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'required') return { path: `${at}/${String(params.missingProperty)}`, message: 'is required' }
    if (e.keyword === 'additionalProperties') return { path: `${at}/${String(params.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')}`, message: 'is not a known field' }
    if (e.keyword === 'enum') return { path: at, message: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` }
    return { path: at, message: e.message ?? 'is not valid' }
  })
}

function refuse(message: string, errors: FieldError[]): never {
  const listed = errors.slice(0, MAX_ERRORS)
  const more = errors.length > listed.length ? ` (the first ${listed.length} are listed)` : ''
  throw new ValidationError(`${message}: ${errors.length} ${errors.length === 1 ? 'problem' : 'problems'}${more}`, listed)
}

/** The document, if it has the shape of NETWORK_SCHEMA; a 422 naming each misfit otherwise. */
export function validateDocument(input: unknown, prefix = '/body'): NetworkDocument {
  if (validateShape(input)) return input
  refuse('the network document does not match its schema (GET /api/v1/networks/schema)', shapeErrors(validateShape.errors, prefix))
}

// ---------------------------------------------------------------------------------------------
// The graph

export interface Located<T> {
  item: T
  /** JSON Pointer into the document (`/branches/0/edges/3`). */
  at: string
  /** The branch or trunk that declares it. */
  segment: string
}

export interface Topology {
  /** In declaration order: branches first, then trunks. */
  nodes: Map<string, Located<NetworkNode>>
  /** Edges whose ends are declared nodes, by upstream node, in declaration order. */
  out: Map<string, Located<NetworkEdge>[]>
  /** The same edges by downstream node. */
  in: Map<string, Located<NetworkEdge>[]>
  /** Node ids with each node after every node downstream of it (valid when acyclic). */
  downstreamFirst: string[]
  acyclic: boolean
}

const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/**
 * The graph of a document and what is wrong with it beyond its schema: duplicate ids, edges
 * and paths to undeclared nodes, cycles, no export point, the well not declared, a well with no
 * route to an export point. Pure; the entity links are checked by the service.
 */
export function buildTopology(doc: NetworkDocument, wellId: string, prefix = '/body'): { topology: Topology; errors: FieldError[] } {
  const errors: FieldError[] = []
  const fail = (at: string, message: string) => errors.push({ path: `${prefix}${at}`, message })
  const nodes = new Map<string, Located<NetworkNode>>()
  const edges = new Map<string, Located<NetworkEdge>>()
  const segments = new Map<string, string>()
  const linked = new Map<string, string>()
  const segmentList = [...doc.branches.map((s, i) => ({ s, at: `/branches/${i}` })), ...doc.trunks.map((s, i) => ({ s, at: `/trunks/${i}` }))]

  for (const { s, at } of segmentList) {
    const seen = segments.get(s.id)
    if (seen) fail(`${at}/id`, `duplicates the id of ${seen}`)
    else segments.set(s.id, at)
    ;(s.nodes ?? []).forEach((node, i) => {
      const here = `${at}/nodes/${i}`
      const first = nodes.get(node.id)
      if (first) return fail(`${here}/id`, `duplicates node ${node.id} declared at ${prefix}${first.at}`)
      nodes.set(node.id, { item: node, at: here, segment: s.id })
      if (node.entity_id) {
        const other = linked.get(node.entity_id)
        if (other) fail(`${here}/entity_id`, `entity ${node.entity_id} is already linked by ${prefix}${other}`)
        else linked.set(node.entity_id, here)
      }
    })
  }

  const out = new Map<string, Located<NetworkEdge>[]>()
  const into = new Map<string, Located<NetworkEdge>[]>()
  for (const { s, at } of segmentList) {
    ;(s.edges ?? []).forEach((edge, i) => {
      const here = `${at}/edges/${i}`
      const first = edges.get(edge.id)
      if (first) fail(`${here}/id`, `duplicates edge ${edge.id} declared at ${prefix}${first.at}`)
      else edges.set(edge.id, { item: edge, at: here, segment: s.id })
      let ok = true
      for (const end of ['from', 'to'] as const) {
        if (!nodes.has(edge[end])) {
          fail(`${here}/${end}`, `no node ${edge[end]} is declared`)
          ok = false
        }
      }
      if (!ok) return
      const located = { item: edge, at: here, segment: s.id }
      push(out, edge.from, located)
      push(into, edge.to, located)
    })
  }

  // Depth-first, without recursion (a long flowline is thousands of nodes deep): an edge back
  // to a node still on the stack closes a cycle; post-order lists each node after its downstream.
  const state = new Map<string, 1 | 2>()
  const downstreamFirst: string[] = []
  let acyclic = true
  for (const start of nodes.keys()) {
    if (state.has(start)) continue
    state.set(start, 1)
    const stack: { node: string; next: number }[] = [{ node: start, next: 0 }]
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const outs = out.get(top.node) ?? []
      if (top.next < outs.length) {
        const edge = outs[top.next++]!
        const to = edge.item.to
        const s = state.get(to)
        if (s === undefined) {
          state.set(to, 1)
          stack.push({ node: to, next: 0 })
        } else if (s === 1) {
          acyclic = false
          const cycle = [...stack.slice(stack.findIndex((f) => f.node === to)).map((f) => f.node), to]
          fail(`${edge.at}/to`, `closes a cycle: ${cycle.join(' -> ')}; flow must run one way`)
        }
      } else {
        state.set(top.node, 2)
        downstreamFirst.push(top.node)
        stack.pop()
      }
    }
  }
  const topology: Topology = { nodes, out, in: into, downstreamFirst, acyclic }

  const well = [...nodes.values()].find((n) => n.item.entity_id === wellId)
  if (!well) fail('/branches', `must declare the network's well as a node of kind well with entity_id ${wellId}`)
  else if (well.item.kind !== 'well') fail(`${well.at}/kind`, `must be well: this node links the network's well`)
  const exports = [...nodes.values()].filter((n) => n.item.kind === 'export')
  if (exports.length === 0) fail('/trunks', 'must declare the export point: a node of kind export')
  if (acyclic && exports.length > 0) {
    const best = bestRoutes(topology)
    for (const n of nodes.values()) if (n.item.kind === 'well' && !best.has(n.item.id)) fail(n.at, `well ${n.item.id} has no route to an export point`)
  }

  const pathIds = new Map<string, number>()
  ;(doc.paths ?? []).forEach((path, i) => {
    const first = pathIds.get(path.id)
    if (first !== undefined) fail(`/paths/${i}/id`, `duplicates the id of ${prefix}/paths/${first}`)
    else pathIds.set(path.id, i)
    path.nodes.forEach((id, j) => {
      if (!nodes.has(id)) return fail(`/paths/${i}/nodes/${j}`, `no node ${id} is declared`)
      const prev = path.nodes[j - 1]
      if (j > 0 && nodes.has(prev!) && !(out.get(prev!) ?? []).some((e) => e.item.to === id)) fail(`/paths/${i}/nodes/${j}`, `no edge runs from ${prev} to ${id}`)
    })
  })
  return { topology, errors }
}

interface Best {
  hops: number
  length: number
  edge?: Located<NetworkEdge>
}

/**
 * For each node with a route to an export point, the first step of its best one: fewest pipes,
 * then shortest (known lengths), then the edge declared first. A route ends at the first export
 * point it reaches.
 */
function bestRoutes(t: Topology): Map<string, Best> {
  const best = new Map<string, Best>()
  for (const id of t.downstreamFirst) {
    if (t.nodes.get(id)!.item.kind === 'export') {
      best.set(id, { hops: 0, length: 0 })
      continue
    }
    for (const edge of t.out.get(id) ?? []) {
      const next = best.get(edge.item.to)
      if (!next) continue
      const candidate = { hops: next.hops + 1, length: next.length + (edge.item.length ?? 0), edge }
      const current = best.get(id)
      if (!current || candidate.hops < current.hops || (candidate.hops === current.hops && candidate.length < current.length)) best.set(id, candidate)
    }
  }
  return best
}

export interface Route {
  nodes: Located<NetworkNode>[]
  edges: Located<NetworkEdge>[]
  /** Metres; null unless every pipe of the route has a length. */
  length: number | null
}

/** The route from a node to an export point (see bestRoutes), or undefined when there is none. */
export function routeToExport(t: Topology, from: string): Route | undefined {
  const best = bestRoutes(t)
  if (!best.has(from)) return undefined
  const route: Route = { nodes: [t.nodes.get(from)!], edges: [], length: 0 }
  for (let step = best.get(from)!; step.edge; step = best.get(step.edge.item.to)!) {
    route.edges.push(step.edge)
    route.nodes.push(t.nodes.get(step.edge.item.to)!)
  }
  const lengths = route.edges.map((e) => e.item.length)
  route.length = lengths.every((l) => l !== undefined) ? lengths.reduce<number>((a, b) => a + b!, 0) : null
  return route
}

/** The wells whose flow reaches the node (the node itself, if it is a well), nearest first, with the fewest pipes between. */
export function upstreamWells(t: Topology, node: string): { node: Located<NetworkNode>; pipes: number }[] {
  const distance = new Map<string, number>([[node, 0]])
  const queue = [node]
  for (let i = 0; i < queue.length; i++) {
    const here = queue[i]!
    for (const edge of t.in.get(here) ?? []) {
      if (distance.has(edge.item.from)) continue
      distance.set(edge.item.from, distance.get(here)! + 1)
      queue.push(edge.item.from)
    }
  }
  return queue.filter((id) => t.nodes.get(id)?.item.kind === 'well').map((id) => ({ node: t.nodes.get(id)!, pipes: distance.get(id)! }))
}

// ---------------------------------------------------------------------------------------------
// The service

export const toNetworkView = (r: NetworkRow) => ({
  id: r.id,
  organization_id: r.organizationId,
  well_id: r.wellEntityId,
  paths: r.paths as NonNullable<NetworkDocument['paths']>,
  branches: r.branches as NetworkDocument['branches'],
  trunks: r.trunks as NetworkDocument['trunks'],
  audit_at: r.auditAt.toISOString(),
  created_by: r.createdBy,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
})
export type NetworkView = ReturnType<typeof toNetworkView>

const nodeView = (n: Located<NetworkNode>) => ({ ...n.item, segment_id: n.segment })
const edgeView = (e: Located<NetworkEdge>) => ({ ...e.item, segment_id: e.segment })
const summaryOf = (t: Topology) => {
  const kinds = [...t.nodes.values()].map((n) => n.item.kind)
  return { nodes: t.nodes.size, edges: [...t.out.values()].reduce((a, l) => a + l.length, 0), wells: kinds.filter((k) => k === 'well').length, exports: kinds.filter((k) => k === 'export').length }
}

export function createNetworks({ database, events, entities }: { database: Database; events: EventLog; entities: Entities }) {
  const db = database.db

  /** The network's well: 404 when it is not an entity of the organisation, 422 when it is deleted. */
  async function wellOf(exec: Executor, ctx: RequestContext, wellId: string, lock = false) {
    let found
    try {
      found = await entities.findEntity(exec, ctx, wellId, lock)
    } catch (err) {
      if (err instanceof NotFoundError) throw Object.assign(new NotFoundError(`well entity ${wellId} not found`), { errors: [{ path: '/params/well_id', message: 'is not an entity of this organisation' }] })
      throw err
    }
    if (!found.entity.isActive) throw new ValidationError(`well entity ${found.entity.name} is deleted; restore it first`, [{ path: '/params/well_id', message: 'is a deleted entity' }])
    return found.entity
  }

  /** Links to entities that are not active entities of the organisation. Shares a lock on those that are, so none is deleted before the write commits. */
  async function linkErrors(tx: Executor, ctx: RequestContext, t: Topology): Promise<FieldError[]> {
    const links = [...t.nodes.values()].filter((n) => n.item.entity_id)
    if (links.length === 0) return []
    const ids = [...new Set(links.map((n) => n.item.entity_id!))]
    const found = await tx
      .select({ id: entityTable.id, name: entityTable.name, isActive: entityTable.isActive })
      .from(entityTable)
      .where(and(inOrg(entityTable, ctx), sql`${entityTable.id} = any(${sql.param(ids)}::uuid[])`))
      .for('share')
    const byId = new Map(found.map((e) => [e.id, e]))
    return links.flatMap((n) => {
      const e = byId.get(n.item.entity_id!)
      if (!e) return [{ path: `/body${n.at}/entity_id`, message: `no entity ${n.item.entity_id} exists in this organisation` }]
      if (!e.isActive) return [{ path: `/body${n.at}/entity_id`, message: `entity ${e.name} is deleted` }]
      return []
    })
  }

  async function findNetwork(exec: Executor, ctx: RequestContext, wellId: string, lock = false): Promise<NetworkRow> {
    const q = exec.select().from(networks).where(and(inOrg(networks, ctx), eq(networks.wellEntityId, wellId)))
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw new NotFoundError(`well ${wellId} has no network`)
    return row
  }

  async function topologyOf(ctx: RequestContext, wellId: string) {
    const row = await findNetwork(db, ctx, wellId)
    const doc = { paths: row.paths, branches: row.branches, trunks: row.trunks } as NetworkDocument
    return { row, topology: buildTopology(doc, wellId).topology }
  }

  function nodeIn(t: Topology, id: string, param: string) {
    const node = t.nodes.get(id)
    if (!node) throw new ValidationError(`the network has no node ${id}`, [{ path: `/query/${param}`, message: `no node ${id} is declared in this network` }])
    return node
  }

  /** The node of the network's well (a stored document always has one). */
  const wellNode = (t: Topology, wellId: string) => [...t.nodes.values()].find((n) => n.item.entity_id === wellId)!

  return {
    /** Creates or replaces the well's network; `created` says which. */
    async put(ctx: RequestContext, wellId: string, input: unknown): Promise<{ network: NetworkView; created: boolean }> {
      // The path first: an unknown well is a 404 whatever the body holds.
      await wellOf(db, ctx, wellId)
      const doc = validateDocument(input)
      const { topology, errors } = buildTopology(doc, wellId)
      if (errors.length > 0) refuse('the network is not a valid topology', errors)
      return database.transaction(async (tx) => {
        // Locking the well serialises two writers of the same network.
        const well = await wellOf(tx, ctx, wellId, true)
        const links = await linkErrors(tx, ctx, topology)
        if (links.length > 0) refuse('the network links entities it may not', links)
        const document = { paths: doc.paths ?? [], branches: doc.branches, trunks: doc.trunks }
        const [existing] = await tx.select({ id: networks.id }).from(networks).where(and(inOrg(networks, ctx), eq(networks.wellEntityId, wellId))).for('update')
        const [row] = existing
          ? await tx.update(networks).set({ ...document, auditAt: sql`now()` }).where(eq(networks.id, existing.id)).returning()
          : await tx.insert(networks).values({ organizationId: orgOf(ctx), wellEntityId: wellId, ...document, auditAt: sql`now()`, createdBy: actorLabel(ctx.actor) }).returning()
        await events.appendEvent(tx, ctx, {
          type: existing ? 'network.updated' : 'network.created',
          entityType: 'network',
          entityId: row!.id,
          data: { well_id: wellId, well: well.name, ...summaryOf(topology) },
        })
        return { network: toNetworkView(row!), created: !existing }
      })
    },

    async list(ctx: RequestContext, page: { limit: number; cursor?: string | undefined }) {
      const found = await listNewestFirst(db, networks, [inOrg(networks, ctx)], page)
      return { data: found.data.map(toNetworkView), next_cursor: found.next_cursor }
    },

    async get(ctx: RequestContext, wellId: string) {
      return toNetworkView(await findNetwork(db, ctx, wellId))
    },

    async remove(ctx: RequestContext, wellId: string) {
      await database.transaction(async (tx) => {
        const row = await findNetwork(tx, ctx, wellId, true)
        await tx.delete(networks).where(eq(networks.id, row.id))
        await events.appendEvent(tx, ctx, { type: 'network.deleted', entityType: 'network', entityId: row.id, data: { well_id: wellId } })
      })
    },

    /** The route from a node (the well's by default) to the export point. */
    async route(ctx: RequestContext, wellId: string, from?: string) {
      const { topology } = await topologyOf(ctx, wellId)
      const start = from === undefined ? wellNode(topology, wellId) : nodeIn(topology, from, 'from')
      const route = routeToExport(topology, start.item.id)
      if (!route) throw new ValidationError(`no export point is downstream of node ${start.item.id}`, [{ path: '/query/from', message: 'has no route to an export point' }])
      return { well_id: wellId, from: start.item.id, to: route.nodes[route.nodes.length - 1]!.item.id, nodes: route.nodes.map(nodeView), edges: route.edges.map(edgeView), length: route.length }
    },

    /** The wells upstream of a node; by default of the export point the well's route ends at. */
    async upstream(ctx: RequestContext, wellId: string, node?: string) {
      const { topology } = await topologyOf(ctx, wellId)
      const at = node === undefined ? routeToExport(topology, wellNode(topology, wellId).item.id)!.nodes.at(-1)! : nodeIn(topology, node, 'node')
      const wells = upstreamWells(topology, at.item.id).map((w) => ({ node_id: w.node.item.id, name: w.node.item.name ?? null, entity_id: w.node.item.entity_id ?? null, segment_id: w.node.segment, pipes: w.pipes }))
      return { well_id: wellId, node: nodeView(at), wells }
    },
  }
}

export type Networks = ReturnType<typeof createNetworks>
