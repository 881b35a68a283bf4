// Well network topology (seed 000 GapNetworkData), the pure part: the document's JSON Schema
// and shape check (Ajv 2020-12), the graph built from it (declared nodes, no cycle, an export
// point, the well linked), and the traversals a production engineer asks for (the route to the
// export point, the wells upstream of a node). Every problem names its item by JSON Pointer.
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { Type, type Static } from 'typebox'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import { StringEnum, Strict, Uuid } from '../../core/http/schemas.ts'

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

export function refuse(message: string, errors: FieldError[]): never {
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

