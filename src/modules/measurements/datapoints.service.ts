// Datapoints: the compact columnar ingest (`{series_id, timestamps, values}`, up to 100,000
// points a request, all or nothing) and the two reads every client starts with: raw points in a
// range, paged either way, and the latest point of each series by timestamp (not arrival).
import { sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Database } from '../../core/db/database.ts'
import { BadRequestError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, encodeCursor } from '../../core/http/pagination.ts'
import { convertValues } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import { createPointWriter, normaliseBatch, type OnConflict } from './insertPoints.ts'
import type { SeriesRow } from './measurements.schema.ts'
import type { Alerts } from './alerts.service.ts'
import type { Series } from './series.service.ts'

/** Published per-request limits (also in the OpenAPI descriptions). */
export const LIMITS = { pointsPerRequest: 100_000, pointsPerPage: 10_000, seriesPerLatest: 1_000 } as const

/** Timestamps are accepted from 1900 to a year ahead (partitions are made for each month written). */
const EARLIEST = Date.UTC(1900, 0, 1)
const AHEAD_MS = 366 * 86_400_000

export interface DatapointItem {
  series_id: string
  timestamps: (string | number)[]
  values: (number | string)[]
  /** The unit `values` are in (number series); converted to the series' unit. */
  unit?: string | undefined
}

/** Epoch milliseconds of an ISO 8601 time (with a zone) or of a number of epoch milliseconds; NaN if neither. */
export function parseTime(t: string | number): number {
  if (typeof t === 'number') return Number.isInteger(t) ? t : Number.NaN
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) return Number.NaN
  return Date.parse(t)
}

/** A time bound from a query string as ISO 8601 UTC, or a 422 naming the field; undefined when absent. */
export function queryTime(v: string | undefined, path: string): string | undefined {
  if (v === undefined) return undefined
  const t = parseTime(v)
  if (!Number.isFinite(t)) throw new ValidationError(`${path.split('/').pop()} is not an ISO 8601 time`, [{ path, message: 'is not an ISO 8601 time with a zone' }])
  return new Date(t).toISOString()
}

export function createDatapoints({ database, events, series, units, alerts, clock }: { database: Database; events: EventLog; series: Series; units: ReturnType<typeof createUnits>; alerts: Alerts; clock: () => Date }) {
  const writer = createPointWriter(database, clock)
  const db = database.db

  return {
    async ingest(ctx: RequestContext, items: DatapointItem[], onConflict: OnConflict = 'overwrite') {
      const total = items.reduce((n, i) => n + i.timestamps.length, 0)
      if (total > LIMITS.pointsPerRequest) throw new ValidationError(`at most ${LIMITS.pointsPerRequest} points per request (this one has ${total}); send the rest in another, or stream NDJSON`, [{ path: '/body/items', message: `has ${total} points; the limit is ${LIMITS.pointsPerRequest}` }])
      const found = await series.resolve(db, ctx, items.map((i) => i.series_id))
      const errors: FieldError[] = []
      const latest = clock().getTime() + AHEAD_MS
      const points: { series: number; ts: number; value: number | null; text: string | null }[] = []
      for (const [i, item] of items.entries()) {
        const at = `/body/items/${i}`
        const s = found.get(item.series_id)
        if (!s) {
          errors.push({ path: `${at}/series_id`, message: 'is not a series of this organisation' })
          continue
        }
        if (item.timestamps.length !== item.values.length) {
          errors.push({ path: `${at}/values`, message: `has ${item.values.length} values for ${item.timestamps.length} timestamps` })
          continue
        }
        let values: (number | string)[] = item.values
        if (item.unit !== undefined) {
          if (s.valueType !== 'number' || !s.unitId) {
            errors.push({ path: `${at}/unit`, message: s.valueType === 'number' ? 'this series has no unit' : 'a text series has no unit' })
            continue
          }
          if (values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
            try {
              const from = await units.resolveUnit(ctx, item.unit, `body/items/${i}/unit`)
              const to = await series.unitOf(ctx, s)
              if (from.unitTypeId !== to!.unitTypeId) {
                errors.push({ path: `${at}/unit`, message: `${from.symbol} is a ${from.unitTypeName} unit; this series is in ${to!.symbol}` })
                continue
              }
              values = Array.from(convertValues(Float64Array.from(values as number[]), from, to!))
            } catch (err) {
              if (!(err instanceof ValidationError)) throw err
              errors.push(...err.errors)
              continue
            }
          }
        }
        for (let j = 0; j < item.timestamps.length; j++) {
          const ts = parseTime(item.timestamps[j]!)
          if (!Number.isFinite(ts) || ts < EARLIEST || ts > latest) {
            if (errors.length < 100) errors.push({ path: `${at}/timestamps/${j}`, message: Number.isFinite(ts) ? 'is outside 1900 to a year from now' : 'is not an ISO 8601 time with a zone or integer epoch milliseconds' })
            continue
          }
          const v = values[j]!
          if (s.valueType === 'number') {
            if (typeof v !== 'number' || !Number.isFinite(v)) {
              if (errors.length < 100) errors.push({ path: `${at}/values/${j}`, message: typeof v === 'number' ? 'must be a finite number' : 'must be a number: this is a number series' })
              continue
            }
            points.push({ series: s.key, ts, value: v, text: null })
          } else {
            if (typeof v !== 'string') {
              if (errors.length < 100) errors.push({ path: `${at}/values/${j}`, message: 'must be a string: this is a text series' })
              continue
            }
            points.push({ series: s.key, ts, value: null, text: v })
          }
        }
      }
      if (errors.length > 0) throw new ValidationError(`${errors.length >= 100 ? 'at least 100' : errors.length} problem${errors.length === 1 ? '' : 's'} in the points; nothing was written`, errors)
      const batch = normaliseBatch(points)
      await writer.ensurePartitions(batch)
      const bySeries = new Map<number, SeriesRow>([...found.values()].map((s) => [s.key, s]))
      const written = await database.transaction(async (tx) => {
        const n = await writer.write(tx, batch, onConflict)
        await alerts.evaluate(tx, ctx, batch, bySeries)
        // One event per request and series: a point is not an entity, and an event per point would halve ingest.
        const spans = new Map<number, { n: number; from: number; to: number }>()
        for (let k = 0; k < batch.series.length; k++) {
          const span = spans.get(batch.series[k]!) ?? { n: 0, from: Infinity, to: -Infinity }
          span.n++
          span.from = Math.min(span.from, batch.ts[k]!)
          span.to = Math.max(span.to, batch.ts[k]!)
          spans.set(batch.series[k]!, span)
        }
        await events.appendEvents(
          tx,
          ctx,
          [...spans].map(([key, span]) => ({ type: 'datapoints.written', entityType: 'series', entityId: bySeries.get(key)!.id, data: { points: span.n, from: new Date(span.from).toISOString(), to: new Date(span.to).toISOString(), on_conflict: onConflict } })),
        )
        return n
      })
      return { points: written, series: new Set(batch.series).size }
    },

    /**
     * NDJSON: one item (`{series_id, timestamps, values}`) or one point (`{series_id, timestamp,
     * value}`) a line, committed every `chunk` points as its own all-or-nothing transaction;
     * `onCommit` hears the running total after each commit. A bad line stops the stream there:
     * what was committed before it stays (it was acknowledged), nothing after it is written.
     */
    async ingestStream(ctx: RequestContext, lines: AsyncIterable<string>, onCommit: (committed: number) => void, chunk = 10_000) {
      let items: DatapointItem[] = []
      let buffered = 0
      let committed = 0
      let lineNo = 0
      const flush = async () => {
        if (buffered === 0) return
        const { points } = await this.ingest(ctx, items).catch((err) => {
          if (err instanceof ValidationError) throw new ValidationError(`${err.message} (in the batch ending at line ${lineNo})`, err.errors)
          throw err
        })
        committed += points
        items = []
        buffered = 0
        onCommit(committed)
      }
      for await (const raw of lines) {
        lineNo++
        const line = raw.trim()
        if (line === '') continue
        let parsed: unknown
        try {
          parsed = JSON.parse(line)
        } catch {
          throw new ValidationError(`line ${lineNo} is not JSON`, [{ path: `/lines/${lineNo}`, message: 'is not JSON' }])
        }
        const o = parsed as Partial<DatapointItem> & { timestamp?: string | number; value?: number | string }
        if (typeof o !== 'object' || o === null || typeof o.series_id !== 'string') throw new ValidationError(`line ${lineNo} names no series_id`, [{ path: `/lines/${lineNo}/series_id`, message: 'is required' }])
        const item: DatapointItem = Array.isArray(o.timestamps) && Array.isArray(o.values) ? { series_id: o.series_id, timestamps: o.timestamps, values: o.values, ...(o.unit ? { unit: o.unit } : {}) } : { series_id: o.series_id, timestamps: [o.timestamp as string], values: [o.value as number], ...(o.unit ? { unit: o.unit } : {}) }
        if (item.timestamps.length > LIMITS.pointsPerRequest) throw new ValidationError(`line ${lineNo} has more than ${LIMITS.pointsPerRequest} points`, [{ path: `/lines/${lineNo}/timestamps`, message: 'is too long' }])
        items.push(item)
        buffered += item.timestamps.length
        if (buffered >= chunk) await flush()
      }
      await flush()
      return { committed, lines: lineNo }
    },

    /** Points of one series in [from, to), oldest first (or newest first with order=desc), paged by time. */
    async raw(ctx: RequestContext, seriesId: string, q: { from?: string | undefined; to?: string | undefined; limit?: number | undefined; cursor?: string | undefined; order?: 'asc' | 'desc' | undefined }) {
      const s = (await series.resolve(db, ctx, [seriesId])).get(seriesId)
      if (!s) throw new NotFoundError(`series ${seriesId} not found`)
      const limit = Math.min(q.limit ?? 1000, LIMITS.pointsPerPage)
      const time = (v: string | undefined, path: string) => {
        if (v === undefined) return undefined
        const t = parseTime(v)
        if (!Number.isFinite(t)) throw new BadRequestError(`${path.split('/').pop()} is not an ISO 8601 time`, [{ path, message: 'is not an ISO 8601 time with a zone' }])
        return new Date(t).toISOString()
      }
      const from = time(q.from, '/query/from')
      const to = time(q.to, '/query/to')
      const desc = q.order === 'desc'
      const after = q.cursor ? (decodeCursor(q.cursor, ['timestamp'])[0] as string) : undefined
      const found = await rows<{ ts: Date | string; value: number | null; value_text: string | null; tag: string | null; description: string | null; extra: Record<string, unknown> | null; key: string }>(
        db,
        sql`select ts, value, value_text, tag, description, extra, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as key from points
            where series_id = ${s.key}
              ${from ? sql`and ts >= ${from}::timestamptz` : sql``}
              ${to ? sql`and ts < ${to}::timestamptz` : sql``}
              ${after ? (desc ? sql`and ts < ${after}::timestamptz` : sql`and ts > ${after}::timestamptz`) : sql``}
            order by ts ${desc ? sql`desc` : sql`asc`} limit ${limit + 1}`,
      )
      const page = found.slice(0, limit)
      return {
        series_id: s.id,
        unit: (await series.unitOf(ctx, s))?.symbol ?? null,
        data: page.map((p) => ({ timestamp: new Date(p.ts).toISOString(), value: s.valueType === 'number' ? p.value : p.value_text, ...(p.tag !== null ? { tag: p.tag } : {}), ...(p.description !== null ? { description: p.description } : {}), ...(p.extra !== null ? { extra: p.extra } : {}) })),
        next_cursor: found.length > limit ? encodeCursor([page[page.length - 1]!.key]) : null,
      }
    },

    /** Deletes the points of a series in [from, to) (either end open); one event with the count. */
    async deleteRange(ctx: RequestContext, seriesId: string, q: { from?: string | undefined; to?: string | undefined }) {
      const s = (await series.resolve(db, ctx, [seriesId])).get(seriesId)
      if (!s) throw new NotFoundError(`series ${seriesId} not found`)
      const from = queryTime(q.from, '/query/from')
      const to = queryTime(q.to, '/query/to')
      if (from && to && to <= from) throw new ValidationError('to must be after from', [{ path: '/query/to', message: 'must be after from' }])
      return database.transaction(async (tx) => {
        const [r] = await rows<{ n: number }>(
          tx,
          // The hours that lost points are marked stale in the same statement, so their rollups are recomputed.
          sql`with d as (delete from points where series_id = ${s.key} ${from ? sql`and ts >= ${from}::timestamptz` : sql``} ${to ? sql`and ts < ${to}::timestamptz` : sql``} returning date_trunc('hour', ts, 'UTC') as hour),
                   m as (insert into rollup_dirty (series_id, first_hour, last_hour) select ${s.key}::bigint, min(hour), max(hour) from d having count(*) > 0)
              select count(*)::int as n from d`,
        )
        await events.appendEvent(tx, ctx, { type: 'datapoints.deleted', entityType: 'series', entityId: s.id, data: { points: r!.n, from: from ?? null, to: to ?? null } })
        return { deleted: r!.n }
      })
    },

    /** The newest point of each series by its timestamp (a late point for an older time does not replace it). */
    async latest(ctx: RequestContext, ids: string[]) {
      if (ids.length > LIMITS.seriesPerLatest) throw new ValidationError(`at most ${LIMITS.seriesPerLatest} series per request`, [{ path: '/body/series_ids', message: `has ${ids.length}; the limit is ${LIMITS.seriesPerLatest}` }])
      const found = await series.resolve(db, ctx, ids)
      const missing = ids.findIndex((id) => !found.has(id))
      if (missing >= 0) throw new ValidationError(`series ${ids[missing]} is not a series of this organisation`, [{ path: `/body/series_ids/${missing}`, message: 'is not a series of this organisation' }])
      const list = [...found.values()]
      const latest = list.length
        ? await rows<{ key: string | number; ts: Date | string; value: number | null; value_text: string | null }>(
            db,
            sql`select s.key, l.ts, l.value, l.value_text from unnest(${`{${list.map((s) => s.key).join(',')}}`}::bigint[]) as s(key)
                cross join lateral (select ts, value, value_text from points where series_id = s.key order by ts desc limit 1) l`,
          )
        : []
      const byKey = new Map(latest.map((l) => [Number(l.key), l]))
      return {
        data: await Promise.all(
          ids.map(async (id) => {
            const s = found.get(id)!
            const l = byKey.get(s.key)
            return { series_id: id, unit: (await series.unitOf(ctx, s))?.symbol ?? null, timestamp: l ? new Date(l.ts).toISOString() : null, value: l ? (s.valueType === 'number' ? l.value : l.value_text) : null }
          }),
        ),
      }
    },
  }
}

export type Datapoints = ReturnType<typeof createDatapoints>
