// Ingest of time-series points (issue #6), in-process (`app.inject`, real session-token
// authentication), against COPY of the same rows into the same `points` table in the same run:
//  - API: N points (default 1,000,000) over S = 100 series of one `flow` property, through
//    POST /api/v1/datapoints as requests of 10,000 points in the columnar shape. Each request is
//    what a gateway polling 100 meters sends: the next 100 points (15-minute spacing, so 25 hours)
//    of each of the 100 series, timestamps as epoch-ms integers. The data spans 2026-07-01 to
//    mid-October: 4 monthly partitions. Bodies are serialised before the clock starts.
//  - COPY in chunks: the same rows (series key, ts, value; text format, the same decimals) for a
//    second set of 100 series, one `COPY points (series_id, ts, value) FROM STDIN` of 10,000 rows
//    each (its own transaction). The COPY text is built before the clock starts. API and COPY take
//    turns request by request, so both write into a table of the same size.
//  - COPY as one stream: the same rows for a third set of 100 series in one COPY of all N rows,
//    after the two above (so into a table that already holds 2N rows: if anything, a handicap
//    for COPY).
// Partitions for the whole span are made before any clock starts
// (`select stratum_ensure_point_partitions(from, to)`). The script then counts the rows of each
// side and compares count, sum(value), min(ts) and max(ts), and counts the datapoints.written events.
// PGlite COPY: `query("copy ... from '/dev/blob'", [], { blob })`; PostgreSQL COPY: pg-copy-streams.
// Engine: embedded PGlite (on disk in a temp folder, as `stratum serve` uses it) by default;
// PostgreSQL when DATABASE_URL is set (a fresh database bench_datapoints is created there and
// dropped at the end). Run from the repo root:
//   npx tsx bench/datapoints.bench.ts                                                   # PGlite
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/datapoints.bench.ts
//   knobs: N=1000000 (a multiple of 10,000), SERIES=100 (a divisor of 10,000)
//   CPU_PROFILE=file.cpuprofile: profile the API requests only (COPY skipped; node:inspector)
// Raw JSON lines go to bench/results/datapoints-<engine>-<time>.jsonl.
import { execSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { benchRecord } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const N = Number(process.env.N ?? 1_000_000)
const S = Number(process.env.SERIES ?? 100)
const CHUNK = 10_000
const PER = CHUNK / S // points of each series per request
const P = N / S // points of each series in all
const STEP_MS = 15 * 60_000
const T0 = Date.UTC(2026, 6, 1)
const T_END = T0 + (P - 1) * STEP_MS
const PG_URL = process.env.DATABASE_URL || null
const CPU_PROFILE = process.env.CPU_PROFILE || null
const ENGINE = PG_URL ? 'postgres' : 'pglite'
if (PG_URL) process.env.BENCH_PGPORT = new URL(PG_URL).port || '5432'
if (N % CHUNK !== 0 || CHUNK % S !== 0) throw new Error('N must be a multiple of 10,000 and SERIES a divisor of 10,000')

const { loadConfig } = await import('../src/config.ts')
const { openPglite } = await import('../src/core/db/pglite.ts')
const { openPostgres } = await import('../src/core/db/postgres.ts')
const { migrate } = await import('../src/core/db/migrate.ts')
const { createApp, openRuntime } = await import('../src/core/runtime.ts')
const { createLogger } = await import('../src/core/observability/logger.ts')

const { log, sh } = benchRecord(BENCH, `datapoints-${ENGINE}`)
const git = (cmd: string) => {
  try {
    return execSync(`git ${cmd}`, { cwd: join(BENCH, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return `not a git tree (${process.env.BENCH_REV ?? 'BENCH_REV unset'})`
  }
}
log({ config: { engine: ENGINE, n: N, series: S, chunk: CHUNK, pointsPerSeriesPerRequest: PER, stepMinutes: STEP_MS / 60_000, from: new Date(T0).toISOString(), to: new Date(T_END).toISOString() }, git: { head: git('rev-parse --short HEAD'), dirty: git('status --porcelain --untracked-files=no').split('\n').filter(Boolean) } })
const quiet = () => log(JSON.parse(sh('quiet.sh')))
const r1 = (x: number) => +x.toFixed(1)
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

// ---------------------------------------------------------------------------------------------
// A fresh, migrated database with one app, one signed-up organisation and a COPY function.
const dataDir = mkdtempSync(join(tmpdir(), 'stratum-datapoints-bench-'))
let admin: pg.Pool | null = null
let copyClient: pg.Client | null = null
let database
let raw: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
let copy: (text: string) => Promise<void>
const COPY_SQL = 'copy points (series_id, ts, value) from'
if (PG_URL) {
  admin = new pg.Pool({ connectionString: PG_URL, max: 1 })
  await admin.query('drop database if exists bench_datapoints with (force)')
  await admin.query('create database bench_datapoints')
  const url = new URL(PG_URL)
  url.pathname = '/bench_datapoints'
  const d = await openPostgres({ url: url.toString(), poolMax: 10, statementTimeoutMs: 0, applicationName: 'datapoints-bench' })
  raw = async (text, params = []) => (await d.pool.query(text, params)).rows
  copyClient = new pg.Client({ connectionString: url.toString(), application_name: 'datapoints-bench-copy' })
  await copyClient.connect()
  copy = async (text) => {
    await pipeline(Readable.from([Buffer.from(text)]), copyClient!.query(copyFrom(`${COPY_SQL} stdin`)))
  }
  database = d
} else {
  const d = await openPglite({ dataDir })
  raw = async (text, params = []) => (await d.client.query<Record<string, unknown>>(text, params)).rows
  copy = async (text) => {
    await d.client.query(`${COPY_SQL} '/dev/blob'`, [], { blob: new Blob([text]) })
  }
  database = d
}
await migrate(database)
const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
const rt = await openRuntime(config, createLogger('silent', { pretty: false }), { database, migrate: false })
const app = await createApp(rt)
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Bench datapoints', email: 'datapoints@example.com', password: 'bench password 1' } })
if (signup.statusCode !== 201) throw new Error(`signup answered ${signup.statusCode}: ${signup.body}`)
const { token, organization } = signup.json() as { token: string; organization: { id: string } }
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const api = async (method: 'GET' | 'POST', url: string, payload?: unknown, want = 200) => {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}) })
  if (res.statusCode !== want) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`)
  return res
}

// Three sets of S series: api, copy (chunked), stream (one COPY).
await api('POST', '/api/v1/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] }, 201)
const SIDES = ['api', 'copy', 'stream'] as const
type Side = (typeof SIDES)[number]
const sets = {} as Record<Side, { id: string; key: number }[]>
for (const side of SIDES) {
  sets[side] = []
  for (let j = 0; j < S; j++) {
    const e = (await api('POST', '/api/v1/entities', { type: 'Meter', name: `${side}-meter-${j}` }, 201)).json() as { id: string }
    const s = (await api('POST', '/api/v1/series', { entity_id: e.id, property: 'flow' }, 201)).json() as { id: string }
    sets[side].push({ id: s.id, key: 0 })
  }
}
const keys = new Map((await raw(`select id::text as id, key::text as key from series where organization_id = $1`, [organization.id])).map((r) => [String(r.id), Number(r.key)]))
for (const side of SIDES) for (const s of sets[side]) s.key = keys.get(s.id)!

// The data: point p of series j. Three decimals, so JSON and COPY text carry the same digits.
const tsOf = (p: number) => T0 + p * STEP_MS
const valueOf = (j: number, p: number) => Math.round((40 + j * 0.25 + 10 * Math.sin((p / 96) * 2 * Math.PI + j)) * 1000) / 1000
const points = (c: number) => Array.from({ length: PER }, (_, k) => c * PER + k)
const apiBody = (c: number) => JSON.stringify({ items: sets.api.map((s, j) => ({ series_id: s.id, timestamps: points(c).map(tsOf), values: points(c).map((p) => valueOf(j, p)) })) })
const copyText = (side: Side, c: number) => {
  let out = ''
  for (const [j, s] of sets[side].entries()) for (const p of points(c)) out += `${s.key}\t${new Date(tsOf(p)).toISOString()}\t${valueOf(j, p)}\n`
  return out
}

const [made] = await raw(`select stratum_ensure_point_partitions($1::timestamptz, $2::timestamptz) as n`, [new Date(T0).toISOString(), new Date(T_END).toISOString()])
log({ case: 'setup', engine: ENGINE, series: 3 * S, partitions_made: made!.n, body_bytes_per_request: apiBody(0).length, copy_bytes_per_chunk: copyText('copy', 0).length })

// ---------------------------------------------------------------------------------------------
// API and chunked COPY, taking turns.
const requests = N / CHUNK
const ms = { api: [] as number[], copy: [] as number[] }
let apiPoints = 0
quiet()
const profiler = CPU_PROFILE ? new Session() : null
// When profiling on PostgreSQL, the app's own statements are timed too (its pg, not bench's).
const sqlMs = new Map<string, { n: number; ms: number }>()
if (profiler && PG_URL) {
  const appPg = createRequire(join(BENCH, '..', 'src', 'index.js'))('pg') as typeof pg
  const query = appPg.Client.prototype.query as (...a: unknown[]) => unknown
  appPg.Client.prototype.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0] as string | { text?: string }
    const text = (typeof q === 'string' ? q : (q?.text ?? '')).replace(/\s+/g, ' ').slice(0, 40)
    const t = performance.now()
    const r = query.apply(this, a) as Promise<unknown> | undefined
    if (r && typeof r.then === 'function') {
      r.then(
        () => {
          const e = sqlMs.get(text) ?? { n: 0, ms: 0 }
          e.n++
          e.ms += performance.now() - t
          sqlMs.set(text, e)
        },
        () => {},
      )
    }
    return r
  } as typeof appPg.Client.prototype.query
}
// When profiling, all bodies are built first, so the profile holds the requests only.
const prebuilt = profiler ? Array.from({ length: requests }, (_, c) => apiBody(c)) : []
if (profiler) {
  profiler.connect()
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.start')
}
for (let c = 0; c < requests; c++) {
  const body = profiler ? prebuilt[c]! : apiBody(c)
  const text = profiler ? '' : copyText('copy', c)
  const runApi = async () => {
    const t = performance.now()
    const res = await api('POST', '/api/v1/datapoints', body)
    ms.api.push(performance.now() - t)
    apiPoints += (res.json() as { points: number }).points
  }
  const runCopy = async () => {
    const t = performance.now()
    await copy(text)
    ms.copy.push(performance.now() - t)
  }
  if (profiler) {
    await runApi()
  } else if (c % 2 === 0) {
    await runCopy()
    await runApi()
  } else {
    await runApi()
    await runCopy()
  }
}
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop')
  writeFileSync(CPU_PROFILE!, JSON.stringify(profile))
  log({ case: 'API POST /datapoints (profiled, COPY skipped)', engine: ENGINE, rows: N, ms: r1(sum(ms.api)), rows_per_s: Math.round(N / (sum(ms.api) / 1000)), profile: CPU_PROFILE, sql_ms: Object.fromEntries([...sqlMs].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, { n: v.n, ms: r1(v.ms) }])) })
  await app.close()
  await copyClient?.end()
  await database.close()
  if (admin) {
    await admin.query('drop database if exists bench_datapoints with (force)')
    await admin.end()
  }
  rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
const total = { api: sum(ms.api), copy: sum(ms.copy) }
log({ case: 'API POST /datapoints', engine: ENGINE, rows: N, requests, ms: r1(total.api), rows_per_s: Math.round(N / (total.api / 1000)), median_request_ms: r1(median(ms.api)), ms_per_request: ms.api.map(r1), points_answered: apiPoints })
log({ case: `COPY per ${CHUNK}`, engine: ENGINE, rows: N, statements: requests, ms: r1(total.copy), rows_per_s: Math.round(N / (total.copy / 1000)), median_statement_ms: r1(median(ms.copy)), ms_per_statement: ms.copy.map(r1) })

// ---------------------------------------------------------------------------------------------
// One COPY of all N rows.
let all = ''
for (let c = 0; c < requests; c++) all += copyText('stream', c)
quiet()
let streamMs = Number.NaN
try {
  const t = performance.now()
  await copy(all)
  streamMs = performance.now() - t
  log({ case: 'COPY one stream', engine: ENGINE, rows: N, bytes: all.length, ms: r1(streamMs), rows_per_s: Math.round(N / (streamMs / 1000)) })
} catch (err) {
  log({ case: 'COPY one stream', engine: ENGINE, rows: N, bytes: all.length, error: String(err) })
}
all = ''

log({
  case: 'ratio API / COPY (rows/s)',
  engine: ENGINE,
  goal: 0.5,
  vs_copy_chunked: +(total.copy / total.api).toFixed(3),
  vs_copy_stream: +(streamMs / total.api).toFixed(3),
})

// ---------------------------------------------------------------------------------------------
// Were all rows stored, and the same on every side?
const check = await raw(
  `select x.side, count(p.*)::int as n, round(sum(p.value)::numeric, 3)::text as sum, min(p.ts) as min_ts, max(p.ts) as max_ts
   from unnest($1::text[], $2::bigint[]) as x(side, key) join points p on p.series_id = x.key group by x.side order by x.side`,
  [SIDES.flatMap((side) => sets[side].map(() => side)), SIDES.flatMap((side) => sets[side].map((s) => s.key))],
)
const parts = await raw(`select count(*)::int as n from pg_inherits where inhparent = 'points'::regclass`)
const [events] = await raw(`select count(*)::int as n from events where organization_id = $1 and event_type = 'datapoints.written'`, [organization.id])
const same = check.length === 3 && check.every((r) => r.n === N && r.sum === check[0]!.sum && String(r.min_ts) === String(check[0]!.min_ts) && String(r.max_ts) === String(check[0]!.max_ts))
log({ case: 'check', engine: ENGINE, sides: check.map((r) => ({ ...r, min_ts: new Date(r.min_ts as string).toISOString(), max_ts: new Date(r.max_ts as string).toISOString() })), all_sides_equal_and_complete: same, partitions: parts[0]!.n, datapoints_written_events: events!.n, events_expected: requests * S })

await app.close()
await copyClient?.end()
await database.close()
if (admin) {
  await admin.query('drop database if exists bench_datapoints with (force)')
  await admin.end()
}
rmSync(dataDir, { recursive: true, force: true })
if (!same) process.exit(1)
