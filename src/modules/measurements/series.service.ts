// Series: (instance, property, component or none), made explicitly or found on first write. A
// series is of a time-varying property of its instance's type (the seed's rules; the database
// holds them too); number and integer properties make number series in the property's unit, the
// other data types text series.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import type { Assets } from '../assets/index.ts'
import type { createUnits } from '../units/units.service.ts'
import { series, type SeriesRow, type ValueType } from './measurements.schema.ts'


export interface NewSeries {
  entity_id: string
  /** The property by id or name. */
  property: string
  component_id?: string | null | undefined
}

export interface SeriesQuery {
  limit: number
  cursor?: string | undefined
  entity_id?: string | undefined
  object_type?: string | undefined
  property?: string | undefined
  component_id?: string | undefined
}

export const toSeriesView = (s: SeriesRow, names: { entity: string; type: string; property: string; unit: string | null }) => ({
  id: s.id,
  organization_id: s.organizationId,
  entity_id: s.entityId,
  entity: names.entity,
  object_type_id: s.objectTypeId,
  object_type: names.type,
  property_id: s.propertyId,
  property: names.property,
  component_id: s.componentId,
  value_type: s.valueType,
  unit_id: s.unitId,
  unit: names.unit,
  created_by: s.createdBy,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
})
export type SeriesView = ReturnType<typeof toSeriesView>

const NIL = '00000000-0000-0000-0000-000000000000'

/** How `ensure` keys the series it returns. */
export const seriesKeyOf = (entityId: string, propertyId: string, componentId: string | null) => `${entityId}:${propertyId}:${componentId ?? ''}`

export function createSeries({ database, events, assets, units }: { database: Database; events: EventLog; assets: Pick<Assets, 'entities' | 'types'>; units: ReturnType<typeof createUnits> }) {
  const db = database.db

  /** Series rows with the names a view shows, in one query. */
  async function withNames(exec: Executor, ctx: RequestContext, where: SQL[], order?: { limit: number }) {
    const found = await exec
      .select({
        s: series,
        entity: sql<string>`e.name`,
        type: sql<string>`t.name`,
        property: sql<string>`p.name`,
        unit: sql<string | null>`u.symbol`,
        key: timestampKey(series.createdAt),
      })
      .from(series)
      .innerJoin(sql`entities e`, sql`e.id = ${series.entityId}`)
      .innerJoin(sql`object_types t`, sql`t.id = ${series.objectTypeId}`)
      .innerJoin(sql`object_type_properties p`, sql`p.id = ${series.propertyId}`)
      .leftJoin(sql`unit_definitions u`, sql`u.id = ${series.unitId}`)
      .where(and(inOrg(series, ctx), ...where))
      .orderBy(desc(series.createdAt), desc(series.id))
      .limit(order ? order.limit + 1 : 100_000)
    return found
  }
  const view = (r: Awaited<ReturnType<typeof withNames>>[number]) => toSeriesView(r.s, { entity: r.entity, type: r.type, property: r.property, unit: r.unit })

  async function get(ctx: RequestContext, id: string) {
    if (!UUID.test(id)) throw new NotFoundError(`series ${id} not found`)
    const [found] = await withNames(db, ctx, [eq(series.id, id)])
    if (!found) throw new NotFoundError(`series ${id} not found`)
    return view(found)
  }

  return {
    get,

    /** Series by public id, in the caller's organisation: what ingest and queries address. */
    async resolve(exec: Executor, ctx: RequestContext, ids: string[]): Promise<Map<string, SeriesRow>> {
      const valid = [...new Set(ids.filter((id) => UUID.test(id)))]
      if (valid.length === 0) return new Map()
      const found = await exec.select().from(series).where(and(inOrg(series, ctx), sql`${series.id} = any(${sql.param(valid)}::uuid[])`))
      return new Map(found.map((s) => [s.id, s]))
    },

    /** Finds or makes the series; `created` says which. 422 naming the field for the seed's rules. */
    async create(ctx: RequestContext, input: NewSeries) {
      const { entity, type } = await assets.entities.findEntity(db, ctx, input.entity_id).catch((err) => {
        if (err instanceof NotFoundError) throw new ValidationError(`no entity ${input.entity_id} exists in this organisation`, [{ path: '/body/entity_id', message: 'is not an entity of this organisation' }])
        throw err
      })
      if (!entity.isActive) throw new ValidationError(`entity ${entity.name} is deleted; restore it first`, [{ path: '/body/entity_id', message: 'is a deleted entity' }])
      const props = (await assets.types.listProperties(ctx, type.id)).data
      const prop = props.find((p) => p.id === input.property || p.name.toLowerCase() === input.property.toLowerCase())
      if (!prop) throw new ValidationError(`${type.name} has no property ${input.property}`, [{ path: '/body/property', message: `is not a property of ${type.name} (the type of ${entity.name})` }])
      if (!prop.time_varying) throw new ValidationError(`${type.name}.${prop.name} is a static property; series are of time-varying ones`, [{ path: '/body/property', message: 'is not time-varying' }])
      const valueType: ValueType = prop.data_type === 'number' || prop.data_type === 'integer' ? 'number' : 'text'
      const componentId = input.component_id ?? null
      const made = await database.transaction(async (tx) => {
        try {
          const [row] = await tx
            .insert(series)
            .values({ organizationId: orgOf(ctx), objectTypeId: type.id, entityId: entity.id, propertyId: prop.id, componentId, valueType, unitId: valueType === 'number' ? prop.unit_id : null, createdBy: actorLabel(ctx.actor) })
            .onConflictDoNothing({ target: [series.organizationId, series.entityId, series.propertyId, series.componentId] })
            .returning()
          if (!row) return null
          await events.appendEvent(tx, ctx, { type: 'series.created', entityType: 'series', entityId: row.id, data: { entity_id: entity.id, entity: entity.name, property: prop.name, component_id: componentId, value_type: valueType, unit: prop.unit } })
          return row
        } catch (err) {
          if (isUniqueViolation(err, 'series_natural_key')) return null
          throw err
        }
      })
      if (made) return { created: true, series: await get(ctx, made.id) }
      const [existing] = await withNames(db, ctx, [eq(series.entityId, entity.id), eq(series.propertyId, prop.id), componentId ? eq(series.componentId, componentId) : sql`${series.componentId} is null`])
      return { created: false, series: view(existing!) }
    },

    async list(ctx: RequestContext, q: SeriesQuery) {
      const where: SQL[] = []
      if (q.entity_id) where.push(UUID.test(q.entity_id) ? eq(series.entityId, q.entity_id) : sql`false`)
      if (q.object_type) where.push(sql`lower(t.name) = lower(${q.object_type})`)
      if (q.property) where.push(UUID.test(q.property) ? eq(series.propertyId, q.property) : sql`lower(p.name) = lower(${q.property})`)
      if (q.component_id) where.push(UUID.test(q.component_id) ? eq(series.componentId, q.component_id) : sql`false`)
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        where.push(sql`(${series.createdAt}, ${series.id}) < (${ts}::timestamptz, ${id}::uuid)`)
      }
      const found = await withNames(db, ctx, where, { limit: q.limit })
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.s.id])
      return { data: page.data.map(view), next_cursor: page.next_cursor }
    },

    /**
     * The series of (entity, property, component or none), made where missing, inside the
     * caller's transaction (so a refused request leaves no series behind). Keyed by `seriesKeyOf`.
     */
    async ensure(tx: Executor, ctx: RequestContext, wanted: { entityId: string; objectTypeId: string; propertyId: string; componentId?: string | null; valueType: ValueType; unitId: string | null }[]): Promise<Map<string, SeriesRow>> {
      const unique = [...new Map(wanted.map((w) => [seriesKeyOf(w.entityId, w.propertyId, w.componentId ?? null), w])).values()]
      if (unique.length === 0) return new Map()
      const made = await tx
        .insert(series)
        .values(unique.map((w) => ({ organizationId: orgOf(ctx), objectTypeId: w.objectTypeId, entityId: w.entityId, propertyId: w.propertyId, componentId: w.componentId ?? null, valueType: w.valueType, unitId: w.unitId, createdBy: actorLabel(ctx.actor) })))
        .onConflictDoNothing({ target: [series.organizationId, series.entityId, series.propertyId, series.componentId] })
        .returning()
      await events.appendEvents(tx, ctx, made.map((row) => ({ type: 'series.created', entityType: 'series', entityId: row.id, data: { entity_id: row.entityId, property_id: row.propertyId, component_id: row.componentId, value_type: row.valueType } })))
      const list = (xs: string[]) => `{${xs.join(',')}}`
      const all = await tx
        .select()
        .from(series)
        .where(
          and(
            inOrg(series, ctx),
            sql`(${series.entityId}, ${series.propertyId}, coalesce(${series.componentId}, ${NIL}::uuid)) in (select * from unnest(${list(unique.map((w) => w.entityId))}::uuid[], ${list(unique.map((w) => w.propertyId))}::uuid[], ${list(unique.map((w) => w.componentId ?? NIL))}::uuid[]))`,
          ),
        )
      return new Map(all.map((r) => [seriesKeyOf(r.entityId, r.propertyId, r.componentId), r]))
    },

    /** The unit of a number series as a convertible unit, for conversions on the way in and out. */
    async unitOf(ctx: RequestContext, s: SeriesRow) {
      return s.unitId ? units.resolveUnit(ctx, s.unitId, 'unit') : null
    },
  }
}

export type Series = ReturnType<typeof createSeries>
