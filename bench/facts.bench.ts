// Facts by component and scenario compare (issue #7), over real HTTP (app.listen on 127.0.0.1,
// fetch, a real API key) against the same SQL run directly, in the same run.
// Data (full size, FULL=1): 10,000,000 hourly points. 5 data sources x 10 components = 50
// components; each component carries 20 series (5 wells x 4 properties of type Well, unit-less),
// so 1,000 series of 10,000 hourly points each (2025-01-01T00:00Z to 2026-02-21T16:00Z). Metadata
// through the API (app.inject), points through POST /api/v1/datapoints (10,000 a request: the next
// 100 hours of 100 series), then the rollup maintainer until nothing is stale, then ANALYZE.
//  - facts-week: GET /api/v1/facts?component=<source/component>&object_type=Well&
//    object_type_property=<p>&from=&to= over one week (168 h, midnight to midnight) of a random
//    component and property: 5 series, 840 facts, one page (limit=1000).
//  - facts-month: the same over 30 days: 3,600 facts, 4 pages of 1,000 (the API follows
//    next_cursor; the time is the whole walk).
//    SQL: (a) the API's own statements, as it runs them: the series lookup join, then the points
//    page (per page, with the cursor condition); (b) one statement joining series and points, all
//    rows of the range. REQUESTS requests per case after WARMUP, API and SQL taking turns (who goes
//    first alternates); p50/p95 per side; row counts must agree request by request.
//  - compare-1mo / compare-1d / compare-raw: POST /api/v1/scenarios/compare of 3 scenarios (each
//    links one component: 20 series) over their period, 2025 (8,760 hours a series), aggregate
//    avg, time_zone UTC; granularity 1mo, 1d, and none (the values side by side). SQL: one statement
//    over the 3 scenarios' links, series and raw points, count/sum/min/max/avg per scenario, series
//    and bucket (raw: the points themselves); for 1mo and 1d also the same from rollups_1d.
//    ROUNDS rounds after one warm-up round, sides taking turns; counts and sums must agree.
// Engine: PGlite on disk (default) or PostgreSQL when DATABASE_URL is set (a fresh database
// bench_facts is created there and dropped at the end). From the repo root:
//   npx tsx bench/facts.bench.ts                                      # smoke size, PGlite
//   FULL=1 DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/facts.bench.ts
//   knobs (smoke / FULL=1): COMPONENTS=5/50 SOURCES=5/5 WELLS=5 (series per component = 4 x WELLS)
//   PER=2000/10000 (hourly points per series) REQUESTS=40/200 WARMUP=10/20 ROUNDS=5/20 (compare)
//   RAW_ROUNDS=3/10 (compare without granularity) ROLLUPS=linked|all (see the load) KEEP=1 (keep the PostgreSQL database)
// Raw JSON lines go to bench/results/facts-<engine>-<time>.jsonl.
import { execSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchRecord } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const FULL = process.env.FULL === '1'
const knob = (name: string, smoke: number, full: number) => Number(process.env[name] ?? (FULL ? full : smoke))
const COMPONENTS = knob('COMPONENTS', 5, 50)
const SOURCES = knob('SOURCES', 5, 5)
const WELLS = knob('WELLS', 5, 5)
const PROPS = ['oil_rate', 'gas_rate', 'water_rate', 'pressure']
const SERIES_PER = WELLS * PROPS.length
const PER = knob('PER', 2000, 10_000)
const REQUESTS = knob('REQUESTS', 40, 200)
const WARMUP = knob('WARMUP', 10, 20)
const ROUNDS = knob('ROUNDS', 5, 20)
const RAW_ROUNDS = knob('RAW_ROUNDS', 3, 10)
const SCENARIOS = 3
const HOUR = 3_600_000
const T0 = Date.UTC(2025, 0, 1)
const T_END = T0 + PER * HOUR // exclusive
const PERIOD_END = T0 + Math.min(PER, 8760) * HOUR // the scenarios' period: 2025, or the data if shorter
const PG_URL = process.env.DATABASE_URL || null
const ENGINE = PG_URL ? 'postgres' : 'pglite'
if (PG_URL) process.env.BENCH_PGPORT = new URL(PG_URL).port || '5432'
if (COMPONENTS % SOURCES !== 0) throw new Error('COMPONENTS must be a multiple of SOURCES')
if (COMPONENTS < SCENARIOS) throw new Error(`COMPONENTS must be at least ${SCENARIOS}`)
if (PER < 30 * 24) throw new Error('PER must be at least 720 (a month of hours)')
if (100 % PROPS.length !== 0 || (COMPONENTS * SERIES_PER) % 100 !== 0 || PER % 100 !== 0) throw new Error('COMPONENTS x SERIES_PER and PER must be multiples of 100')

const { loadConfig } = await import('../src/config.ts')
const { openPglite } = await import('../src/core/db/pglite.ts')
const { openPostgres } = await import('../src/core/db/postgres.ts')
const { migrate } = await import('../src/core/db/migrate.ts')
const { createApp, openRuntime } = await import('../src/core/runtime.ts')
const { createLogger } = await import('../src/core/observability/logger.ts')

const { log, sh } = benchRecord(BENCH, `facts-${ENGINE}`)
const git = (cmd: string) => {
  try {
    return execSync(`git ${cmd}`, { cwd: join(BENCH, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return `not a git tree (${process.env.BENCH_REV ?? 'BENCH_REV unset'})`
  }
}
log({
  config: { engine: ENGINE, full: FULL, components: COMPONENTS, sources: SOURCES, series_per_component: SERIES_PER, series: COMPONENTS * SERIES_PER, points_per_series: PER, points: COMPONENTS * SERIES_PER * PER, from: new Date(T0).toISOString(), to: new Date(T_END).toISOString(), requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS, raw_rounds: RAW_ROUNDS },
  git: { head: git('rev-parse --short HEAD'), dirty: git('status --porcelain --untracked-files=no').split('\n').filter(Boolean) },
})
const quiet = () => log(JSON.parse(sh('quiet.sh')))
const r1 = (x: number) => +x.toFixed(1)
/** Nearest-rank percentile. */
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!
}
// A seeded generator, so a run asks the same questions every time.
let seed = 20261201
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!

// ---------------------------------------------------------------------------------------------
// A fresh, migrated database, one app, one organisation, an API key.
const dataDir = mkdtempSync(join(tmpdir(), 'stratum-facts-bench-'))
let admin: pg.Pool | null = null
let database
let raw: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
if (PG_URL) {
  admin = new pg.Pool({ connectionString: PG_URL, max: 1 })
  await admin.query('drop database if exists bench_facts with (force)')
  await admin.query('create database bench_facts')
  const url = new URL(PG_URL)
  url.pathname = '/bench_facts'
  const d = await openPostgres({ url: url.toString(), poolMax: 10, statementTimeoutMs: 0, applicationName: 'facts-bench' })
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
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Bench facts', email: 'facts@example.com', password: 'bench password 1' } })
if (signup.statusCode !== 201) throw new Error(`signup answered ${signup.statusCode}: ${signup.body}`)
const { token, organization } = signup.json() as { token: string; organization: { id: string } }
const ORG = organization.id
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const api = async (method: 'GET' | 'POST', url: string, payload?: unknown, want = 200) => {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}) })
  if (res.statusCode !== want) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`)
  return res
}
const { key } = (await api('POST', '/api/v1/api-keys', { name: 'facts bench', scopes: ['measurements:read', 'scenarios:read'], rate_limit_per_minute: 1_000_000 }, 201)).json() as { key: string }

// (The default of 600 requests a minute would stop the month case.)
// Metadata: a type with 4 unit-less properties, WELLS wells, SOURCES x (COMPONENTS / SOURCES)
// components, and a series per (component, well, property).
await api('POST', '/api/v1/object-types', { name: 'Well', properties: PROPS.map((name) => ({ name, data_type: 'number', time_varying: true })) }, 201)
const wells: string[] = []
for (let w = 0; w < WELLS; w++) wells.push(((await api('POST', '/api/v1/entities', { type: 'Well', name: `Well-${w + 1}` }, 201)).json() as { id: string }).id)
interface Component {
  id: string
  name: string // "source/component", as the facts API takes it
  source: string
  component: string
  series: string[]
}
const components: Component[] = []
for (let d = 0; d < SOURCES; d++) {
  const source = `Source ${d + 1}`
  const ds = (await api('POST', '/api/v1/data-sources', { name: source, type: d === 0 ? 'INPUT' : 'OUTPUT' }, 201)).json() as { id: string }
  for (let k = 0; k < COMPONENTS / SOURCES; k++) {
    const component = `Run ${k + 1}`
    const c = (await api('POST', `/api/v1/data-sources/${ds.id}/components`, { name: component }, 201)).json() as { id: string }
    const series: string[] = []
    for (const w of wells) for (const property of PROPS) series.push(((await api('POST', '/api/v1/series', { entity_id: w, property, component_id: c.id }, 201)).json() as { id: string }).id)
    components.push({ id: c.id, name: `${source}/${component}`, source, component, series })
  }
}
const allSeries = components.flatMap((c) => c.series)

// Scenarios: each links one component of Source 1 (Run 1, Run 2, Run 3), over 2025.
const scenarioIds: string[] = []
for (let k = 0; k < SCENARIOS; k++) {
  const s = (await api('POST', '/api/v1/scenarios', { name: `Case ${k + 1}`, period_start: new Date(T0).toISOString(), period_end: new Date(PERIOD_END).toISOString() }, 201)).json() as { id: string }
  await api('POST', `/api/v1/scenarios/${s.id}/components`, { component_id: components[k]!.id }, 201)
  scenarioIds.push(s.id)
}

// ---------------------------------------------------------------------------------------------
// Load: requests of 10,000 points, the next 100 hours of 100 series.
const valueOf = (j: number, p: number) => Math.round((100 + (j % 97) + 10 * Math.sin((p / 24) * 2 * Math.PI + j) + 3 * Math.sin(p / 1000 + j)) * 1000) / 1000
const [made] = await raw(`select stratum_ensure_point_partitions($1::timestamptz, $2::timestamptz) as n`, [new Date(T0).toISOString(), new Date(T_END - HOUR).toISOString()])
quiet()
let t = performance.now()
let loaded = 0
for (let p0 = 0; p0 < PER; p0 += 100) {
  const ps = Array.from({ length: 100 }, (_, k) => p0 + k)
  const timestamps = ps.map((p) => T0 + p * HOUR)
  for (let g = 0; g < allSeries.length; g += 100) {
    const body = JSON.stringify({ items: allSeries.slice(g, g + 100).map((id, i) => ({ series_id: id, timestamps, values: ps.map((p) => valueOf(g + i, p)) })) })
    loaded += ((await api('POST', '/api/v1/datapoints', body)).json() as { points: number }).points
  }
}
const loadMs = performance.now() - t
log({ case: 'load', points: loaded, partitions_made: made!.n, ms: r1(loadMs), points_per_s: Math.round(loaded / (loadMs / 1000)) })

// The rollup maintainer, as a worker process runs it, until nothing is stale. ROLLUPS=linked
// (default): only the hours of the series the scenarios link stay queued; the rest of the queue is
// dropped first (their rollups are never read here: facts read raw points), because on hourly data
// the maintainer rebuilds about 5,000 series-hours a second, so 10M would take about half an hour.
// ROLLUPS=all: everything.
const ROLLUPS = process.env.ROLLUPS ?? 'linked'
let dropped = { ranges: 0, series_hours: 0 }
if (ROLLUPS !== 'all') {
  const linked = `{${components.slice(0, SCENARIOS).flatMap((c) => c.series).join(',')}}`
  const [gone] = await raw(
    `with gone as (delete from rollup_dirty where series_id not in (select key from series where id = any($1::uuid[])) returning first_hour, last_hour)
     select count(*)::int as ranges, coalesce(sum(extract(epoch from last_hour - first_hour) / 3600 + 1), 0)::int as series_hours from gone`,
    [linked],
  )
  dropped = gone as typeof dropped
}
const task = rt.modules.find((m) => m.name === 'measurements')!.background![0]!
t = performance.now()
let rounds = 0
while (await task.run()) rounds++
const rollupMs = performance.now() - t
const [rows1h] = await raw('select count(*)::int as n from rollups_1h')
const [rows1d] = await raw('select count(*)::int as n from rollups_1d')
log({ case: 'rollup', which: ROLLUPS === 'all' ? 'all' : 'linked', queue_dropped: dropped, rounds: rounds + 1, ms: r1(rollupMs), series_hours_per_s: Math.round(Number(rows1h!.n) / (rollupMs / 1000)), rows_1h: rows1h!.n, rows_1d: rows1d!.n })
t = performance.now()
if (PG_URL) await raw('vacuum analyze')
else await raw('analyze')
log({ case: 'analyze', ms: r1(performance.now() - t) })

// ---------------------------------------------------------------------------------------------
// Over HTTP.
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1`
const httpHeaders = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
async function http(method: 'GET' | 'POST', path: string, body?: unknown): Promise<string> {
  const res = await fetch(`${base}${path}`, { method, headers: httpHeaders, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`)
  return text
}

// The API's statements (factsQuery.ts factSeries and factPage), with the values it binds.
const LOOKUP = `select s.key, s.id as series_id, t.name as object_type, e.name as object_instance, p.name as object_type_property, uc.name as sub_data_source,
       c.id as component_id, c.name as component, d.id as data_source_id, d.name as data_source, s.value_type
  from series s
  join entities e on e.organization_id = s.organization_id and e.id = s.entity_id
  join object_types t on t.id = s.object_type_id
  join object_type_properties p on p.id = s.property_id
  left join unit_categories uc on uc.id = p.unit_category_id
  left join components c on c.organization_id = s.organization_id and c.id = s.component_id
  left join data_sources d on d.organization_id = c.organization_id and d.id = c.data_source_id
  where s.organization_id = $1 and lower(t.name) = $2 and lower(p.name) = $3 and lower(d.name) = $4 and lower(c.name) = $5
  order by s.key`
const PAGE = `select series_id, ts, value, value_text, tag, description from points
  where series_id = any($1::bigint[]) and ts >= $2::timestamptz and ts < $3::timestamptz order by series_id, ts limit $4`
const PAGE_AFTER = `select series_id, ts, value, value_text, tag, description from points
  where series_id = any($1::bigint[]) and ts >= $2::timestamptz and ts < $3::timestamptz
  and (series_id, ts) > ($5::bigint, to_timestamp($6 / 1000.0)) order by series_id, ts limit $4`
// What one writes by hand: one statement, all facts of the range.
const JOINED = `select s.id as series_id, t.name as object_type, e.name as object_instance, p.name as object_type_property, c.name as component, d.name as data_source,
       pt.ts, pt.value
  from series s
  join entities e on e.organization_id = s.organization_id and e.id = s.entity_id
  join object_types t on t.id = s.object_type_id
  join object_type_properties p on p.id = s.property_id
  join components c on c.organization_id = s.organization_id and c.id = s.component_id
  join data_sources d on d.organization_id = c.organization_id and d.id = c.data_source_id
  join points pt on pt.series_id = s.key and pt.ts >= $6::timestamptz and pt.ts < $7::timestamptz
  where s.organization_id = $1 and lower(t.name) = $2 and lower(p.name) = $3 and lower(d.name) = $4 and lower(c.name) = $5
  order by s.key, pt.ts`
const LIMIT = 1000

interface FactQ {
  c: Component
  property: string
  from: string
  to: string
}
async function factsApi(q: FactQ): Promise<{ rows: number; pages: number; bytes: number }> {
  let cursor: string | null = null
  let rows = 0
  let pages = 0
  let bytes = 0
  do {
    const qs = new URLSearchParams({ component: q.c.name, object_type: 'Well', object_type_property: q.property, from: q.from, to: q.to, limit: String(LIMIT), ...(cursor ? { cursor } : {}) })
    const text = await http('GET', `/facts?${qs}`)
    bytes += text.length
    const page = JSON.parse(text) as { data: unknown[]; next_cursor: string | null }
    rows += page.data.length
    pages++
    cursor = page.next_cursor
  } while (cursor)
  return { rows, pages, bytes }
}
/** The API's statements, page by page as it runs them. */
async function factsSqlAsApi(q: FactQ): Promise<{ rows: number; pages: number }> {
  let after: [number, number] | null = null
  let rows = 0
  let pages = 0
  for (;;) {
    const series = await raw(LOOKUP, [ORG, 'well', q.property, q.c.source.toLowerCase(), q.c.component.toLowerCase()])
    const keys = `{${series.map((s) => s.key).join(',')}}`
    const found: Record<string, unknown>[] = after ? await raw(PAGE_AFTER, [keys, q.from, q.to, LIMIT + 1, after[0], after[1]]) : await raw(PAGE, [keys, q.from, q.to, LIMIT + 1])
    const page = found.slice(0, LIMIT)
    rows += page.length
    pages++
    if (found.length <= LIMIT) return { rows, pages }
    const last = page[page.length - 1]!
    after = [Number(last.series_id), new Date(last.ts as string).getTime()]
  }
}
async function factsSqlJoined(q: FactQ): Promise<{ rows: number }> {
  return { rows: (await raw(JOINED, [ORG, 'well', q.property, q.c.source.toLowerCase(), q.c.component.toLowerCase(), q.from, q.to])).length }
}

const summary: Record<string, unknown>[] = []
const factCases = [
  { name: 'facts-week', hours: 7 * 24 },
  { name: 'facts-month', hours: 30 * 24 },
]
for (const fc of factCases) {
  // Whole days, so a range runs midnight to midnight, anywhere in the data.
  const days = Math.floor((PER - fc.hours) / 24)
  const qs: FactQ[] = Array.from({ length: WARMUP + REQUESTS }, () => {
    const from = T0 + Math.floor(rand() * (days + 1)) * 24 * HOUR
    return { c: pick(components), property: pick(PROPS), from: new Date(from).toISOString(), to: new Date(from + fc.hours * HOUR).toISOString() }
  })
  const ms = { api: [] as number[], sql: [] as number[], joined: [] as number[] }
  let rowsSeen = 0
  let bytes = 0
  let pages = 0
  quiet()
  for (const [i, q] of qs.entries()) {
    const sides = [
      async () => {
        const t0 = performance.now()
        const a = await factsApi(q)
        return { side: 'api' as const, ms: performance.now() - t0, rows: a.rows, extra: a }
      },
      async () => {
        const t0 = performance.now()
        const s = await factsSqlAsApi(q)
        return { side: 'sql' as const, ms: performance.now() - t0, rows: s.rows, extra: s }
      },
      async () => {
        const t0 = performance.now()
        const s = await factsSqlJoined(q)
        return { side: 'joined' as const, ms: performance.now() - t0, rows: s.rows, extra: null }
      },
    ]
    if (i % 2) sides.reverse()
    const got = []
    for (const run of sides) got.push(await run())
    const n = new Set(got.map((g) => g.rows))
    if (n.size !== 1) throw new Error(`${fc.name} request ${i}: the sides disagree: ${JSON.stringify(got.map((g) => [g.side, g.rows]))} for ${JSON.stringify({ ...q, c: q.c.name })}`)
    if (i < WARMUP) continue
    for (const g of got) ms[g.side].push(g.ms)
    rowsSeen += got[0]!.rows
    const a = got.find((g) => g.side === 'api')!.extra as { bytes: number; pages: number }
    bytes += a.bytes
    pages += a.pages
  }
  const row = {
    case: fc.name,
    requests: REQUESTS,
    rows_per_request: r1(rowsSeen / REQUESTS),
    pages_per_request: r1(pages / REQUESTS),
    kb_per_request: r1(bytes / REQUESTS / 1024),
    api_p50_ms: r1(pct(ms.api, 0.5)),
    api_p95_ms: r1(pct(ms.api, 0.95)),
    sql_p50_ms: r1(pct(ms.sql, 0.5)),
    sql_p95_ms: r1(pct(ms.sql, 0.95)),
    joined_p50_ms: r1(pct(ms.joined, 0.5)),
    joined_p95_ms: r1(pct(ms.joined, 0.95)),
    api_over_sql_p50: +(pct(ms.api, 0.5) / pct(ms.sql, 0.5)).toFixed(2),
    api_over_joined_p50: +(pct(ms.api, 0.5) / pct(ms.joined, 0.5)).toFixed(2),
  }
  summary.push(row)
  log({ result: row })
}

// ---------------------------------------------------------------------------------------------
// Scenario compare: 3 scenarios x SERIES_PER series over the scenarios' period.
const refs = wells.flatMap((_, w) => PROPS.map((property) => ({ object_instance: `Well-${w + 1}`, object_type_property: property })))
const start = new Date(T0).toISOString()
const end = new Date(PERIOD_END).toISOString()
const LINKED = `from scenario_components l
  join series s on s.organization_id = l.organization_id and s.component_id = l.component_id
  join entities e on e.organization_id = s.organization_id and e.id = s.entity_id
  join object_type_properties p on p.id = s.property_id`
const FILTER = `where l.organization_id = $1 and l.scenario_id = any($2::uuid[]) and lower(e.name) = any($5::text[])`
const names = `{${wells.map((_, w) => `"well-${w + 1}"`).join(',')}}`
const aggSql = (bucket: string) => `select l.scenario_id, e.name as object_instance, p.name as object_type_property, ${bucket} as b,
    count(*)::int as count, sum(pt.value) as sum, min(pt.value) as min, max(pt.value) as max, avg(pt.value) as avg
  ${LINKED}
  join points pt on pt.series_id = s.key and pt.ts >= $3::timestamptz and pt.ts < $4::timestamptz
  ${FILTER}
  group by 1, 2, 3, 4 order by 2, 3, 4, 1`
const rollupSql = (bucket: string) => `select l.scenario_id, e.name as object_instance, p.name as object_type_property, ${bucket} as b,
    sum(r.n)::int as count, sum(r.sum) as sum, min(r.min) as min, max(r.max) as max, sum(r.sum) / sum(r.n) as avg
  ${LINKED}
  join rollups_1d r on r.series_id = s.key and r.bucket >= $3::timestamptz and r.bucket < $4::timestamptz
  ${FILTER}
  group by 1, 2, 3, 4 order by 2, 3, 4, 1`
const rawSql = `select l.scenario_id, e.name as object_instance, p.name as object_type_property, pt.ts, pt.value
  ${LINKED}
  join points pt on pt.series_id = s.key and pt.ts >= $3::timestamptz and pt.ts < $4::timestamptz
  ${FILTER}
  order by 2, 3, 4, 1`
interface Side {
  values: number // scenario x series x bucket (or point) cells with a value
  count: number // points behind them
  avgSum: number // sum of the cells' values (the avg per bucket, or the points)
}
type Comparison = { series: { rows: { values: (number | null)[] }[]; summary: { count: number }[] }[] }
// Buckets of fixed steps are anchored at the first day's midnight (UTC here): date_bin is their fastest form.
const compareCases = [
  { name: 'compare-1mo', granularity: '1mo', bucket: `date_trunc('month', pt.ts at time zone 'UTC')`, rbucket: `date_trunc('month', r.bucket at time zone 'UTC')`, rounds: ROUNDS },
  { name: 'compare-1d', granularity: '1d', bucket: `date_bin('1 day', pt.ts, '${start}'::timestamptz)`, rbucket: 'r.bucket', rounds: ROUNDS },
  { name: 'compare-raw', granularity: undefined, bucket: null, rbucket: null, rounds: RAW_ROUNDS },
]
for (const cc of compareCases) {
  const body = { scenario_ids: scenarioIds, series: refs, aggregate: 'avg', time_zone: 'UTC', ...(cc.granularity ? { granularity: cc.granularity } : {}) }
  const params = [ORG, `{${scenarioIds.join(',')}}`, start, end, names]
  const viaApi = async (): Promise<Side & { bytes: number; rows: number }> => {
    const text = await http('POST', '/scenarios/compare', body)
    const c = JSON.parse(text) as Comparison
    const out = { values: 0, count: 0, avgSum: 0, bytes: text.length, rows: 0 }
    for (const s of c.series) {
      out.rows += s.rows.length
      for (const r of s.rows) for (const v of r.values) if (v !== null) (out.values++, (out.avgSum += v))
      for (const x of s.summary) out.count += x.count
    }
    return out
  }
  const viaSql = async (text: string): Promise<Side & { rows: number }> => {
    const found = await raw(text, params)
    if (!cc.granularity) return { values: found.length, count: found.length, avgSum: found.reduce((n, r) => n + Number(r.value), 0), rows: found.length }
    return { values: found.length, count: found.reduce((n, r) => n + Number(r.count), 0), avgSum: found.reduce((n, r) => n + Number(r.avg), 0), rows: found.length }
  }
  const sides: { name: 'api' | 'sql' | 'rollups'; run: () => Promise<Side & { rows: number; bytes?: number }> }[] = [
    { name: 'api', run: viaApi },
    { name: 'sql', run: () => viaSql(cc.bucket ? aggSql(cc.bucket) : rawSql) },
    ...(cc.rbucket ? [{ name: 'rollups' as const, run: () => viaSql(rollupSql(cc.rbucket!)) }] : []),
  ]
  const ms = { api: [] as number[], sql: [] as number[], rollups: [] as number[] }
  const last: Record<string, Side & { rows: number; bytes?: number }> = {}
  quiet()
  for (let r = 0; r < cc.rounds + 1; r++) {
    const order = r % 2 ? [...sides].reverse() : sides
    for (const s of order) {
      const t0 = performance.now()
      last[s.name] = await s.run()
      if (r > 0) ms[s.name].push(performance.now() - t0)
    }
    if (r > 0) log({ case: cc.name, round: r, ...Object.fromEntries(Object.entries(ms).filter(([, v]) => v.length).map(([k, v]) => [`${k}_ms`, r1(v.at(-1)!)])) })
  }
  const a = last.api!
  for (const [k, s] of Object.entries(last)) {
    if (s.values !== a.values || s.count !== a.count || Math.abs(s.avgSum - a.avgSum) > 1e-6 * Math.abs(a.avgSum)) throw new Error(`${cc.name}: the API and ${k} disagree: ${JSON.stringify(last)}`)
  }
  const row = {
    case: cc.name,
    rounds: cc.rounds,
    values: a.values,
    points: a.count,
    api_rows: a.rows,
    sql_rows: last.sql!.rows,
    api_kb: r1(a.bytes! / 1024),
    api_p50_ms: r1(pct(ms.api, 0.5)),
    api_p95_ms: r1(pct(ms.api, 0.95)),
    sql_p50_ms: r1(pct(ms.sql, 0.5)),
    sql_p95_ms: r1(pct(ms.sql, 0.95)),
    ...(ms.rollups.length ? { rollups_sql_p50_ms: r1(pct(ms.rollups, 0.5)), rollups_sql_p95_ms: r1(pct(ms.rollups, 0.95)) } : {}),
    api_over_sql_p50: +(pct(ms.api, 0.5) / pct(ms.sql, 0.5)).toFixed(2),
  }
  summary.push(row)
  log({ result: row })
}
log({ summary })
console.table(summary)

await app.close()
await database.close()
if (admin) {
  if (!process.env.KEEP) await admin.query('drop database if exists bench_facts with (force)')
  await admin.end()
}
rmSync(dataDir, { recursive: true, force: true })
