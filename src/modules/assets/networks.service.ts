// Well network topology (seed 000 GapNetworkData): per well, the `branches`, `trunks` and
// `paths` of a GAP-like production network, with the time it was last audited. The document is
// checked in three steps, each naming the offending item by its JSON Pointer: its shape
// (NETWORK_SCHEMA, Ajv 2020-12), its graph (declared nodes, no cycle, an export point, the well
// linked), and its links to entities (in the organisation, not deleted). The traversals a
// production engineer asks for, the route to the export point and the wells upstream of a node,
// run on the stored document.
import { and, eq, sql } from 'drizzle-orm'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { entities as entityTable, networks, type NetworkRow } from './assets.schema.ts'
import type { Entities } from './entities.service.ts'
import { buildTopology, refuse, routeToExport, upstreamWells, validateDocument, type Located, type NetworkDocument, type NetworkEdge, type NetworkNode, type Topology } from './networks.topology.ts'

export { NETWORK_SCHEMA, NetworkDocumentSchema, NetworkEdgeSchema, NetworkNodeSchema, NetworkPathSchema } from './networks.topology.ts'

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
