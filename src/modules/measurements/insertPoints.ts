// Writing points: the hot path of ingest. Rows go in as `unnest` of array parameters passed as
// text literals, as a plain INSERT first; only when a (series, ts) already exists does the chunk
// run again as an upsert (or refuse, with on_conflict=error). Measured in
// docs/design/measurements.md §1.2: plain INSERT 0.6x of COPY, ON CONFLICT DO UPDATE 0.3-0.4x,
// and parameters built by the driver from JS arrays 30-40 % slower than the literals.
// The months a batch touches get their partitions first, in a short transaction of their own
// (creating a partition locks the parent table). Every write queues the UTC hours it touched,
// one range per series, in `rollup_dirty`, in the same transaction, for the rollup maintainer.
import { sql } from 'drizzle-orm'
import type { Database, Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, ValidationError } from '../../core/errors.ts'

/** Points ready to write, sorted by (series, ts), with in-batch duplicates removed (last wins). */
export interface PointBatch {
  series: number[]
  /** Epoch milliseconds. */
  ts: number[]
  value: (number | null)[]
  text: (string | null)[]
  /** The seed-000 fact's tag and description, and a seed-001 reading's other fields; absent for plain datapoints. */
  tag?: (string | null)[]
  description?: (string | null)[]
  extra?: (Record<string, unknown> | null)[]
}

export interface NewPoint {
  series: number
  ts: number
  value: number | null
  text: string | null
  tag?: string | null
  description?: string | null
  extra?: Record<string, unknown> | null
}

export type OnConflict = 'overwrite' | 'error'

const CHUNK = 20_000

/** Sorts by (series, ts) and keeps the last of repeated (series, ts) pairs in a batch. */
export function normaliseBatch(points: NewPoint[]): PointBatch {
  // Gateways send each series' points in time order: then there is nothing to sort.
  let sorted = true
  for (let i = 1; i < points.length && sorted; i++) sorted = points[i - 1]!.series < points[i]!.series || (points[i - 1]!.series === points[i]!.series && points[i - 1]!.ts < points[i]!.ts)
  const order = sorted ? points.map((_, i) => i) : points.map((_, i) => i).sort((a, b) => points[a]!.series - points[b]!.series || points[a]!.ts - points[b]!.ts || a - b)
  const wide = points.some((p) => p.tag != null || p.description != null || p.extra != null)
  const out: PointBatch = { series: [], ts: [], value: [], text: [], ...(wide ? { tag: [], description: [], extra: [] } : {}) }
  for (let k = 0; k < order.length; k++) {
    const p = points[order[k]!]!
    const next = points[order[k + 1]!]
    if (next && next.series === p.series && next.ts === p.ts) continue
    out.series.push(p.series)
    out.ts.push(p.ts)
    out.value.push(p.value)
    out.text.push(p.text)
    if (wide) {
      out.tag!.push(p.tag ?? null)
      out.description!.push(p.description ?? null)
      out.extra!.push(p.extra ?? null)
    }
  }
  return out
}

/** A PostgreSQL array literal of numbers (`{1,2,NULL}`). */
const numbers = (xs: (number | null)[]) => `{${xs.map((x) => (x === null ? 'NULL' : String(x))).join(',')}}`
/** A PostgreSQL array literal of texts, each quoted (`{"a","b \\"c\\"",NULL}`). */
const texts = (xs: (string | null)[]) => `{${xs.map((x) => (x === null ? 'NULL' : `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** Each series' first and last UTC hour in a batch sorted by (series, ts). */
export function hoursOf(batch: Pick<PointBatch, 'series' | 'ts'>): { series: number[]; first: number[]; last: number[] } {
  const out = { series: [] as number[], first: [] as number[], last: [] as number[] }
  for (let k = 0; k < batch.series.length; k++) {
    const h = Math.floor(batch.ts[k]! / HOUR_MS) * HOUR_MS
    const n = out.series.length
    if (n > 0 && out.series[n - 1] === batch.series[k]) {
      out.last[n - 1] = Math.max(out.last[n - 1]!, h)
      continue
    }
    out.series.push(batch.series[k]!)
    out.first.push(h)
    out.last.push(h)
  }
  return out
}

/** Queues each series' touched hours for the rollup maintainer, in the caller's transaction. */
export async function markDirty(tx: Executor, ranges: { series: number[]; first: number[]; last: number[] }): Promise<void> {
  for (let k = 0; k < ranges.series.length; k += CHUNK) {
    await tx.execute(
      sql`insert into rollup_dirty (series_id, first_hour, last_hour) select s, to_timestamp(f / 1000.0), to_timestamp(l / 1000.0)
          from unnest(${numbers(ranges.series.slice(k, k + CHUNK))}::bigint[], ${numbers(ranges.first.slice(k, k + CHUNK))}::float8[], ${numbers(ranges.last.slice(k, k + CHUNK))}::float8[]) as u(s, f, l)`,
    )
  }
}

export function createPointWriter(database: Database, clock: () => Date = () => new Date()) {
  const knownMonths = new Set<string>()

  /** Makes sure every month from the batch's first to last point has its partition. */
  async function ensurePartitions(batch: PointBatch) {
    if (batch.ts.length === 0) return
    let min = Infinity
    let max = -Infinity
    for (const t of batch.ts) {
      if (t < min) min = t
      if (t > max) max = t
    }
    const months: string[] = []
    for (let t = Date.UTC(new Date(min).getUTCFullYear(), new Date(min).getUTCMonth(), 1); t <= max; t = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + 1, 1)) {
      months.push(new Date(t).toISOString().slice(0, 7))
    }
    if (months.every((m) => knownMonths.has(m))) return
    await database.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('stratum.points.partitions'))`)
      await tx.execute(sql`select stratum_ensure_point_partitions(${new Date(min).toISOString()}::timestamptz, ${new Date(max).toISOString()}::timestamptz)`)
    })
    for (const m of months) knownMonths.add(m)
  }

  /**
   * Refuses points older than their series' retention horizon (the hour retention deletes up
   * to): their raw neighbours are gone, so recomputing that hour's rollup would lose them.
   */
  async function checkHorizons(tx: Executor, batch: PointBatch) {
    const first = new Map<number, number>()
    for (let k = 0; k < batch.series.length; k++) if (!first.has(batch.series[k]!)) first.set(batch.series[k]!, batch.ts[k]!)
    const policies = (
      (await tx.execute(
        sql`select s.key, s.id, coalesce(own.raw_days, typ.raw_days) as raw_days from series s
            left join retention_policies own on own.organization_id = s.organization_id and own.series_id = s.id
            left join retention_policies typ on typ.organization_id = s.organization_id and typ.object_type_id = s.object_type_id
            where s.key = any(${numbers([...first.keys()])}::bigint[]) and (own.id is not null or typ.id is not null)`,
      )) as unknown as { rows: { key: number | string; id: string; raw_days: number }[] }
    ).rows
    for (const p of policies) {
      const horizon = retentionHorizon(clock().getTime(), p.raw_days)
      const earliest = first.get(Number(p.key))!
      if (earliest < horizon)
        throw new ValidationError(`a point at ${new Date(earliest).toISOString()} is before the retention horizon ${new Date(horizon).toISOString()} of series ${p.id} (raw points are kept ${p.raw_days} days)`, [
          { path: '/body', message: `has a point of series ${p.id} before its retention horizon ${new Date(horizon).toISOString()}` },
        ])
    }
  }

  /** Writes the batch inside the caller's transaction; returns how many rows were new or changed. */
  async function write(tx: Executor, batch: PointBatch, onConflict: OnConflict): Promise<number> {
    if (batch.series.length === 0) return 0
    await checkHorizons(tx, batch)
    await markDirty(tx, hoursOf(batch))
    let written = 0
    for (let k = 0; k < batch.series.length; k += CHUNK) {
      const slice = <T>(xs: T[]) => xs.slice(k, k + CHUNK)
      const s_ = numbers(slice(batch.series))
      const t_ = numbers(slice(batch.ts))
      const wide = batch.tag !== undefined
      // Number series only (the usual load): no text column to build or unpack.
      const numeric = !wide && slice(batch.text).every((x) => x === null)
      // Plain datapoints carry four columns; facts and readings also tag, description and extra.
      const rows = wide
        ? sql`select s, to_timestamp(m / 1000.0), v, x, g, d, e::jsonb from unnest(${s_}::bigint[], ${t_}::float8[], ${numbers(slice(batch.value))}::float8[], ${texts(slice(batch.text))}::text[], ${texts(slice(batch.tag!))}::text[], ${texts(slice(batch.description!))}::text[], ${texts(slice(batch.extra!).map((e) => (e === null ? null : JSON.stringify(e))))}::text[]) as u(s, m, v, x, g, d, e)`
        : numeric
          ? sql`select s, to_timestamp(m / 1000.0), v from unnest(${s_}::bigint[], ${t_}::float8[], ${numbers(slice(batch.value))}::float8[]) as u(s, m, v)`
          : sql`select s, to_timestamp(m / 1000.0), v, x from unnest(${s_}::bigint[], ${t_}::float8[], ${numbers(slice(batch.value))}::float8[], ${texts(slice(batch.text))}::text[]) as u(s, m, v, x)`
      const columns = wide ? sql`(series_id, ts, value, value_text, tag, description, extra)` : numeric ? sql`(series_id, ts, value)` : sql`(series_id, ts, value, value_text)`
      try {
        // A savepoint, so a clash rolls back this chunk only and the upsert can follow.
        await (tx as unknown as { transaction<T>(f: (sp: Executor) => Promise<T>): Promise<T> }).transaction((sp) => sp.execute(sql`insert into points ${columns} ${rows}`))
      } catch (err) {
        if (!isUniqueViolation(err)) throw err
        if (onConflict === 'error') {
          const [clash] = (
            (await tx.execute(
              sql`select s.id, p.ts from points p join series s on s.key = p.series_id join unnest(${s_}::bigint[], ${t_}::float8[]) as u(s, m) on p.series_id = u.s and p.ts = to_timestamp(u.m / 1000.0) limit 1`,
            )) as unknown as { rows: { id: string; ts: string | Date }[] }
          ).rows
          throw new ConflictError(`series ${clash?.id} already has a point at ${clash ? new Date(clash.ts).toISOString() : 'one of these times'}; send on_conflict=overwrite to replace it`, { series_id: clash?.id ?? null, ts: clash ? new Date(clash.ts).toISOString() : null })
        }
        await tx.execute(sql`insert into points ${columns} ${rows}
                             on conflict (series_id, ts) do update set value = excluded.value, value_text = excluded.value_text, ${wide ? sql`tag = excluded.tag, description = excluded.description, extra = excluded.extra` : sql`tag = null, description = null, extra = null`}`)
      }
      written += Math.min(CHUNK, batch.series.length - k)
    }
    return written
  }

  return { ensurePartitions, write }
}

/** Where retention cuts a series' raw points: `days` before `now`, down to the whole UTC hour. */
export const retentionHorizon = (now: number, days: number) => Math.floor((now - days * DAY_MS) / HOUR_MS) * HOUR_MS

export type PointWriter = ReturnType<typeof createPointWriter>
