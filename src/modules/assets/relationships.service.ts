// Relationships (seed 001): a directed, time-bounded graph between entities, and the types its
// edges may have (built-ins with organization_id null, plus an organisation's own). Rows are never
// deleted: ending one sets valid_to, so every read can be asked "as of" any time. The graph reads
// (neighbours, shortest path, asset tree) are recursive CTEs that carry the path walked so far
// and never revisit an entity on it, so a cycle in a non-hierarchical type cannot loop them.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { relationships, relationshipTypes, type RelationshipRow, type RelationshipTypeRow } from './assets.schema.ts'
import { mergePatch, type Entities } from './entities.service.ts'
import { UUID } from './objectTypes.service.ts'
import { createGraph, timeOf, type Direction } from './relationships.graph.ts'

export { MAX_DEPTH, MAX_TREE_DEPTH, type Direction, type GraphQuery } from './relationships.graph.ts'

export interface NewRelationshipType {
  name: string
  description?: string | null | undefined
  inverse_name?: string | null | undefined
  hierarchical?: boolean | undefined
}

export interface NewRelationship {
  from_entity_id: string
  to_entity_id: string
  relationship_type: string
  properties?: Record<string, unknown> | undefined
  strength?: number | undefined
  valid_from?: string | undefined
  valid_to?: string | null | undefined
}

export interface RelationshipPatch {
  /** A JSON merge patch (RFC 7396) of the properties: null removes a key. */
  properties?: Record<string, unknown> | undefined
  strength?: number | undefined
}

export interface RelationshipQuery {
  limit: number
  cursor?: string | undefined
  entity_id?: string | undefined
  type?: string | undefined
  /** With entity_id: relationships from it (out), to it (in) or either (both, the default). */
  direction?: Direction | undefined
  /** Only relationships live at this time. */
  at?: string | undefined
  /** `true`: live now; `false`: ended or not yet started; `all` (default). */
  active?: 'true' | 'false' | 'all' | undefined
}



export const toRelationshipTypeView = (t: RelationshipTypeRow) => ({
  id: t.id,
  organization_id: t.organizationId,
  name: t.name,
  description: t.description,
  inverse_name: t.inverseName,
  hierarchical: t.hierarchical,
  built_in: t.organizationId === null,
  created_at: t.createdAt.toISOString(),
})

const liveAt = (r: RelationshipRow, at: Date) => r.validFrom <= at && (r.validTo === null || r.validTo > at)

export const toRelationshipView = (r: RelationshipRow, now: Date) => ({
  id: r.id,
  organization_id: r.organizationId,
  from_entity_id: r.fromEntityId,
  to_entity_id: r.toEntityId,
  relationship_type: r.relationshipType,
  properties: r.properties,
  strength: Number(r.strength),
  valid_from: r.validFrom.toISOString(),
  valid_to: r.validTo?.toISOString() ?? null,
  is_live: liveAt(r, now),
  created_by: r.createdBy,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
})
export type RelationshipView = ReturnType<typeof toRelationshipView>

export function createRelationships({ database, events, entities, clock = () => new Date() }: { database: Database; events: EventLog; entities: Entities; clock?: () => Date }) {
  const db = database.db

  /** A type the caller may use: a built-in or the organisation's own. */
  async function findType(exec: Executor, ctx: RequestContext, name: string): Promise<RelationshipTypeRow | undefined> {
    const [row] = await exec
      .select()
      .from(relationshipTypes)
      .where(and(eq(relationshipTypes.name, name), sql`(${relationshipTypes.organizationId} is null or ${relationshipTypes.organizationId} = ${orgOf(ctx)})`))
      .orderBy(sql`${relationshipTypes.organizationId} nulls first`)
      .limit(1)
    return row
  }

  async function findRelationship(exec: Executor, ctx: RequestContext, id: string, lock = false): Promise<RelationshipRow> {
    if (!UUID.test(id)) throw new NotFoundError(`relationship ${id} not found`)
    const q = exec.select().from(relationships).where(and(inOrg(relationships, ctx), eq(relationships.id, id)))
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw new NotFoundError(`relationship ${id} not found`)
    return row
  }

  /**
   * For a hierarchical type: the chain to -> ... -> from that the new edge from -> to would
   * close into a cycle, among edges of the type live at any time the new one is.
   */
  async function cycleThrough(tx: Executor, org: string, input: { from: string; to: string; type: string; validFrom: Date; validTo: Date | null }): Promise<string[] | undefined> {
    const overlaps = sql`(r.valid_to is null or r.valid_to > ${input.validFrom.toISOString()}::timestamptz)${input.validTo ? sql` and r.valid_from < ${input.validTo.toISOString()}::timestamptz` : sql``}`
    const [found] = await rows<{ path: string[] }>(
      tx,
      sql`with recursive up(node, path) as (
            select ${input.to}::uuid, array[${input.to}::uuid]
            union all
            select r.to_entity_id, u.path || r.to_entity_id
            from up u join relationships r on r.organization_id = ${org} and r.from_entity_id = u.node and r.relationship_type = ${input.type} and ${overlaps}
            where u.node <> ${input.from}::uuid and r.to_entity_id <> all(u.path)
          )
          select to_jsonb(path) as path from up where node = ${input.from}::uuid limit 1`,
    )
    return found?.path
  }

  async function createRelationship(ctx: RequestContext, input: NewRelationship) {
    const org = orgOf(ctx)
    const now = clock()
    const validFrom = input.valid_from !== undefined ? timeOf(input.valid_from, '/body/valid_from') : now
    const validTo = input.valid_to != null ? timeOf(input.valid_to, '/body/valid_to') : null
    const strength = input.strength ?? 1
    const errors: FieldError[] = []
    if (!(strength >= 0 && strength <= 1)) errors.push({ path: '/body/strength', message: 'must be between 0 and 1' })
    if (validTo && validTo <= validFrom) errors.push({ path: '/body/valid_to', message: `must be after valid_from (${validFrom.toISOString()})` })
    if (input.from_entity_id === input.to_entity_id) errors.push({ path: '/body/to_entity_id', message: 'must differ from from_entity_id: an entity cannot be related to itself' })
    if (errors.length > 0) throw new ValidationError(errors.map((e) => `${e.path.slice(6)} ${e.message}`).join('; '), errors)

    return database.transaction(async (tx) => {
      const type = await findType(tx, ctx, input.relationship_type)
      if (!type) throw new ValidationError(`no relationship type is named ${input.relationship_type}`, [{ path: '/body/relationship_type', message: `no relationship type is named ${input.relationship_type}; GET /relationship-types lists them` }])
      // A hierarchical type's cycle check reads edges other transactions may be adding: one writer per type at a time.
      if (type.hierarchical) await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`stratum.relationships:${org}:${type.name}`}))`)
      // Both ends, locked in id order (no deadlock between A->B and B->A): the from-entity's lock
      // serialises the overlap check below; the to-entity's keeps it from being deleted meanwhile.
      const ends = [input.from_entity_id, input.to_entity_id].filter((id) => UUID.test(id))
      const locked = ends.length
        ? await rows<{ id: string; name: string; is_active: boolean }>(tx, sql`select id, name, is_active from entities where organization_id = ${org} and id = any(${sql.param(ends)}::uuid[]) order by id for update`)
        : []
      const endErrors: FieldError[] = []
      for (const field of ['from_entity_id', 'to_entity_id'] as const) {
        const e = locked.find((l) => l.id === input[field])
        if (!e) endErrors.push({ path: `/body/${field}`, message: `no entity ${input[field]} exists in this organisation` })
        else if (!e.is_active) endErrors.push({ path: `/body/${field}`, message: `entity ${e.name} is deleted; restore it first` })
      }
      if (endErrors.length > 0) throw new ValidationError(endErrors.map((e) => `${e.path.slice(6)}: ${e.message}`).join('; '), endErrors)
      const nameOf = (id: string) => locked.find((l) => l.id === id)?.name ?? id

      const [clash] = await rows<{ id: string; valid_from: string; valid_to: string | null }>(
        tx,
        sql`select id, valid_from, valid_to from relationships
            where organization_id = ${org} and from_entity_id = ${input.from_entity_id} and to_entity_id = ${input.to_entity_id} and relationship_type = ${type.name}
              and valid_from < coalesce(${validTo?.toISOString() ?? null}::timestamptz, 'infinity') and coalesce(valid_to, 'infinity') > ${validFrom.toISOString()}::timestamptz
            limit 1`,
      )
      if (clash) {
        const span = `${new Date(clash.valid_from).toISOString()} to ${clash.valid_to ? new Date(clash.valid_to).toISOString() : 'open'}`
        throw new ConflictError(`${nameOf(input.from_entity_id)} ${type.name} ${nameOf(input.to_entity_id)} already holds from ${span}; end that relationship first or choose a validity that does not overlap it`, { relationship_id: clash.id })
      }
      if (type.hierarchical) {
        const chain = await cycleThrough(tx, org, { from: input.from_entity_id, to: input.to_entity_id, type: type.name, validFrom, validTo })
        if (chain) {
          const names = await rows<{ id: string; name: string }>(tx, sql`select id, name from entities where id = any(${sql.param(chain)}::uuid[])`)
          const label = (id: string) => names.find((n) => n.id === id)?.name ?? id
          const cycle = [input.from_entity_id, ...chain]
          throw new ConflictError(`${type.name} is hierarchical and this relationship would form a cycle: ${cycle.map(label).join(` ${type.name} `)}`, { cycle })
        }
      }

      const [row] = (await tx
        .insert(relationships)
        .values({ organizationId: org, fromEntityId: input.from_entity_id, toEntityId: input.to_entity_id, relationshipType: type.name, properties: input.properties ?? {}, strength: strength.toFixed(2), validFrom, validTo, createdBy: actorLabel(ctx.actor) })
        .returning()) as [RelationshipRow]
      await events.appendEvent(tx, ctx, {
        type: 'relationship.created',
        entityType: 'relationship',
        entityId: row.id,
        data: { from_entity_id: row.fromEntityId, to_entity_id: row.toEntityId, relationship_type: row.relationshipType, strength: Number(row.strength), properties: row.properties, valid_from: row.validFrom.toISOString(), valid_to: row.validTo?.toISOString() ?? null },
      })
      return toRelationshipView(row, now)
    })
  }

  return {
    ...createGraph({ db, entities, clock, findType }),
    findRelationship,

    async listTypes(ctx: RequestContext) {
      const found = await db
        .select()
        .from(relationshipTypes)
        .where(sql`(${relationshipTypes.organizationId} is null or ${relationshipTypes.organizationId} = ${orgOf(ctx)})`)
        .orderBy(sql`${relationshipTypes.organizationId} nulls first`, relationshipTypes.name)
      return { data: found.map(toRelationshipTypeView), next_cursor: null }
    },

    async createType(ctx: RequestContext, input: NewRelationshipType) {
      const org = orgOf(ctx)
      return database.transaction(async (tx) => {
        const [builtIn] = await tx.select({ id: relationshipTypes.id }).from(relationshipTypes).where(and(sql`${relationshipTypes.organizationId} is null`, eq(relationshipTypes.name, input.name)))
        if (builtIn) throw new ConflictError(`${input.name} is a built-in relationship type; use it, or choose another name`, { relationship_type_id: builtIn.id })
        let row: RelationshipTypeRow
        try {
          ;[row] = (await tx
            .insert(relationshipTypes)
            .values({ organizationId: org, name: input.name, description: input.description ?? null, inverseName: input.inverse_name ?? null, hierarchical: input.hierarchical ?? false })
            .returning()) as [RelationshipTypeRow]
        } catch (err) {
          if (isUniqueViolation(err, 'relationship_types_name_key')) throw new ConflictError(`your organisation already has a relationship type named ${input.name}`, {})
          throw err
        }
        await events.appendEvent(tx, ctx, { type: 'relationship_type.created', entityType: 'relationship_type', entityId: row.id, data: { name: row.name, inverse_name: row.inverseName, hierarchical: row.hierarchical } })
        return toRelationshipTypeView(row)
      })
    },

    create: createRelationship,

    async get(ctx: RequestContext, id: string) {
      return toRelationshipView(await findRelationship(db, ctx, id), clock())
    },

    async list(ctx: RequestContext, q: RelationshipQuery) {
      const now = clock()
      const conds: (SQL | undefined)[] = [inOrg(relationships, ctx)]
      if (q.entity_id) {
        const direction = q.direction ?? 'both'
        if (direction === 'out') conds.push(eq(relationships.fromEntityId, q.entity_id))
        else if (direction === 'in') conds.push(eq(relationships.toEntityId, q.entity_id))
        else conds.push(sql`(${relationships.fromEntityId} = ${q.entity_id} or ${relationships.toEntityId} = ${q.entity_id})`)
      }
      if (q.type) conds.push(eq(relationships.relationshipType, q.type))
      const live = (at: Date) => sql`(${relationships.validFrom} <= ${at.toISOString()}::timestamptz and (${relationships.validTo} is null or ${relationships.validTo} > ${at.toISOString()}::timestamptz))`
      if (q.at) conds.push(live(timeOf(q.at, '/query/at')))
      if (q.active === 'true') conds.push(live(now))
      if (q.active === 'false') conds.push(sql`not ${live(now)}`)
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        conds.push(sql`(${relationships.createdAt}, ${relationships.id}) < (${ts}::timestamptz, ${id}::uuid)`)
      }
      const found = await db
        .select({ row: relationships, key: timestampKey(relationships.createdAt) })
        .from(relationships)
        .where(and(...conds))
        .orderBy(desc(relationships.createdAt), desc(relationships.id))
        .limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.row.id])
      return { data: page.data.map((r) => toRelationshipView(r.row, now)), next_cursor: page.next_cursor }
    },

    /** Properties (merge patch) and strength; the ends, type and validity are history and do not change. */
    async update(ctx: RequestContext, id: string, patch: RelationshipPatch) {
      return database.transaction(async (tx) => {
        const now = clock()
        const row = await findRelationship(tx, ctx, id, true)
        if (row.validTo && row.validTo <= now) throw new ConflictError(`relationship ${id} ended at ${row.validTo.toISOString()}; an ended relationship is history and does not change`, { valid_to: row.validTo.toISOString() })
        const changes: Partial<RelationshipRow> = {}
        const diff: Record<string, { from: unknown; to: unknown }> = {}
        if (patch.strength !== undefined) {
          if (!(patch.strength >= 0 && patch.strength <= 1)) throw new ValidationError('strength must be between 0 and 1', [{ path: '/body/strength', message: 'must be between 0 and 1' }])
          const strength = patch.strength.toFixed(2)
          if (Number(strength) !== Number(row.strength)) {
            changes.strength = strength
            diff.strength = { from: Number(row.strength), to: Number(strength) }
          }
        }
        if (patch.properties !== undefined) {
          const merged = mergePatch(row.properties, patch.properties) as Record<string, unknown>
          if (JSON.stringify(merged) !== JSON.stringify(row.properties)) {
            changes.properties = merged
            diff.properties = { from: row.properties, to: merged }
          }
        }
        if (Object.keys(changes).length === 0) return toRelationshipView(row, now)
        const [updated] = (await tx.update(relationships).set(changes).where(eq(relationships.id, row.id)).returning()) as [RelationshipRow]
        await events.appendEvent(tx, ctx, { type: 'relationship.updated', entityType: 'relationship', entityId: row.id, data: { relationship_type: row.relationshipType, from_entity_id: row.fromEntityId, to_entity_id: row.toEntityId, diff } })
        return toRelationshipView(updated, now)
      })
    },

    /** Ends a relationship (now, unless a time is given); it stays readable as of earlier times. */
    async end(ctx: RequestContext, id: string, input: { valid_to?: string | undefined } = {}) {
      return database.transaction(async (tx) => {
        const now = clock()
        const row = await findRelationship(tx, ctx, id, true)
        const validTo = input.valid_to !== undefined ? timeOf(input.valid_to, '/body/valid_to') : now
        if (row.validTo && row.validTo <= now) throw new ConflictError(`relationship ${id} already ended at ${row.validTo.toISOString()}`, { valid_to: row.validTo.toISOString() })
        if (validTo <= row.validFrom) throw new ValidationError(`the end must be after the relationship's start (${row.validFrom.toISOString()})`, [{ path: '/body/valid_to', message: `must be after valid_from (${row.validFrom.toISOString()})` }])
        if (row.validTo && validTo > row.validTo) throw new ValidationError(`the relationship already ends at ${row.validTo.toISOString()}; it can end earlier, not later`, [{ path: '/body/valid_to', message: `must not be after ${row.validTo.toISOString()}` }])
        const [updated] = (await tx.update(relationships).set({ validTo }).where(eq(relationships.id, row.id)).returning()) as [RelationshipRow]
        await events.appendEvent(tx, ctx, {
          type: 'relationship.ended',
          entityType: 'relationship',
          entityId: row.id,
          data: { relationship_type: row.relationshipType, from_entity_id: row.fromEntityId, to_entity_id: row.toEntityId, valid_from: row.validFrom.toISOString(), valid_to: validTo.toISOString() },
        })
        return toRelationshipView(updated, now)
      })
    },

  }
}

export type Relationships = ReturnType<typeof createRelationships>
