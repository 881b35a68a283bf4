// The two seed-shaped ingest routes. Facts (seed 000 MainClass): a value at date_time for an
// object type, instance and property, named or by id, with the seed's rules (the instance is of
// the fact's type, the property belongs to it) answered as 422s naming the field. Readings (seed
// 001 `sensor.reading`): what a device posts with its key, converted from the unit it reports in,
// its other fields (quality, batteryLevel...) kept with the point. Both find or make the series
// in the same transaction as the points, so a refused request leaves nothing behind.
import { sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { UUID } from '../../core/behaviours/columns.ts'
import { rows, type Database } from '../../core/db/database.ts'
import { ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import type { EntityRow, ObjectTypeRow } from '../assets/assets.schema.ts'
import type { Assets } from '../assets/index.ts'
import { convert } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import { LIMITS, parseTime } from './datapoints.service.ts'
import { factPage, factSeries, type FactFilter } from './factsQuery.ts'
import { createPointWriter, normaliseBatch, type NewPoint, type OnConflict } from './insertPoints.ts'
import type { ValueType } from './measurements.schema.ts'
import type { Alerts } from './alerts.service.ts'
import { seriesKeyOf, type Series } from './series.service.ts'

const EARLIEST = Date.UTC(1900, 0, 1)
const AHEAD_MS = 366 * 86_400_000

export interface FactItem {
  object_type: string
  object_instance: string
  object_type_property: string
  component?: string | null | undefined
  date_time: string | number
  value: string | number
  tag?: string | null | undefined
  description?: string | null | undefined
}

export interface Reading {
  sensorType: string
  value: number
  unit?: string | undefined
  timestamp?: string | number | undefined
  [extra: string]: unknown
}

type Property = Awaited<ReturnType<Assets['types']['listProperties']>>['data'][number]

/** A value as its series stores it: numbers from numbers or numeric strings (the seed stores strings), finite only. */
function valueFor(valueType: ValueType, v: string | number): { value: number | null; text: string | null } | string {
  if (valueType === 'text') return { value: null, text: String(v) }
  const n = typeof v === 'number' ? v : /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : Number.NaN
  if (!Number.isFinite(n)) return typeof v === 'number' || /nan|inf/i.test(v) ? 'must be a finite number' : `'${v}' is not a number, and this property is numeric`
  return { value: n, text: null }
}

const valueTypeOf = (p: Property): ValueType => (p.data_type === 'number' || p.data_type === 'integer' ? 'number' : 'text')

export function createFacts({ database, events, assets, series, units, alerts, clock }: { database: Database; events: EventLog; assets: Pick<Assets, 'entities' | 'types'>; series: Series; units: ReturnType<typeof createUnits>; alerts: Alerts; clock: () => Date }) {
  const writer = createPointWriter(database, clock)
  const db = database.db

  /** Writes resolved points and their series in one transaction, one event per series. */
  async function store(ctx: RequestContext, points: (NewPoint & { entity: EntityRow; type: ObjectTypeRow; prop: Property; componentId?: string | null })[], onConflict: OnConflict) {
    return database.transaction(async (tx) => {
      const made = await series.ensure(
        tx,
        ctx,
        points.map((p) => ({ entityId: p.entity.id, objectTypeId: p.type.id, propertyId: p.prop.id, componentId: p.componentId ?? null, valueType: valueTypeOf(p.prop), unitId: valueTypeOf(p.prop) === 'number' ? p.prop.unit_id : null })),
      )
      const batch = normaliseBatch(points.map((p) => ({ ...p, series: made.get(seriesKeyOf(p.entity.id, p.prop.id, p.componentId ?? null))!.key })))
      await writer.write(tx, batch, onConflict)
      await alerts.evaluate(tx, ctx, batch, new Map([...made.values()].map((s) => [s.key, s])))
      const counts = new Map<number, number>()
      for (const k of batch.series) counts.set(k, (counts.get(k) ?? 0) + 1)
      const byKey = new Map([...made.values()].map((s) => [s.key, s]))
      await events.appendEvents(tx, ctx, [...counts].map(([key, n]) => ({ type: 'datapoints.written', entityType: 'series', entityId: byKey.get(key)!.id, data: { points: n, on_conflict: onConflict } })))
      return { points: batch.series.length, series: counts.size }
    })
  }

  /**
   * Components named by facts: by id, or "data source/component" (a bare component name when
   * only one data source has one so named). Missing ones are absent from the map.
   */
  async function resolveComponents(ctx: RequestContext, refs: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    const wanted = [...new Set(refs)]
    if (wanted.length === 0) return out
    const found = await rows<{ ref: string; id: string; exact: boolean }>(
      db,
      sql`select r.ref, c.id, (c.id::text = lower(r.ref) or lower(d.name || '/' || c.name) = lower(r.ref)) as exact
          from jsonb_array_elements_text(${JSON.stringify(wanted)}::jsonb) as r(ref)
          join components c on c.organization_id = ${ctx.organizationId} and (c.id::text = lower(r.ref) or lower(c.name) = lower(r.ref) or lower(c.name) = lower(substr(r.ref, strpos(r.ref, '/') + 1)))
          join data_sources d on d.organization_id = c.organization_id and d.id = c.data_source_id`,
    )
    for (const ref of wanted) {
      const mine = found.filter((f) => f.ref === ref)
      const exact = mine.find((f) => f.exact)
      const bare = mine.filter((f) => !f.exact && !ref.includes('/'))
      if (exact) out.set(ref, exact.id)
      else if (bare.length === 1) out.set(ref, bare[0]!.id)
    }
    return out
  }

  return {
    /** Facts read back in the seed's shape, by the seed's access pattern (factsQuery.ts). */
    async list(ctx: RequestContext, q: FactFilter & { from?: string | undefined; to?: string | undefined; limit: number; cursor?: string | undefined }) {
      return factPage(db, await factSeries(db, ctx, q), q)
    },

    /** Seed-000 facts: up to the datapoints limit per request, all or nothing. */
    async ingestFacts(ctx: RequestContext, items: FactItem[], onConflict: OnConflict = 'overwrite') {
      if (items.length > LIMITS.pointsPerRequest) throw new ValidationError(`at most ${LIMITS.pointsPerRequest} facts per request`, [{ path: '/body/items', message: `has ${items.length}; the limit is ${LIMITS.pointsPerRequest}` }])
      const errors: FieldError[] = []
      const fail = (path: string, message: string) => {
        if (errors.length < 100) errors.push({ path, message })
      }
      // Types, their properties, and the instances named, each looked up once.
      const types = new Map<string, { type: ObjectTypeRow; props: Property[] } | null>()
      for (const ref of new Set(items.map((i) => i.object_type.toLowerCase()))) {
        try {
          const type = await assets.types.findType(db, ctx, ref)
          types.set(ref, { type, props: (await assets.types.listProperties(ctx, type.id)).data })
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err
          types.set(ref, null)
        }
      }
      const byId = new Map<string, { entity: EntityRow; type: ObjectTypeRow } | null>()
      for (const id of new Set(items.map((i) => i.object_instance).filter((r) => UUID.test(r)))) {
        byId.set(id, await assets.entities.findEntity(db, ctx, id).catch((err) => (err instanceof NotFoundError ? null : Promise.reject(err))))
      }
      const named = await assets.entities.findByNames(db, ctx, items.map((i) => i.object_instance).filter((r) => !UUID.test(r)))
      const components = await resolveComponents(ctx, items.map((i) => i.component).filter((c): c is string => !!c))
      const latest = clock().getTime() + AHEAD_MS
      const points: Parameters<typeof store>[1] = []
      items.forEach((item, i) => {
        const at = `/body/items/${i}`
        const t = types.get(item.object_type.toLowerCase())
        if (!t) return fail(`${at}/object_type`, `no object type is named ${item.object_type}`)
        const candidates = UUID.test(item.object_instance) ? [byId.get(item.object_instance)].filter((x): x is { entity: EntityRow; type: ObjectTypeRow } => !!x) : named.filter((n) => n.entity.name.toLowerCase() === item.object_instance.toLowerCase())
        const found = candidates.find((c) => c.type.id === t.type.id)
        if (!found) {
          return fail(`${at}/object_instance`, candidates.length ? `${item.object_instance} is a ${candidates[0]!.type.name}, not a ${t.type.name}: the instance's type must be the fact's type` : `no instance is named ${item.object_instance}`)
        }
        if (!found.entity.isActive) return fail(`${at}/object_instance`, `${found.entity.name} is deleted`)
        const prop = t.props.find((p) => p.id === item.object_type_property || p.name.toLowerCase() === item.object_type_property.toLowerCase())
        if (!prop) return fail(`${at}/object_type_property`, `${item.object_type_property} is not a property of ${t.type.name}`)
        if (!prop.time_varying) return fail(`${at}/object_type_property`, `${t.type.name}.${prop.name} is static: facts are values of time-varying properties`)
        const componentId = item.component ? components.get(item.component) : null
        if (componentId === undefined) return fail(`${at}/component`, `no component is ${item.component} (give its id, or "data source/component")`)
        const ts = parseTime(item.date_time)
        if (!Number.isFinite(ts) || ts < EARLIEST || ts > latest) return fail(`${at}/date_time`, Number.isFinite(ts) ? 'is outside 1900 to a year from now' : 'is not an ISO 8601 time with a zone or integer epoch milliseconds')
        const v = valueFor(valueTypeOf(prop), item.value)
        if (typeof v === 'string') return fail(`${at}/value`, v)
        points.push({ series: 0, ts, ...v, tag: item.tag ?? null, description: item.description ?? null, entity: found.entity, type: t.type, prop, componentId })
      })
      if (errors.length > 0) throw new ValidationError(`${errors.length >= 100 ? 'at least 100' : errors.length} problem${errors.length === 1 ? '' : 's'} in the facts; nothing was written`, errors)
      await writer.ensurePartitions(normaliseBatch(points))
      return store(ctx, points, onConflict)
    },

    /** Seed-001 readings from a device key: each names a time-varying property of the device's type by `sensorType`. */
    async ingestReadings(ctx: RequestContext, readings: Reading[], asList: boolean) {
      const deviceId = ctx.credential?.deviceId
      if (!deviceId) throw new ForbiddenError('readings are posted with a device key', { required: 'a device key' })
      if (readings.length > LIMITS.pointsPerRequest) throw new ValidationError(`at most ${LIMITS.pointsPerRequest} readings per request`, [{ path: '/body/readings', message: `has ${readings.length}` }])
      const { entity, type } = await assets.entities.findEntity(db, ctx, deviceId)
      if (!entity.isActive) throw new ForbiddenError(`device ${entity.name} is deleted`)
      const props = (await assets.types.listProperties(ctx, type.id)).data
      const errors: FieldError[] = []
      const now = clock().getTime()
      const points: Parameters<typeof store>[1] = []
      for (const [i, r] of readings.entries()) {
        const at = asList ? `/body/readings/${i}` : '/body'
        const { sensorType, value, unit, timestamp, ...extra } = r
        const prop = props.find((p) => p.name.toLowerCase() === sensorType.toLowerCase())
        if (!prop || !prop.time_varying || valueTypeOf(prop) !== 'number') {
          errors.push({ path: `${at}/sensorType`, message: `${type.name} has no time-varying numeric property ${sensorType}` })
          continue
        }
        const ts = timestamp === undefined ? now : parseTime(timestamp)
        if (!Number.isFinite(ts) || ts < EARLIEST || ts > now + AHEAD_MS) {
          errors.push({ path: `${at}/timestamp`, message: 'is not an ISO 8601 time with a zone or integer epoch milliseconds, within 1900 to a year from now' })
          continue
        }
        let v = value
        if (unit !== undefined && prop.unit_id) {
          try {
            const from = await units.resolveUnit(ctx, unit, `${at.slice(1)}/unit`)
            const to = await units.resolveUnit(ctx, prop.unit_id, 'unit')
            if (from.unitTypeId !== to.unitTypeId) {
              errors.push({ path: `${at}/unit`, message: `${from.symbol} is a ${from.unitTypeName} unit; ${prop.name} is measured in ${to.symbol} (${to.unitTypeName})` })
              continue
            }
            v = convert(value, from, to, `${at}/value`)
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err
            errors.push(...err.errors)
            continue
          }
        } else if (unit !== undefined) {
          errors.push({ path: `${at}/unit`, message: `${prop.name} has no unit` })
          continue
        }
        points.push({ series: 0, ts, value: v, text: null, extra: { ...(unit !== undefined ? { unit } : {}), ...extra }, entity, type, prop })
      }
      if (errors.length > 0) throw new ValidationError(`${errors.length} problem${errors.length === 1 ? '' : 's'} in the readings; nothing was written`, errors)
      await writer.ensurePartitions(normaliseBatch(points))
      return store(ctx, points, 'overwrite')
    },
  }
}

export type Facts = ReturnType<typeof createFacts>
