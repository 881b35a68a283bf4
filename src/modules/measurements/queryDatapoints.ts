// POST /datapoints/query: several series at once, raw or aggregated per interval, in the unit,
// unit system or preference the caller asks for. Buckets of seconds, minutes and hours are exact
// durations (date_bin) anchored at local midnight of the query's first day, so they never merge
// or split at a DST change; days, weeks, months and years are calendar-aware date_trunc in the
// time zone (a DST day has 23 or 25 hours).
// Conversion happens in SQL before aggregating, so sums, spreads and percentiles are of the
// converted values (exact also for non-linear units). Rollups (rollupQuery.ts) serve the aligned
// cases faster; this path is always correct and is the reference they are tested against.
import { sql, type SQL } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Database } from '../../core/db/database.ts'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import type { Assets } from '../assets/index.ts'
import { organizationSettings } from '../identity/index.ts'
import type { ConvertibleUnit, UnitPreferences } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import { parseTime } from './datapoints.service.ts'
import type { SeriesRow } from './measurements.schema.ts'
import { affine, combine, grainOf, keyList, minuteRollupsCover, partials, ROLLUP_AGGREGATES, type Grain } from './rollupQuery.ts'
import type { Series } from './series.service.ts'

export const AGGREGATES = ['count', 'avg', 'min', 'max', 'sum', 'stddev', 'first', 'last', 'p50', 'p90', 'p95', 'p99'] as const
export type Aggregate = (typeof AGGREGATES)[number]
const TEXT_AGGREGATES: Aggregate[] = ['count', 'first', 'last']

/** Published limits of one query. */
export const QUERY_LIMITS = { series: 100, bucketsPerSeries: 10_000, pointsPerSeries: 10_000 } as const

export interface DatapointQuery {
  series_ids: string[]
  start: string
  end: string
  /** `30s`, `15m`, `1h`, `6h`, `1d`, `1w`, `1mo`, `1y`; absent: raw points. */
  granularity?: string | undefined
  aggregates?: Aggregate[] | undefined
  time_zone?: string | undefined
  unit?: string | undefined
  unit_system?: string | undefined
  limit?: number | undefined
  /** Values at each step of the granularity instead of aggregates: linear between neighbours, or the last value (step). */
  interpolation?: 'linear' | 'step' | undefined
  /** false: never use rollups. */
  rollups?: boolean | undefined
}

const FIXED: Record<string, string> = { s: 'seconds', m: 'minutes', h: 'hours' }
const CALENDAR: Record<string, string> = { d: 'day', w: 'week', mo: 'month', y: 'year' }

/**
 * The bucket expression for a granularity, or a 422 naming it. Fixed steps are anchored at
 * `origin`, local midnight of the first day, passed as a constant: `date_trunc(.., tz)` inside
 * the expression ran once per row (stable, not folded) and made a 1M-point query 2.75x slower.
 */
function bucketOf(granularity: string, tz: string, origin: string): SQL {
  const m = /^(\d{1,4})(s|m|h|d|w|mo|y)$/.exec(granularity)
  if (!m) throw new ValidationError(`granularity ${granularity} is not one of <n>s, <n>m, <n>h, 1d, 1w, 1mo, 1y`, [{ path: '/body/granularity', message: 'must be <n>s, <n>m, <n>h, 1d, 1w, 1mo or 1y' }])
  const n = Number(m[1])
  const unit = m[2]!
  if (n < 1) throw new ValidationError('granularity must be at least 1', [{ path: '/body/granularity', message: 'must be at least 1' }])
  if (FIXED[unit]) return sql`date_bin(${`${n} ${FIXED[unit]}`}::interval, ts, ${origin}::timestamptz)`
  if (n !== 1) throw new ValidationError(`calendar granularities take 1 (1d, 1w, 1mo, 1y), not ${n}`, [{ path: '/body/granularity', message: 'calendar units take 1 only' }])
  return sql`date_trunc(${CALENDAR[unit]!}, ts, ${tz})`
}

/** The grid of an interpolation: every step from the first bucket at or before start, up to end (exclusive). */
function gridOf(granularity: string, tz: string, start: string, end: string): SQL {
  const m = /^(\d{1,4})(s|m|h|d|w|mo|y)$/.exec(granularity)!
  const n = Number(m[1])
  const unit = m[2]!
  if (FIXED[unit]) {
    const step = sql`${`${n} ${FIXED[unit]}`}::interval`
    return sql`select g from generate_series(date_bin(${step}, ${start}::timestamptz, date_trunc('day', ${start}::timestamptz, ${tz})), ${end}::timestamptz - interval '1 microsecond', ${step}) g where g >= ${start}::timestamptz`
  }
  // Calendar steps walk local time, so a month is a month and a day may have 23 or 25 hours.
  return sql`select (l at time zone ${tz}) as g from generate_series(date_trunc(${CALENDAR[unit]!}, ${start}::timestamptz, ${tz}) at time zone ${tz}, ${end}::timestamptz at time zone ${tz}, ${`1 ${CALENDAR[unit]!}`}::interval) l where (l at time zone ${tz}) >= ${start}::timestamptz and (l at time zone ${tz}) < ${end}::timestamptz`
}

/** SQL converting `value` from one unit to another, the way units.convert.ts does it. */
function conversion(from: ConvertibleUnit | null, to: ConvertibleUnit | null): SQL {
  if (!from || !to || from.id === to.id) return sql`value`
  const base = from.scale !== null && from.offset !== null ? sql`((value + ${from.offset}::float8) * ${from.scale}::float8)` : sql`((${from.a}::float8 * value + ${from.b}::float8) / (${from.c}::float8 * value + ${from.d}::float8))`
  return to.scale !== null && to.offset !== null ? sql`(${base} / ${to.scale}::float8 - ${to.offset}::float8)` : sql`((${to.d}::float8 * ${base} - ${to.b}::float8) / (${to.a}::float8 - ${to.c}::float8 * ${base}))`
}

/** One series of an answer: its points (raw, interpolated) or its buckets. */
export interface QueryAnswerItem {
  series_id: string
  unit: string | null
  source?: Grain['name'] | 'raw'
  datapoints?: { timestamp: string; value: string | number | null }[]
  buckets?: Record<string, string | number | null>[]
  next_start: string | null
}

/** A series whose buckets the request asks for, and the answer slot they go in. */
interface Aggregated {
  s: SeriesRow
  from: ConvertibleUnit | null
  to: ConvertibleUnit | null
  /** SQL of its value in the unit asked for. */
  value: SQL
  slot: { series_id: string; unit: string | null; source: Grain['name'] | 'raw'; buckets: Record<string, string | number | null>[]; next_start: string | null }
}

interface AggregatePlan {
  bucket: SQL
  /** Epoch ms of the fixed buckets' origin: local midnight of the first day. */
  origin: number
  /** No series can have more buckets than the limit: skip the per-series cut (a sort and a window). */
  uncut: boolean
  granularity: string
  tz: string
  start: number
  end: number
  aggregates: Aggregate[]
  limit: number
  rollups: boolean
}

/** At most how many buckets one series can have in [start, end): then no per-series cut is needed. */
function maxBuckets(granularity: string, origin: number, start: number, end: number): number {
  const m = /^(\d{1,4})(s|m|h|d|w|mo|y)$/.exec(granularity)!
  const n = Number(m[1])
  const shortest: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 23 * 3_600_000, w: 7 * 86_400_000 - 3_600_000, mo: 28 * 86_400_000 - 3_600_000, y: 365 * 86_400_000 - 3_600_000 }
  return Math.floor((end - Math.min(origin, start)) / (n * shortest[m[2]!]!)) + 2
}

/** A bucket's start as ISO 8601 text, made by the database: parsing 22,000 timestamps into Dates and back was a tenth of a query's time. */
const ISO_B = sql`to_char(c.b at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

function timeOf(value: string, path: string, errors: FieldError[]): number {
  const t = parseTime(value)
  if (!Number.isFinite(t)) errors.push({ path, message: 'is not an ISO 8601 time with a zone' })
  return t
}

export function createDatapointQueries({ database, series, assets, units, preferences }: { database: Database; series: Series; assets: Pick<Assets, 'types'>; units: ReturnType<typeof createUnits>; preferences: Pick<UnitPreferences, 'presentValues'> }) {
  const db = database.db

  /** The unit a series' values are returned in: `unit`, else the system's or the caller's preferred default for its category. */
  async function targetUnit(ctx: RequestContext, s: SeriesRow, q: DatapointQuery): Promise<{ from: ConvertibleUnit | null; to: ConvertibleUnit | null }> {
    if (s.valueType !== 'number' || !s.unitId) {
      // `unit` is for the number series of a query; text series in the same query ignore it.
      if (q.unit && s.valueType === 'number') throw new ValidationError(`series ${s.id} has no unit to convert from`, [{ path: '/body/unit', message: `series ${s.id} has no unit` }])
      return { from: null, to: null }
    }
    const from = await units.resolveUnit(ctx, s.unitId, 'unit')
    if (q.unit) {
      const to = await units.resolveUnit(ctx, q.unit, 'body/unit')
      if (to.unitTypeId !== from.unitTypeId) throw new ValidationError(`${to.symbol} is a ${to.unitTypeName} unit; series ${s.id} is in ${from.symbol} (${from.unitTypeName})`, [{ path: '/body/unit', message: `is not a unit of ${from.unitTypeName}` }])
      return { from, to }
    }
    const property = await assets.types.getProperty(ctx, s.objectTypeId, s.propertyId)
    const shown = await preferences.presentValues(ctx, { unit: s.unitId, values: [], as: { ...(q.unit_system ? { unit_system: q.unit_system } : {}), ...(property.unit_category_id ? { category: property.unit_category_id } : {}) } }).catch((err) => {
      // The system has no default for this category: the values stay in the series' unit.
      if (err instanceof ValidationError && q.unit_system && !/no unit system is named/.test(err.message)) return null
      throw err
    })
    return { from, to: shown ? await units.resolveUnit(ctx, shown.unit.id, 'unit') : from }
  }

  /**
   * Fills the buckets of every aggregated series: those rollups can answer in one statement,
   * the rest in one statement per conversion (usually one).
   */
  async function aggregate(list: Aggregated[], p: AggregatePlan) {
    const iso = (t: number) => new Date(t).toISOString()
    let grain = p.rollups && p.aggregates.every((a) => ROLLUP_AGGREGATES.has(a)) ? await grainOf(db, p.granularity, p.tz, iso(p.start), iso(p.end), p.origin) : null
    // Minute rollups keep no first and last values (rollups.ts).
    if (grain?.name === 'rollups_1m' && (p.aggregates.includes('first') || p.aggregates.includes('last'))) grain = null
    const inner = grain ? { a: Math.ceil(p.start / grain.ms) * grain.ms, b: Math.floor(p.end / grain.ms) * grain.ms } : null
    let fromRollups: Aggregated[] = []
    if (grain && inner && inner.a < inner.b) {
      fromRollups = list.filter((x) => affine(x.from, x.to) !== null)
      if (grain.name === 'rollups_1m' && fromRollups.length > 0) {
        const covered = await minuteRollupsCover(db, fromRollups.map((x) => x.s.key), inner.a, inner.b)
        fromRollups = fromRollups.filter((x) => covered.has(x.s.key))
      }
    }
    const byKey = (xs: Aggregated[]) => new Map(xs.map((x) => [x.s.key, x]))
    if (fromRollups.length > 0) {
      const found = await rows<{ series_id: string | number; iso: string; count: number; avg?: number | null; min?: number | null; max?: number | null; sum?: number | null; stddev?: number | null; first_v?: number | null; first_t?: string | null; last_v?: number | null; last_t?: string | null }>(
        db,
        combine(p.bucket, partials(fromRollups.map((x) => x.s.key), grain!, p.start, p.end), p.uncut ? null : p.limit, p.aggregates),
      )
      const keyed = byKey(fromRollups)
      for (const x of fromRollups) x.slot.source = grain!.name
      for (const r of found) {
        const x = keyed.get(Number(r.series_id))!
        if (x.slot.buckets.length === p.limit) {
          x.slot.next_start = r.iso
          continue
        }
        const { a, b } = affine(x.from, x.to)!
        const at = (v: number | null | undefined) => (v === null || v === undefined ? null : a * Number(v) + b)
        const lo = at(r.min)
        const hi = at(r.max)
        const all: Record<string, string | number | null> =
          x.s.valueType === 'number'
            ? { count: r.count, avg: at(r.avg), min: a < 0 ? hi : lo, max: a < 0 ? lo : hi, sum: r.sum == null ? null : a * Number(r.sum) + b * r.count, stddev: r.stddev == null ? null : Math.abs(a) * Number(r.stddev), first: at(r.first_v), last: at(r.last_v) }
            : { count: r.count, first: r.first_t ?? null, last: r.last_t ?? null }
        const out: Record<string, string | number | null> = { start: r.iso }
        for (const agg of p.aggregates) out[agg] = all[agg] ?? null
        x.slot.buckets.push(out)
      }
    }
    // The rest from raw points, grouped by how their values convert.
    const rest = list.filter((x) => !fromRollups.includes(x))
    const groups = new Map<string, Aggregated[]>()
    for (const x of rest) {
      const k = `${x.s.valueType}:${x.from?.id ?? ''}>${x.to?.id ?? ''}`
      groups.set(k, [...(groups.get(k) ?? []), x])
    }
    const percentiles = p.aggregates.filter((a) => a.startsWith('p')).map((a) => Number(a.slice(1)) / 100)
    const range = sql`ts >= ${iso(p.start)}::timestamptz and ts < ${iso(p.end)}::timestamptz`
    for (const group of groups.values()) {
      const numeric = group[0]!.s.valueType === 'number'
      const v = numeric ? sql`v` : sql`t`
      // Only what was asked: first and last sort every bucket's points.
      const SQL_OF: Record<string, SQL> = {
        avg: sql`, avg(v) as avg`,
        min: sql`, min(v) as min`,
        max: sql`, max(v) as max`,
        sum: sql`, sum(v) as sum`,
        stddev: sql`, stddev_samp(v) as stddev`,
        first: sql`, (array_agg(${v} order by ts))[1] as first`,
        last: sql`, (array_agg(${v} order by ts desc))[1] as last`,
      }
      const picked = p.aggregates.flatMap((a) => (SQL_OF[a] ? [SQL_OF[a]] : []))
      const names = p.aggregates.filter((a) => SQL_OF[a]).map((a) => sql`, c.${sql.identifier(a)}`)
      if (percentiles.length) {
        picked.push(sql`, percentile_cont(${`{${percentiles.join(',')}}`}::float8[]) within group (order by v) as pct`)
        names.push(sql`, c.pct`)
      }
      const found = await rows<Record<string, unknown> & { series_id: string | number; iso: string }>(
        db,
        sql`select c.series_id, ${ISO_B} as iso, c.count${sql.join(names, sql``)} from (select g.* ${p.uncut ? sql`` : sql`, row_number() over (partition by series_id order by b) as rn`} from (
              select series_id, ${p.bucket} as b, count(*)::int as count${sql.join(picked, sql``)}
              from (select series_id, ts, ${group[0]!.value} as v, value_text as t from points where series_id = any(${keyList(group.map((x) => x.s.key))}) and ${range}) p
              group by 1, 2) g) c
            ${p.uncut ? sql`` : sql`where rn <= ${p.limit + 1}`} order by series_id, b`,
      )
      const keyed = byKey(group)
      for (const r of found) {
        const x = keyed.get(Number(r.series_id))!
        if (x.slot.buckets.length === p.limit) {
          x.slot.next_start = r.iso
          continue
        }
        const out: Record<string, string | number | null> = { start: r.iso }
        for (const a of p.aggregates) {
          if (a.startsWith('p')) out[a] = (r.pct as number[])[percentiles.indexOf(Number(a.slice(1)) / 100)] ?? null
          else out[a] = a === 'count' ? (r.count as number) : r[a] === null || r[a] === undefined ? null : numeric ? Number(r[a]) : String(r[a])
        }
        x.slot.buckets.push(out)
      }
    }
  }

  return {
    async query(ctx: RequestContext, q: DatapointQuery) {
      const errors: FieldError[] = []
      const start = timeOf(q.start, '/body/start', errors)
      const end = timeOf(q.end, '/body/end', errors)
      if (errors.length === 0 && end <= start) errors.push({ path: '/body/end', message: 'must be after start' })
      if (q.series_ids.length > QUERY_LIMITS.series) errors.push({ path: '/body/series_ids', message: `has ${q.series_ids.length}; the limit is ${QUERY_LIMITS.series}` })
      const tz = q.time_zone ?? (await organizationSettings(db, ctx.organizationId!))?.time_zone ?? 'UTC'
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz })
      } catch {
        errors.push({ path: '/body/time_zone', message: 'is not an IANA time zone (e.g. Europe/Oslo)' })
      }
      if (q.interpolation && !q.granularity) errors.push({ path: '/body/granularity', message: 'is required with interpolation: it is the step of the grid' })
      if (errors.length > 0) throw new ValidationError(errors[0]!.message, errors)
      const found = await series.resolve(db, ctx, q.series_ids)
      const missing = q.series_ids.findIndex((id) => !found.has(id))
      if (missing >= 0) throw new ValidationError(`series ${q.series_ids[missing]} is not a series of this organisation`, [{ path: `/body/series_ids/${missing}`, message: 'is not a series of this organisation' }])
      const aggregates = q.aggregates ?? ['count', 'avg', 'min', 'max']
      const [midnight] = q.granularity ? await rows<{ o: Date | string }>(db, sql`select date_trunc('day', ${new Date(start).toISOString()}::timestamptz, ${tz}) as o`) : []
      const bucket = q.granularity ? bucketOf(q.granularity, tz, new Date(midnight!.o).toISOString()) : null
      const range = sql`ts >= ${new Date(start).toISOString()}::timestamptz and ts < ${new Date(end).toISOString()}::timestamptz`

      const data: QueryAnswerItem[] = []
      const aggregated: Aggregated[] = []
      for (const id of q.series_ids) {
        const s = found.get(id)!
        const { from, to } = await targetUnit(ctx, s, q)
        const value = conversion(from, to)
        const unit = to?.symbol ?? null
        if (!bucket) {
          const limit = Math.min(q.limit ?? 1000, QUERY_LIMITS.pointsPerSeries)
          const points = await rows<{ ts: Date | string; v: number | null; t: string | null }>(db, sql`select ts, ${value} as v, value_text as t from points where series_id = ${s.key} and ${range} order by ts limit ${limit + 1}`)
          const page = points.slice(0, limit)
          data.push({
            series_id: id,
            unit,
            datapoints: page.map((p) => ({ timestamp: new Date(p.ts).toISOString(), value: s.valueType === 'number' ? p.v : p.t })),
            next_start: points.length > limit ? new Date(new Date(points[limit]!.ts).getTime()).toISOString() : null,
          })
          continue
        }
        if (q.interpolation) {
          if (s.valueType === 'text' && q.interpolation === 'linear') throw new ValidationError(`series ${id} is a text series: it interpolates by step only`, [{ path: '/body/interpolation', message: `linear does not apply to the text series ${id}` }])
          const grid = gridOf(q.granularity!, tz, new Date(start).toISOString(), new Date(end).toISOString())
          const limit = Math.min(q.limit ?? QUERY_LIMITS.bucketsPerSeries, QUERY_LIMITS.bucketsPerSeries)
          const v = s.valueType === 'number' ? value : sql`value_text`
          // Two index probes a grid point: the last point at or before it and the first at or after.
          const found = await rows<{ g: Date | string; pts: Date | string | null; pv: number | string | null; nts: Date | string | null; nv: number | string | null }>(
            db,
            sql`select grid.g, p.ts as pts, p.v as pv, n.ts as nts, n.v as nv from (${grid} order by g limit ${limit + 1}) grid
                left join lateral (select ts, ${v} as v from points where series_id = ${s.key} and ts <= grid.g order by ts desc limit 1) p on true
                left join lateral (select ts, ${v} as v from points where series_id = ${s.key} and ts >= grid.g order by ts limit 1) n on true
                order by grid.g`,
          )
          const page = found.slice(0, limit)
          data.push({
            series_id: id,
            unit,
            datapoints: page.map((r) => {
              const at = new Date(r.g).getTime()
              let out: number | string | null = null
              if (r.pts !== null && new Date(r.pts).getTime() === at) out = r.pv
              else if (q.interpolation === 'step') out = r.pts !== null && r.nts !== null ? r.pv : null
              else if (r.pts !== null && r.nts !== null) {
                const t0 = new Date(r.pts).getTime()
                const t1 = new Date(r.nts).getTime()
                out = (r.pv as number) + (((r.nv as number) - (r.pv as number)) * (at - t0)) / (t1 - t0)
              }
              return { timestamp: new Date(r.g).toISOString(), value: out === null ? null : s.valueType === 'number' ? Number(out) : String(out) }
            }),
            next_start: found.length > limit ? new Date(found[limit]!.g).toISOString() : null,
          })
          continue
        }
        if (s.valueType === 'text') {
          const bad = aggregates.find((a) => !TEXT_AGGREGATES.includes(a))
          if (bad) throw new ValidationError(`series ${id} is a text series: only count, first and last aggregate it`, [{ path: '/body/aggregates', message: `${bad} does not apply to the text series ${id}` }])
        }
        // Aggregates run after the loop, one statement per group of series (planning a statement
        // cost more than running it for each series of a 100-series query).
        const slot = { series_id: id, unit, source: 'raw' as Grain['name'] | 'raw', buckets: [] as Record<string, string | number | null>[], next_start: null as string | null }
        data.push(slot)
        aggregated.push({ s, from, to, value, slot })
      }
      const limit = Math.min(q.limit ?? QUERY_LIMITS.bucketsPerSeries, QUERY_LIMITS.bucketsPerSeries)
      if (aggregated.length > 0) await aggregate(aggregated, { bucket: bucket!, origin: new Date(midnight!.o).getTime(), uncut: maxBuckets(q.granularity!, new Date(midnight!.o).getTime(), start, end) <= limit, granularity: q.granularity!, tz, start, end, aggregates, limit, rollups: q.rollups !== false })
      return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), granularity: q.granularity ?? null, time_zone: tz, data }
    },
  }
}

export type DatapointQueries = ReturnType<typeof createDatapointQueries>
