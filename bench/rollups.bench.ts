// Aggregate queries (issue #6) through POST /api/v1/datapoints/query against the same aggregate
// SQL run directly on raw points, in the same run, over N = 10,000,000 points in S = 1,000 series
// (10,000 points each, every 10 s: 27.8 hours from 2026-11-01T00:00Z).
//  - Load: the points through POST /api/v1/datapoints (10,000 per request), then the rollup
//    maintainer's rounds until nothing is stale (timed: that is what rollups cost).
//  - hourly: avg, min, max, count per UTC hour of every series. API: 10 requests of 100 series
//    (the published per-query limit), served from hour rollups. Direct SQL: one statement over
//    all 1,000 series on `points` (date_bin('1 hour', ts, start), GROUP BY series, hour).
//    Also the API with `rollups: false` (raw, for reference).
//  - ad hoc: the same aggregates in 450-second buckets (not a whole minute, so no rollup can
//    answer). API: 10 requests of 100 series, from raw points. Direct SQL: date_bin('450
//    seconds', ts, T0) over all 1,000 series.
// Each case runs ROUNDS times (default 3), API and SQL taking turns; medians are compared. The
// SQL runs twice: one statement over every series, and statements of 100 series (what the API
// runs, its per-query limit being 100 series; at 10M points the planner scans the whole
// partition for each 100-series statement, so batching alone costs up to 2x). The
// direct SQL's rows are fetched to the client as the API's are. The script checks that both sides
// agree (bucket count, sum of counts, sum of max).
// Engine: PGlite on disk (default) or PostgreSQL when DATABASE_URL is set (a fresh database
// bench_rollups is created there and dropped at the end). From the repo root:
//   npx tsx bench/rollups.bench.ts
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/rollups.bench.ts
//   knobs: SERIES=1000 (a multiple of 100), PER=10000 (points per series), STEP_S=10 (seconds between points),
//   ROUNDS=3, KEEP=1 (keep the PostgreSQL database)
// Raw JSON lines go to bench/results/rollups-<engine>-<time>.jsonl.
import { execSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchRecord } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const S = Number(process.env.SERIES ?? 1000)
const PER = Number(process.env.PER ?? 10_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const STEP_MS = Number(process.env.STEP_S ?? 10) * 1000
const T0 = Date.UTC(2026, 10, 1)
const T_END = T0 + PER * STEP_MS // exclusive
const PG_URL = process.env.DATABASE_URL || null
const ENGINE = PG_URL ? 'postgres' : 'pglite'
if (PG_URL) process.env.BENCH_PGPORT = new URL(PG_URL).port || '5432'
if (S % 100 !== 0) throw new Error('SERIES must be a multiple of 100')

const { loadConfig } = await import('../src/config.ts')
const { openPglite } = await import('../src/core/db/pglite.ts')
const { openPostgres } = await import('../src/core/db/postgres.ts')
const { migrate } = await import('../src/core/db/migrate.ts')
const { createApp, openRuntime } = await import('../src/core/runtime.ts')
const { createLogger } = await import('../src/core/observability/logger.ts')

const { log, sh } = benchRecord(BENCH, `rollups-${ENGINE}`)
const git = (cmd: string) => {
  try {
    return execSync(`git ${cmd}`, { cwd: join(BENCH, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return `not a git tree (${process.env.BENCH_REV ?? 'BENCH_REV unset'})`
  }
}
log({ config: { engine: ENGINE, series: S, points_per_series: PER, points: S * PER, step_seconds: STEP_MS / 1000, from: new Date(T0).toISOString(), to: new Date(T_END).toISOString(), rounds: ROUNDS }, git: { head: git('rev-parse --short HEAD'), dirty: git('status --porcelain --untracked-files=no').split('\n').filter(Boolean) } })
const quiet = () => log(JSON.parse(sh('quiet.sh')))
const r1 = (x: number) => +x.toFixed(1)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const dataDir = mkdtempSync(join(tmpdir(), 'stratum-rollups-bench-'))
let admin: pg.Pool | null = null
let database
let raw: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
if (PG_URL) {
  admin = new pg.Pool({ connectionString: PG_URL, max: 1 })
  await admin.query('drop database if exists bench_rollups with (force)')
  await admin.query('create database bench_rollups')
  const url = new URL(PG_URL)
  url.pathname = '/bench_rollups'
  const d = await openPostgres({ url: url.toString(), poolMax: 10, statementTimeoutMs: 0, applicationName: 'rollups-bench' })
  raw = async (text, params = []) => (await d.pool.query(text, params)).rows
  database = d
} else {
  const d = await openPglite({ dataDir })
  raw = async (text, params = []) => (await d.client.query<Record<string, unknown>>(text, params)).rows
  database = d
}
await migrate(database)
const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
const rt = await openRuntime(config, createLogger('silent', { pretty: false }), { database, migrate: false })
const app = await createApp(rt)
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Bench rollups', email: 'rollups@example.com', password: 'bench password 1' } })
if (signup.statusCode !== 201) throw new Error(`signup answered ${signup.statusCode}: ${signup.body}`)
const { token } = signup.json() as { token: string }
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const api = async (method: 'GET' | 'POST', url: string, payload?: unknown, want = 200) => {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}) })
  if (res.statusCode !== want) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`)
  return res
}

// S series of one `flow` property (unit-less: no conversion on either side).
await api('POST', '/api/v1/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] }, 201)
const ids: string[] = []
for (let j = 0; j < S; j++) {
  const e = (await api('POST', '/api/v1/entities', { type: 'Meter', name: `meter-${j}` }, 201)).json() as { id: string }
  ids.push(((await api('POST', '/api/v1/series', { entity_id: e.id, property: 'flow' }, 201)).json() as { id: string }).id)
}
const keys = (await raw(`select key::text as key from series where id = any($1::uuid[]) order by key`, [ids])).map((r) => Number(r.key))

// Load: requests of 10,000 points, the next 10,000 / S points of every series.
const valueOf = (j: number, p: number) => Math.round((40 + j * 0.25 + 10 * Math.sin((p / 360) * 2 * Math.PI + j)) * 1000) / 1000
const perRequest = 10_000
const seriesPerRequest = Math.min(S, perRequest)
const pointsPerSeries = Math.max(1, Math.floor(perRequest / seriesPerRequest))
quiet()
let t = performance.now()
let loaded = 0
for (let p0 = 0; p0 < PER; p0 += pointsPerSeries) {
  const ps = Array.from({ length: Math.min(pointsPerSeries, PER - p0) }, (_, k) => p0 + k)
  const body = JSON.stringify({ items: ids.map((id, j) => ({ series_id: id, timestamps: ps.map((p) => T0 + p * STEP_MS), values: ps.map((p) => valueOf(j, p)) })) })
  loaded += ((await api('POST', '/api/v1/datapoints', body)).json() as { points: number }).points
}
const loadMs = performance.now() - t
const [stale] = await raw("select count(*)::int as n from (select distinct series_id, h from rollup_dirty cross join generate_series(first_hour, last_hour, interval '1 hour') h) x")
log({ case: 'load', points: loaded, ms: r1(loadMs), points_per_s: Math.round(loaded / (loadMs / 1000)), stale_hours: stale!.n })

// The maintainer, as a worker process runs it, until nothing is stale.
const task = rt.modules.find((m) => m.name === 'measurements')!.background![0]!
t = performance.now()
let rounds = 0
while (await task.run()) rounds++
const rollupMs = performance.now() - t
const [rows1h] = await raw('select count(*)::int as n from rollups_1h')
const [rows1m] = await raw('select count(*)::int as n from rollups_1m')
log({ case: 'rollup', series_hours: stale!.n, rounds: rounds + 1, ms: r1(rollupMs), points_per_s: Math.round(loaded / (rollupMs / 1000)), rows_1h: rows1h!.n, rows_1m: rows1m!.n })
if (PG_URL) await raw('vacuum analyze')
else await raw('analyze')

// Whole hours, as a user asks for "hourly over the data": the last hour is part-filled.
const start = new Date(T0).toISOString()
const end = new Date(Math.ceil(T_END / 3_600_000) * 3_600_000).toISOString()
interface Side {
  buckets: number
  count: number
  maxSum: number
}
async function viaApi(granularity: string, rollups: boolean): Promise<Side> {
  const out: Side = { buckets: 0, count: 0, maxSum: 0 }
  for (let k = 0; k < S; k += 100) {
    const res = (await api('POST', '/api/v1/datapoints/query', { series_ids: ids.slice(k, k + 100), start, end, granularity, aggregates: ['avg', 'min', 'max', 'count'], time_zone: 'UTC', rollups })).json() as { data: { source: string; buckets: { count: number; max: number }[]; next_start: string | null }[] }
    for (const d of res.data) {
      if (d.next_start) throw new Error('a series was cut at the bucket limit')
      if (rollups && granularity === '1h' && d.source !== 'rollups_1h') throw new Error(`hourly answered from ${d.source}`)
      if (granularity === '450s' && d.source !== 'raw') throw new Error(`ad hoc answered from ${d.source}`)
      out.buckets += d.buckets.length
      for (const b of d.buckets) {
        out.count += b.count
        out.maxSum += b.max
      }
    }
  }
  return out
}
/** The aggregate SQL on raw points: in one statement over every series, or in statements of 100 series as the API runs it. */
async function viaSql(bucket: string, batch: number): Promise<Side> {
  const out: Side = { buckets: 0, count: 0, maxSum: 0 }
  for (let k = 0; k < keys.length; k += batch) {
    const found = await raw(
      `select series_id, ${bucket} as b, avg(value) as avg, min(value) as min, max(value) as max, count(*)::int as count
       from points where series_id = any($1::bigint[]) and ts >= $2::timestamptz and ts < $3::timestamptz group by 1, 2 order by 1, 2`,
      [keys.slice(k, k + batch), start, end],
    )
    out.buckets += found.length
    out.count += found.reduce((n, r) => n + Number(r.count), 0)
    out.maxSum += found.reduce((n, r) => n + Number(r.max), 0)
  }
  return out
}
const same = (x: Side, y: Side) => x.buckets === y.buckets && x.count === y.count && Math.abs(x.maxSum - y.maxSum) < 1e-6 * Math.abs(y.maxSum)

// The direct SQL buckets with date_bin from a constant origin, as the API does on raw points:
// measured on 1M points, date_trunc('hour', ts, 'UTC') took 740-1000 ms, date_trunc('hour', ts)
// 325 ms and date_bin 215 ms, so this is the fastest form, not a straw man.
const cases = [
  { name: 'hourly', granularity: '1h', rollups: true, sql: `date_bin('1 hour', ts, '${start}'::timestamptz)` },
  { name: 'hourly-raw', granularity: '1h', rollups: false, sql: `date_bin('1 hour', ts, '${start}'::timestamptz)` },
  { name: 'adhoc-450s', granularity: '450s', rollups: true, sql: `date_bin('450 seconds', ts, '${start}'::timestamptz)` },
]
const summary: Record<string, unknown>[] = []
for (const c of cases) {
  const ms = { api: [] as number[], sql: [] as number[], sql100: [] as number[] }
  let a: Side | null = null
  let s: Side | null = null
  let s100: Side | null = null
  for (let r = 0; r < ROUNDS; r++) {
    quiet()
    t = performance.now()
    a = await viaApi(c.granularity, c.rollups)
    ms.api.push(performance.now() - t)
    t = performance.now()
    s = await viaSql(c.sql, keys.length)
    ms.sql.push(performance.now() - t)
    t = performance.now()
    s100 = await viaSql(c.sql, 100)
    ms.sql100.push(performance.now() - t)
    log({ case: c.name, round: r + 1, api_ms: r1(ms.api.at(-1)!), sql_ms: r1(ms.sql.at(-1)!), sql_by_100_ms: r1(ms.sql100.at(-1)!) })
  }
  if (!same(a!, s!) || !same(a!, s100!)) throw new Error(`${c.name}: the API and the SQL disagree: ${JSON.stringify({ api: a, sql: s, sql100: s100 })}`)
  const row = {
    case: c.name,
    buckets: a!.buckets,
    points: a!.count,
    api_median_ms: r1(median(ms.api)),
    sql_median_ms: r1(median(ms.sql)),
    sql_by_100_median_ms: r1(median(ms.sql100)),
    sql_over_api: +(median(ms.sql) / median(ms.api)).toFixed(2),
    sql_by_100_over_api: +(median(ms.sql100) / median(ms.api)).toFixed(2),
  }
  summary.push(row)
  log({ result: row })
}
log({ summary })
console.table(summary)

await app.close()
await database.close()
if (admin && !process.env.KEEP) {
  await admin.query('drop database if exists bench_rollups with (force)')
  await admin.end()
}
rmSync(dataDir, { recursive: true, force: true })
