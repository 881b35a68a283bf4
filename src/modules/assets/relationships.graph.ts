// The graph reads over relationships, all "as of" a time: the neighbours of an entity to a depth,
// the shortest path between two, and the asset tree along a hierarchical type. Each is a
// recursive CTE that carries the path walked so far and never revisits an entity on it, so a
// cycle in the data cannot loop it. On a dense graph the number of simple paths grows quickly
// with depth; depth is capped (MAX_DEPTH) for that reason.
import { sql, type SQL } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError } from '../../core/errors.ts'
import { orgOf } from '../../core/tenancy.ts'
import type { RelationshipTypeRow } from './assets.schema.ts'
import type { Entities } from './entities.service.ts'
import { UUID } from './objectTypes.service.ts'

export type Direction = 'out' | 'in' | 'both'

export interface GraphQuery {
  at?: string | undefined
  type?: string | undefined
  direction?: Direction | undefined
  depth?: number | undefined
}

export const MAX_DEPTH = 10
export const MAX_TREE_DEPTH = 50

/** An entity as the graph reads show it. */
interface EntitySummary {
  id: string
  name: string
  entity_type: string
  properties: Record<string, unknown>
  status: string
  is_active: boolean
}
interface StepRow {
  relationship_id: string
  relationship_type: string
  from_entity_id: string
  to_entity_id: string
  strength: string
  valid_from: string
  valid_to: string | null
}
const ENTITY_COLUMNS = sql`e.id, e.name, t.name as entity_type, e.properties, e.status, e.is_active`
const summaryOf = (r: EntitySummary): EntitySummary => ({ id: r.id, name: r.name, entity_type: r.entity_type, properties: r.properties, status: r.status, is_active: r.is_active })
const stepOf = (r: StepRow, direction?: 'out' | 'in') => ({
  id: r.relationship_id,
  relationship_type: r.relationship_type,
  from_entity_id: r.from_entity_id,
  to_entity_id: r.to_entity_id,
  ...(direction ? { direction } : {}),
  strength: Number(r.strength),
  valid_from: new Date(r.valid_from).toISOString(),
  valid_to: r.valid_to === null ? null : new Date(r.valid_to).toISOString(),
})

export function timeOf(value: string, path: string): Date {
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) throw new ValidationError(`${value} is not a time`, [{ path, message: 'must be an ISO 8601 time' }])
  return d
}

/**
 * The SQL pieces of one step of a walk from `node` along a relationship `r`, by direction:
 * whether r touches the node, the entity at its other end, and which way r points from the node.
 */
function stepSql(direction: Direction, node: SQL) {
  if (direction === 'out') return { touches: sql`r.from_entity_id = ${node}`, next: sql`r.to_entity_id`, dir: sql`'out'::text` }
  if (direction === 'in') return { touches: sql`r.to_entity_id = ${node}`, next: sql`r.from_entity_id`, dir: sql`'in'::text` }
  return {
    touches: sql`(r.from_entity_id = ${node} or r.to_entity_id = ${node})`,
    next: sql`(case when r.from_entity_id = ${node} then r.to_entity_id else r.from_entity_id end)`,
    dir: sql`(case when r.from_entity_id = ${node} then 'out' else 'in' end)::text`,
  }
}

export interface GraphDeps {
  db: Executor
  entities: Entities
  clock: () => Date
  findType(exec: Executor, ctx: RequestContext, name: string): Promise<RelationshipTypeRow | undefined>
}

export function createGraph({ db, entities, clock, findType }: GraphDeps) {
  /** The root of a graph read: the caller's entity, or 404. */
  const rootOf = async (ctx: RequestContext, id: string) => (await entities.findEntity(db, ctx, id)).entity

  async function summaries(ctx: RequestContext, ids: string[]): Promise<Map<string, EntitySummary>> {
    if (ids.length === 0) return new Map()
    const found = await rows<EntitySummary>(db, sql`select ${ENTITY_COLUMNS} from entities e join object_types t on t.id = e.object_type_id where e.organization_id = ${orgOf(ctx)} and e.id = any(${sql.param(ids)}::uuid[])`)
    return new Map(found.map((r) => [r.id, summaryOf(r)]))
  }

  /** SQL: relationship r is live at `at` (and of `type`, when given), in the caller's organisation. */
  const liveEdge = (ctx: RequestContext, at: Date, type?: string) =>
    sql`r.organization_id = ${orgOf(ctx)} and r.valid_from <= ${at.toISOString()}::timestamptz and (r.valid_to is null or r.valid_to > ${at.toISOString()}::timestamptz)${type ? sql` and r.relationship_type = ${type}` : sql``}`

  return {
    /**
     * The entities reachable from `id` within `depth` steps along relationships live at `at`,
     * each once, at its shallowest depth, with the relationship that reached it.
     */
    async neighbors(ctx: RequestContext, id: string, q: GraphQuery) {
      const root = await rootOf(ctx, id)
      const at = q.at ? timeOf(q.at, '/query/at') : clock()
      const depth = Math.min(Math.max(q.depth ?? 1, 1), MAX_DEPTH)
      const direction = q.direction ?? 'both'
      const first = stepSql(direction, sql`${root.id}::uuid`)
      const next = stepSql(direction, sql`w.entity_id`)
      const found = await rows<EntitySummary & StepRow & { depth: number; direction: 'out' | 'in'; path: string[] }>(
        db,
        sql`with recursive walk(entity_id, depth, relationship_id, direction, path) as (
              select ${first.next}, 1, r.id, ${first.dir}, array[${root.id}::uuid, ${first.next}]
              from relationships r where ${first.touches} and ${liveEdge(ctx, at, q.type)}
              union all
              select ${next.next}, w.depth + 1, r.id, ${next.dir}, w.path || ${next.next}
              from walk w join relationships r on ${next.touches} and ${liveEdge(ctx, at, q.type)}
              where w.depth < ${depth} and ${next.next} <> all(w.path)
            ),
            reached as (
              select distinct on (w.entity_id) w.* from walk w join relationships r on r.id = w.relationship_id
              order by w.entity_id, w.depth, r.strength desc, w.relationship_id
            )
            select ${ENTITY_COLUMNS}, n.depth, n.direction, to_jsonb(n.path) as path,
                   r.id as relationship_id, r.relationship_type, r.from_entity_id, r.to_entity_id, r.strength, r.valid_from, r.valid_to
            from reached n join entities e on e.id = n.entity_id join object_types t on t.id = e.object_type_id join relationships r on r.id = n.relationship_id
            order by n.depth, e.name, e.id`,
      )
      return {
        entity_id: root.id,
        at: at.toISOString(),
        depth,
        direction,
        data: found.map((r) => ({ entity: summaryOf(r), depth: r.depth, path: r.path, relationship: stepOf(r, r.direction) })),
      }
    },

    /**
     * The shortest path from `id` to `to` along relationships live at `at`, in either direction
     * unless `direction` says otherwise. 404 when there is none within `depth` steps.
     */
    async path(ctx: RequestContext, id: string, q: GraphQuery & { to?: string | undefined }) {
      const root = await rootOf(ctx, id)
      if (!q.to) throw new ValidationError('to is required: the entity to find a path to', [{ path: '/query/to', message: 'is required' }])
      const target = (await summaries(ctx, UUID.test(q.to) ? [q.to] : [])).get(q.to)
      if (!target) throw new ValidationError(`no entity ${q.to} exists in this organisation`, [{ path: '/query/to', message: `no entity ${q.to} exists in this organisation` }])
      const at = q.at ? timeOf(q.at, '/query/at') : clock()
      const depth = Math.min(Math.max(q.depth ?? 6, 1), MAX_DEPTH)
      const direction = q.direction ?? 'both'
      const step = stepSql(direction, sql`w.node`)
      // Rows leave a recursive CTE one level at a time, so the first that reaches the target is
      // a shortest path, and `limit 1` stops the walk there (no ORDER BY, which would wait for all).
      const [found] = root.id === target.id
        ? [{ nodes: [root.id], rels: [] as string[], dirs: [] as ('out' | 'in')[] }]
        : await rows<{ nodes: string[]; rels: string[]; dirs: ('out' | 'in')[] }>(
            db,
            sql`with recursive walk(node, depth, nodes, rels, dirs) as (
                  select ${root.id}::uuid, 0, array[${root.id}::uuid], array[]::uuid[], array[]::text[]
                  union all
                  select ${step.next}, w.depth + 1, w.nodes || ${step.next}, w.rels || r.id, w.dirs || ${step.dir}
                  from walk w join relationships r on ${step.touches} and ${liveEdge(ctx, at, q.type)}
                  where w.depth < ${depth} and w.node <> ${target.id}::uuid and ${step.next} <> all(w.nodes)
                )
                select to_jsonb(nodes) as nodes, to_jsonb(rels) as rels, to_jsonb(dirs) as dirs from walk where node = ${target.id}::uuid limit 1`,
          )
      if (!found) throw new NotFoundError(`no path from ${root.name} to ${target.name} within ${depth} steps as of ${at.toISOString()}`, { at: at.toISOString(), max_depth: depth })
      const byId = await summaries(ctx, found.nodes)
      const steps = found.rels.length
        ? await rows<StepRow>(db, sql`select r.id as relationship_id, r.relationship_type, r.from_entity_id, r.to_entity_id, r.strength, r.valid_from, r.valid_to from relationships r where r.organization_id = ${orgOf(ctx)} and r.id = any(${sql.param(found.rels)}::uuid[])`)
        : []
      return {
        from_entity_id: root.id,
        to_entity_id: target.id,
        at: at.toISOString(),
        length: found.rels.length,
        entities: found.nodes.map((n) => byId.get(n)!),
        relationships: found.rels.map((rid, i) => stepOf(steps.find((s) => s.relationship_id === rid)!, found.dirs[i])),
      }
    },

    /**
     * The tree below `id` along a (hierarchical) type as of `at`: children are the entities whose
     * relationship of the type points to their parent (Well part_of Platform part_of Field).
     * `ancestors` is the chain up to the root, parent first; where an entity has several parents
     * at once, the chain follows the most recently started relationship.
     */
    async tree(ctx: RequestContext, id: string, q: GraphQuery) {
      const root = await rootOf(ctx, id)
      const typeName = q.type ?? 'part_of'
      const type = await findType(db, ctx, typeName)
      if (!type) throw new ValidationError(`no relationship type is named ${typeName}`, [{ path: '/query/type', message: `no relationship type is named ${typeName}` }])
      const at = q.at ? timeOf(q.at, '/query/at') : clock()
      const depth = Math.min(Math.max(q.depth ?? 10, 1), MAX_TREE_DEPTH)
      const live = liveEdge(ctx, at, type.name)
      type Edge = EntitySummary & StepRow & { depth: number }
      const edges = (direction: 'down' | 'up', limit: number) => {
        // down: r.from (child) part_of r.to (parent = the node); up: the node part_of r.to.
        const [near, far] = direction === 'down' ? [sql`r.to_entity_id`, sql`r.from_entity_id`] : [sql`r.from_entity_id`, sql`r.to_entity_id`]
        return rows<Edge>(
          db,
          sql`with recursive walk(node, depth, relationship_id, path) as (
                select ${far}, 1, r.id, array[${root.id}::uuid, ${far}] from relationships r where ${near} = ${root.id}::uuid and ${live}
                union all
                select ${far}, w.depth + 1, r.id, w.path || ${far}
                from walk w join relationships r on ${near} = w.node and ${live}
                where w.depth < ${limit} and ${far} <> all(w.path)
              )
              select distinct on (w.relationship_id) ${ENTITY_COLUMNS}, w.depth,
                     r.id as relationship_id, r.relationship_type, r.from_entity_id, r.to_entity_id, r.strength, r.valid_from, r.valid_to
              from walk w join relationships r on r.id = w.relationship_id join entities e on e.id = w.node join object_types t on t.id = e.object_type_id
              order by w.relationship_id, w.depth`,
        )
      }
      const [below, above] = [await edges('down', depth), await edges('up', MAX_TREE_DEPTH)]

      interface Node {
        entity: EntitySummary
        relationship: ReturnType<typeof stepOf>
        children: Node[]
      }
      const childrenOf = new Map<string, Edge[]>()
      for (const e of below) childrenOf.set(e.to_entity_id, [...(childrenOf.get(e.to_entity_id) ?? []), e])
      const build = (edge: Edge, level: number, onPath: Set<string>): Node => {
        const kids = level < depth ? (childrenOf.get(edge.id) ?? []).filter((k) => !onPath.has(k.id)) : []
        kids.sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id))
        return { entity: summaryOf(edge), relationship: stepOf(edge), children: kids.map((k) => build(k, level + 1, new Set([...onPath, k.id]))) }
      }
      const rootKids = (childrenOf.get(root.id) ?? []).slice().sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id))

      const ancestors: { entity: EntitySummary; relationship: ReturnType<typeof stepOf> }[] = []
      const seen = new Set([root.id])
      for (let node = root.id; ; ) {
        const up = above.filter((e) => e.from_entity_id === node && !seen.has(e.to_entity_id)).sort((x, y) => new Date(y.valid_from).getTime() - new Date(x.valid_from).getTime() || y.relationship_id.localeCompare(x.relationship_id))[0]
        if (!up) break
        ancestors.push({ entity: summaryOf(up), relationship: stepOf(up) })
        seen.add(up.id)
        node = up.id
      }
      const self = (await summaries(ctx, [root.id])).get(root.id)!
      return {
        at: at.toISOString(),
        relationship_type: type.name,
        depth,
        entity: self,
        ancestors,
        children: rootKids.map((k) => build(k, 1, new Set([root.id, k.id]))),
      }
    },
  }
}
