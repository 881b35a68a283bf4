// Rollups: minute, hour and day buckets of every series, recomputed from raw points for the
// UTC hours writes queued in `rollup_dirty` (a range per series and write). Recompute, never add: an
// overwrite or a deleted range is corrected the same way as a new point. The maintainer runs in
// every worker process; one transaction at a time holds the rollup lock (a day is rebuilt from
// its hours, so two rounds must not rebuild the same day from each other's uncommitted hours).
// Queries (queryDatapoints.ts) read still-stale hours from raw, so they never wait for this.
// Plan and measurements: docs/design/measurements.md §6.
import { sql } from 'drizzle-orm'
import { rows, type Database, type Executor } from '../../core/db/database.ts'

/** Minute buckets are kept only for hours with more points than this (else raw is as small). */
export const MINUTE_ROLLUP_MIN_POINTS = 60
const ROUND = 5000

const literal = (xs: (number | string)[]) => `{${xs.join(',')}}`

/** Rebuilds minute, hour and day rollups of the given (series, UTC hour) pairs in `tx`. */
export async function recompute(tx: Executor, pairs: { series: number[]; hours: string[] }): Promise<void> {
  if (pairs.series.length === 0) return
  const d = sql`unnest(${literal(pairs.series)}::bigint[], ${`{${pairs.hours.map((h) => `"${h}"`).join(',')}}`}::timestamptz[]) as d(s, h)`
  await tx.execute(sql`delete from rollups_1m r using ${d} where r.series_id = d.s and r.bucket >= d.h and r.bucket < d.h + interval '1 hour'`)
  await tx.execute(sql`delete from rollups_1h r using ${d} where r.series_id = d.s and r.bucket = d.h`)
  // One scan of the raw points: minute partials, hours combined from them (Chan's formula), and
  // first/last of each hour by two index probes. Minute rows are kept for dense hours only, and
  // without first/last values (queries asking for first or last do not use minute rollups):
  // measured on 1M points, probing first/last of 166,700 minutes took 4.7 s of a 6.8 s round.
  const columns = sql`(series_id, bucket, n, sum, min, max, m2, first_ts, last_ts, first_value, first_text, last_value, last_text)`
  await tx.execute(sql`
    with m as materialized (
      select p.series_id, d.h, date_trunc('minute', p.ts, 'UTC') as bucket, count(*)::int as n, sum(p.value) as sum, min(p.value) as min, max(p.value) as max,
             var_pop(p.value) * count(p.value) as m2, min(p.ts) as first_ts, max(p.ts) as last_ts
      from ${d} join points p on p.series_id = d.s and p.ts >= d.h and p.ts < d.h + interval '1 hour'
      group by 1, 2, 3),
    hr as (
      select series_id, h as bucket, sum(n)::int as n, sum(sum) as sum, min(min) as min, max(max) as max, sum(m2 + n * power(sum / n - mean, 2)) as m2, min(first_ts) as first_ts, max(last_ts) as last_ts
      from (select m.*, sum(m.sum) over w / sum(m.n) over w as mean from m window w as (partition by m.series_id, m.h)) x
      group by 1, 2),
    minutes as (
      insert into rollups_1m ${columns}
      select m.series_id, m.bucket, m.n, m.sum, m.min, m.max, m.m2, m.first_ts, m.last_ts, null, null, null, null
      from m join hr on hr.series_id = m.series_id and hr.bucket = m.h where hr.n > ${MINUTE_ROLLUP_MIN_POINTS})
    insert into rollups_1h ${columns}
    select hr.series_id, hr.bucket, hr.n, hr.sum, hr.min, hr.max, hr.m2, hr.first_ts, hr.last_ts, f.value, f.value_text, l.value, l.value_text
    from hr join points f on f.series_id = hr.series_id and f.ts = hr.first_ts join points l on l.series_id = hr.series_id and l.ts = hr.last_ts`)
  // Days from their hours (24 exact hours: a UTC day has no DST). m2 combines by Chan's formula:
  // Σ m2_i + Σ n_i (mean_i - mean)².
  const days = sql`(select distinct d.s, date_trunc('day', d.h, 'UTC') as day from ${d}) dd`
  await tx.execute(sql`delete from rollups_1d r using ${days} where r.series_id = dd.s and r.bucket = dd.day`)
  await tx.execute(sql`
    insert into rollups_1d ${columns}
    select series_id, day, sum(n)::int, sum(sum), min(min), max(max), sum(m2 + n * power(sum / n - mean, 2)), min(first_ts), max(last_ts),
           (array_agg(first_value order by first_ts))[1], (array_agg(first_text order by first_ts))[1],
           (array_agg(last_value order by last_ts desc))[1], (array_agg(last_text order by last_ts desc))[1]
    from (select h.*, dd.day, sum(h.sum) over w / sum(h.n) over w as mean
          from ${days} join rollups_1h h on h.series_id = dd.s and h.bucket >= dd.day and h.bucket < dd.day + interval '24 hours'
          window w as (partition by h.series_id, dd.day)) x
    group by series_id, day`)
}

export function createRollups({ database }: { database: Database }) {
  /** Series-hours queued after the last round (overlapping ranges counted twice). */
  let left = 0
  const queued = sql`coalesce(sum(extract(epoch from last_hour - first_hour) / 3600 + 1), 0)::int`

  /**
   * One round: takes every queued range of the series queued longest, as many series as fit in
   * about 5,000 hours of span (at least one), and rebuilds their hours once each. Taking whole
   * series matters: live ingest queues the same hour once per request, and taking ranges in
   * arrival order rebuilt each hour once per request (measured: 790,000 queued ranges for 28,000
   * distinct hours). Returns the series-hours rebuilt and whether more wait.
   */
  async function round(): Promise<{ rebuilt: number; more: boolean }> {
    const [stale] = await rows<{ n: number }>(database.db, sql`select ${queued} as n from rollup_dirty`)
    left = stale!.n
    if (left === 0) return { rebuilt: 0, more: false }
    return database.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('stratum.rollups'))`)
      // Only committed ranges are visible; one committed while this round runs waits for the next.
      const taken = await rows<{ s: number | string; h: Date | string }>(
        tx,
        sql`with per as (
              select series_id, min(id) as first_id, extract(epoch from max(last_hour) - min(first_hour)) / 3600 + 1 as span from rollup_dirty group by series_id),
            picked as (
              select series_id from (select series_id, first_id, sum(span) over (order by first_id) as acc from per) x
              where acc <= ${ROUND} or first_id = (select min(first_id) from per)),
            gone as (delete from rollup_dirty where series_id in (select series_id from picked) returning series_id, first_hour, last_hour)
            select distinct g.series_id as s, h from gone g cross join generate_series(g.first_hour, g.last_hour, interval '1 hour') h order by 1, 2`,
      )
      await recompute(tx, { series: taken.map((t) => Number(t.s)), hours: taken.map((t) => new Date(t.h).toISOString()) })
      const [rest] = await rows<{ n: number }>(tx, sql`select ${queued} as n from rollup_dirty`)
      left = rest!.n
      return { rebuilt: taken.length, more: left > 0 }
    })
  }

  return {
    round,
    /** Rounds until nothing is queued; the series-hours rebuilt. */
    async drain(): Promise<number> {
      let total = 0
      for (;;) {
        const r = await round()
        total += r.rebuilt
        if (!r.more) return total
      }
    },
    /** The maintainer every worker process runs. */
    task: { name: 'measurements.rollups', intervalMs: 1000, run: async () => (await round()).more, backlog: () => left },
  }
}

export type Rollups = ReturnType<typeof createRollups>
