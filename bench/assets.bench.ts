// Entities at scale (issue #5), in-process (`app.inject`, real session-token authentication):
//  1. Bulk upsert: N_UPSERT entities with 10 properties each (numbers, integers, strings, an enum
//     `status` ~10 % 'online', booleans) through POST /api/v1/entities/bulk, 10,000 per request
//     (Ajv validation of every row, one event per row, one transaction per request), against the
//     same rows inserted by the database alone: one plain `insert ... select from
//     jsonb_to_recordset($1)` per 10,000 into a second type (no validation, no events). The two
//     sides take turns chunk by chunk, so both write into a table of the same size. Then a second
//     pass changes the same rows (matched by external_id): API upsert vs one plain `update ...
//     from jsonb_to_recordset` per chunk. The driver then checks that the changes were stored.
//  2. Filtered list on N_LIST entities of one type (loaded by generate_series, then ANALYZE):
//     GET /api/v1/entities?type=..&properties.status=online&limit=100 with and without the GIN
//     index entities_properties_idx, and numeric ranges (properties.temperature[gte]=49.5) with
//     and without an expression index on stratum_jsonb_number(properties -> 'temperature');
//     median of REPS after one warm-up, plus EXPLAIN ANALYZE of the very SQL the API ran.
// Engine: embedded PGlite (on disk in a temp folder, as `stratum serve` uses it) by default;
// PostgreSQL when DATABASE_URL is set (a fresh database bench_assets is created there and dropped
// at the end). Run from the repo root:
//   npx tsx bench/assets.bench.ts                                                   # PGlite
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/assets.bench.ts
//   knobs: N_UPSERT=100000 N_LIST=1000000 REPS=7 (N_UPSERT a multiple of 10,000 or smaller)
// Raw JSON lines go to bench/results/assets-<engine>-<time>.jsonl.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchRecord } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const N_UPSERT = Number(process.env.N_UPSERT ?? 100_000)
const N_LIST = Number(process.env.N_LIST ?? 1_000_000)
const REPS = Number(process.env.REPS ?? 7)
const CHUNK = Math.min(10_000, N_UPSERT)
const PG_URL = process.env.DATABASE_URL || null
const ENGINE = PG_URL ? 'postgres' : 'pglite'
if (PG_URL) process.env.BENCH_PGPORT = new URL(PG_URL).port || '5432'

const { loadConfig } = await import('../src/config.ts')
const { openPglite } = await import('../src/core/db/pglite.ts')
const { openPostgres } = await import('../src/core/db/postgres.ts')
const { migrate } = await import('../src/core/db/migrate.ts')
const { createApp, openRuntime } = await import('../src/core/runtime.ts')
const { createLogger } = await import('../src/core/observability/logger.ts')

const { log, sh } = benchRecord(BENCH, `assets-${ENGINE}`)
log({ config: { engine: ENGINE, nUpsert: N_UPSERT, nList: N_LIST, reps: REPS, chunk: CHUNK } })
const quiet = () => log(JSON.parse(sh('quiet.sh')))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const r1 = (x: number) => +x.toFixed(1)

/** A fresh, migrated database with one app and one signed-up organisation. */
async function fresh(label: string) {
  const dataDir = mkdtempSync(join(tmpdir(), `stratum-assets-bench-${label}-`))
  let admin: pg.Pool | null = null
  let database
  let raw: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
  /** The last SQL statement the app ran against entities (to EXPLAIN it). */
  const seen: { text: string; params: unknown[] }[] = []
  if (PG_URL) {
    admin = new pg.Pool({ connectionString: PG_URL, max: 1 })
    await admin.query('drop database if exists bench_assets with (force)')
    await admin.query('create database bench_assets')
    const url = new URL(PG_URL)
    url.pathname = '/bench_assets'
    const d = await openPostgres({ url: url.toString(), poolMax: 10, statementTimeoutMs: 0, applicationName: 'assets-bench' })
    const query = d.pool.query.bind(d.pool) as (...a: unknown[]) => Promise<pg.QueryResult>
    ;(d.pool as unknown as { query: unknown }).query = (...a: unknown[]) => {
      const q = a[0] as string | { text: string; values?: unknown[] }
      const text = typeof q === 'string' ? q : q.text
      if (/from "entities"/.test(text)) seen.push({ text, params: ((typeof q === 'string' ? undefined : q.values) ?? a[1]) as unknown[] })
      return query(...a)
    }
    raw = async (text, params = []) => (await d.pool.query(text, params)).rows
    database = d
  } else {
    const d = await openPglite({ dataDir })
    const query = d.client.query.bind(d.client) as (...a: unknown[]) => Promise<unknown>
    ;(d.client as unknown as { query: unknown }).query = (...a: unknown[]) => {
      const text = a[0] as string
      if (typeof text === 'string' && /from "entities"/.test(text)) seen.push({ text, params: a[1] as unknown[] })
      return query(...a)
    }
    raw = async (text, params = []) => (await d.client.query<Record<string, unknown>>(text, params)).rows
    database = d
  }
  await migrate(database)
  const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
  const rt = await openRuntime(config, createLogger('silent', { pretty: false }), { database, migrate: false })
  const app = await createApp(rt)
  const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: `Bench ${label}`, email: `${label}@example.com`, password: 'bench password 1' } })
  if (signup.statusCode !== 201) throw new Error(`signup answered ${signup.statusCode}: ${signup.body}`)
  const { token, organization } = signup.json() as { token: string; organization: { id: string } }
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const api = async (method: 'GET' | 'POST', url: string, payload?: unknown, want = 200) => {
    const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}) })
    if (res.statusCode !== want) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`)
    return res
  }
  const close = async () => {
    await app.close()
    await database.close()
    if (admin) {
      await admin.query('drop database if exists bench_assets with (force)')
      await admin.end()
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { api, raw, seen, org: organization.id, close }
}

const PROPERTIES = [
  { name: 'status', data_type: 'enum', enum_values: ['online', 'offline', 'maintenance'] },
  { name: 'temperature', data_type: 'number' },
  { name: 'pressure', data_type: 'number' },
  { name: 'humidity', data_type: 'number' },
  { name: 'voltage', data_type: 'number' },
  { name: 'rssi', data_type: 'integer' },
  { name: 'uptime_s', data_type: 'integer' },
  { name: 'firmware', data_type: 'string' },
  { name: 'location', data_type: 'string' },
  { name: 'enabled', data_type: 'boolean' },
]
const propsOf = (i: number, pass: number) => ({
  status: i % 10 === 0 ? 'online' : i % 10 === 1 ? 'maintenance' : 'offline',
  temperature: (i % 500) / 10 + (pass - 1) * 0.5,
  pressure: 1000 + (i % 997) / 10,
  humidity: (i % 100) + 0.5,
  voltage: 3.3 + (i % 7) / 100,
  rssi: -(30 + (i % 60)),
  uptime_s: i * 13 + (pass - 1) * 60,
  firmware: `1.${i % 5}.${i % 3}`,
  location: `site-${i % 50}/rack-${i % 20}`,
  enabled: i % 3 !== 0,
})

// ---------------------------------------------------------------------------------------------
// 1. Bulk upsert
{
  const { api, raw, org, close } = await fresh('upsert')
  await api('POST', '/api/v1/object-types', { name: 'SensorApi', properties: PROPERTIES }, 201)
  await api('POST', '/api/v1/object-types', { name: 'SensorSql', properties: PROPERTIES }, 201)
  const [sqlType] = await raw(`select t.id, s.version from object_types t join object_type_schemas s on s.object_type_id = t.id and s.valid_to is null where t.organization_id = $1 and t.name = 'SensorSql'`, [org])
  const chunks = Math.ceil(N_UPSERT / CHUNK)
  const range = (c: number) => Array.from({ length: Math.min(CHUNK, N_UPSERT - c * CHUNK) }, (_, k) => c * CHUNK + k)
  // Bodies are serialised before the clock starts, on both sides.
  const apiBody = (c: number, pass: number) => JSON.stringify({ items: range(c).map((i) => ({ type: 'SensorApi', name: `sensor-${i}`, external_id: `ext-${i}`, properties: propsOf(i, pass) })) })
  const sqlBody = (c: number, pass: number) => JSON.stringify(range(c).map((i) => ({ n: `sensor-${i}`, x: `sql-${i}`, p: propsOf(i, pass) })))
  const INSERT = `insert into entities (id, organization_id, object_type_id, name, properties, status, schema_version, external_id, created_by)
    select gen_random_uuid(), $1::uuid, $2::uuid, r.n, r.p, 'active', $3::int, r.x, 'bench'
    from jsonb_to_recordset($4::jsonb) as r(n text, x text, p jsonb) returning id`
  const UPDATE = `update entities e set properties = r.p, updated_at = now()
    from jsonb_to_recordset($4::jsonb) as r(x text, p jsonb)
    where e.organization_id = $1::uuid and e.object_type_id = $2::uuid and $3::int is not null and e.external_id = r.x returning e.id`
  for (const pass of [1, 2]) {
    quiet()
    const ms = { api: [] as number[], sql: [] as number[] }
    const counts = { created: 0, updated: 0, unchanged: 0, sqlRows: 0 }
    for (let c = 0; c < chunks; c++) {
      const a = apiBody(c, pass)
      const s = sqlBody(c, pass)
      const runApi = async () => {
        const t = performance.now()
        const res = await api('POST', '/api/v1/entities/bulk', a)
        ms.api.push(performance.now() - t)
        const b = res.json() as { created: number; updated: number; unchanged: number }
        counts.created += b.created
        counts.updated += b.updated
        counts.unchanged += b.unchanged
      }
      const runSql = async () => {
        const t = performance.now()
        const rows = await raw(pass === 1 ? INSERT : UPDATE, [org, sqlType!.id, sqlType!.version, s])
        ms.sql.push(performance.now() - t)
        counts.sqlRows += rows.length
      }
      if (c % 2 === 0) {
        await runSql()
        await runApi()
      } else {
        await runApi()
        await runSql()
      }
    }
    const total = { api: ms.api.reduce((x, y) => x + y, 0), sql: ms.sql.reduce((x, y) => x + y, 0) }
    // Were the rows stored as sent? (count of API rows whose uptime_s is this pass's value)
    const [stored] = await raw(`select count(*)::int as n from entities e join object_types t on t.id = e.object_type_id where e.organization_id = $1 and t.name = 'SensorApi' and case when e.external_id ~ '^ext-[0-9]+$' then (e.properties ->> 'uptime_s')::bigint = (substring(e.external_id from 5))::bigint * 13 + $2::int end`, [org, (pass - 1) * 60])
    const [events] = await raw(`select count(*)::int as n from events where organization_id = $1 and event_type like 'entity.%' and entity_type = 'SensorApi'`, [org])
    const what = pass === 1 ? 'insert' : 'update'
    log({ case: `bulk ${what}: API POST /entities/bulk`, engine: ENGINE, rows: N_UPSERT, requests: chunks, ms: r1(total.api), rows_per_s: Math.round(N_UPSERT / (total.api / 1000)), ms_per_request: ms.api.map(r1), ...counts, stored_as_sent: stored!.n, events_total: events!.n })
    log({ case: `bulk ${what}: plain SQL per ${CHUNK}`, engine: ENGINE, rows: N_UPSERT, statements: chunks, ms: r1(total.sql), rows_per_s: Math.round(N_UPSERT / (total.sql / 1000)), ms_per_statement: ms.sql.map(r1), rows_written: counts.sqlRows })
    log({ case: `bulk ${what}: ratio API / SQL (rows/s)`, engine: ENGINE, ratio: +(total.sql / total.api).toFixed(3), sql_is_x_faster: +(total.api / total.sql).toFixed(1) })
  }
  await close()
}

// ---------------------------------------------------------------------------------------------
// 2. Filtered list on N_LIST entities
{
  const { api, raw, seen, org, close } = await fresh('list')
  await api('POST', '/api/v1/object-types', { name: 'Sensor', properties: PROPERTIES }, 201)
  const [type] = await raw(`select t.id, s.version from object_types t join object_type_schemas s on s.object_type_id = t.id and s.valid_to is null where t.organization_id = $1 and t.name = 'Sensor'`, [org])
  // Load with the two GIN indexes dropped, then build them (as a restore would): far quicker than
  // maintaining them row by row. Their definitions are the migration's (drizzle/0005_assets.sql).
  const GIN = `create index entities_properties_idx on entities using gin (properties jsonb_path_ops)`
  const SEARCH = `create index entities_search_idx on entities using gin (to_tsvector('simple', name || ' ' || coalesce(description, '')))`
  let t = performance.now()
  await raw('drop index entities_properties_idx')
  await raw('drop index entities_search_idx')
  // status: 1 % online, 10 rows in maintenance (a rare value); temperature 0..49.9 (1 % >= 49.5);
  // pressure a permutation of 0..N/1000 (rows >= the top 100 are scattered through the table).
  for (let k = 1; k <= N_LIST; k += 100_000) {
    await raw(
      `insert into entities (id, organization_id, object_type_id, name, properties, status, schema_version, created_by, created_at, updated_at)
       select gen_random_uuid(), $1::uuid, $2::uuid, 'sensor-' || i,
         jsonb_build_object('status', case when i % 100000 = 7 then 'maintenance' when i % 100 = 0 then 'online' else 'offline' end,
           'temperature', (i % 500) / 10.0, 'pressure', ((i::bigint * 7919) % $5::bigint) / 1000.0, 'humidity', (i % 100) + 0.5,
           'voltage', 3.3 + (i % 7) / 100.0, 'rssi', -(30 + i % 60), 'uptime_s', i * 13, 'firmware', '1.' || (i % 5) || '.' || (i % 3),
           'location', 'site-' || (i % 50) || '/rack-' || (i % 20), 'enabled', i % 3 <> 0),
         'active', $3::int, 'bench', ts, ts
       from generate_series($4::int, least($4::int + 99999, $5::int)) as i, lateral (select timestamptz '2026-01-01' + i * interval '1 second' as ts) x`,
      [org, type!.id, type!.version, k, N_LIST],
    )
  }
  const loadMs = performance.now() - t
  t = performance.now()
  await raw(GIN)
  const ginMs = performance.now() - t
  t = performance.now()
  await raw(SEARCH)
  const searchMs = performance.now() - t
  await raw('analyze entities')
  const [size] = await raw(`select count(*)::int as n, pg_size_pretty(pg_total_relation_size('entities')) as total, pg_size_pretty(pg_relation_size('entities_properties_idx')) as gin from entities`)
  log({ case: 'list: load', engine: ENGINE, rows: N_LIST, load_ms: Math.round(loadMs), gin_build_ms: Math.round(ginMs), search_index_build_ms: Math.round(searchMs), entities_rows: size!.n, entities_size: size!.total, gin_size: size!.gin })

  const planOf = async () => {
    const q = seen.at(-1)!
    const rows = await raw(`explain (analyze, costs off) ${q.text}`, q.params)
    const lines = rows.map((r) => String(r['QUERY PLAN']))
    const nodes = lines.filter((l) => /Scan|Sort|Limit|Nested|Hash|Gather/.test(l)).map((l) => l.trim().replace(/^->\s*/, '').replace(/\s*\(actual.*$/, ''))
    const exec = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN)
    return { nodes, exec, lines }
  }
  const timed = async (label: string, url: string, index: string) => {
    quiet()
    const first = await api('GET', url) // warm-up, and the page it answers
    const count = (first.json() as { data: unknown[] }).data.length
    const ms: number[] = []
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now()
      await api('GET', url)
      ms.push(performance.now() - t0)
    }
    const plan = await planOf()
    const m = median(ms)
    log({ case: `list: ${label}`, engine: ENGINE, index, url, rows_returned: count, median_ms: r1(m), min_ms: r1(Math.min(...ms)), max_ms: r1(Math.max(...ms)), sql_execution_ms: r1(plan.exec), plan: plan.nodes.join(' | '), plan_full: plan.lines })
    return m
  }
  const base = '/api/v1/entities?type=Sensor&limit=100'
  const Q = {
    online: `${base}&properties.status=online`,
    rare: `${base}&properties.status=maintenance`,
    temp: `${base}&properties.temperature[gte]=49.5`,
    pres: `${base}&properties.pressure[gte]=${(N_LIST / 1000 - 0.1).toFixed(1)}`,
  }
  const res: Record<string, number> = {}
  res.onlineGin = await timed('status=online (1 %)', Q.online, 'GIN entities_properties_idx')
  res.rareGin = await timed('status=maintenance (10 rows)', Q.rare, 'GIN entities_properties_idx')
  res.tempNo = await timed('temperature[gte]=49.5 (1 %)', Q.temp, 'none on temperature')
  res.presNo = await timed('pressure[gte] top 100 rows (scattered)', Q.pres, 'none on pressure')
  t = performance.now()
  await raw(`create index entities_temperature_idx on entities (stratum_jsonb_number(properties -> 'temperature'))`)
  await raw(`create index entities_pressure_idx on entities (stratum_jsonb_number(properties -> 'pressure'))`)
  await raw('analyze entities')
  log({ case: 'list: two expression indexes built', engine: ENGINE, ms: Math.round(performance.now() - t) })
  res.tempIdx = await timed('temperature[gte]=49.5 (1 %)', Q.temp, 'expression entities_temperature_idx')
  res.presIdx = await timed('pressure[gte] top 100 rows (scattered)', Q.pres, 'expression entities_pressure_idx')
  await raw('drop index entities_properties_idx')
  await raw('analyze entities')
  res.onlineNo = await timed('status=online (1 %)', Q.online, 'none (GIN dropped)')
  res.rareNo = await timed('status=maintenance (10 rows)', Q.rare, 'none (GIN dropped)')
  const ratio = (without: number, withIdx: number) => ({ with_ms: r1(withIdx), without_ms: r1(without), index_speedup: +(without / withIdx).toFixed(2) })
  log({ case: 'list: ratios (median without index / with)', engine: ENGINE, status_online: ratio(res.onlineNo!, res.onlineGin!), status_rare: ratio(res.rareNo!, res.rareGin!), temperature_gte: ratio(res.tempNo!, res.tempIdx!), pressure_gte_rare: ratio(res.presNo!, res.presIdx!) })
  await close()
}
