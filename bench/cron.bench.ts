// Issue #8: cron accuracy. N cron triggers (one per automation; each automation one transform
// step) all due at the same instant (second 0 of one minute, expression "M H * * *" in UTC), fired
// by the scheduler of a real `stratum serve` (background task in the worker, 250 ms interval,
// 100 due triggers per transaction) on PostgreSQL. Measured from the database afterwards:
//   fire delay = schedule_logs.ts - scheduled_for (p50/p99/max), whether each trigger fired
//   exactly once, and for the executions they started: started_at and ended_at - scheduled_for.
// Run from the repo root:
//   npx tsx bench/cron.bench.ts
// Knobs: DATABASE_URL (default postgres://postgres@127.0.0.1:55433/postgres; database bench_cron is
//   created next to it and dropped), N=1000, LEAD_S=20 (the minute chosen is at least this long
//   after set-up ends), STRATUM_PORT=18183, STRATUM_ROOT (server tree; default this repo), KEEP=1.
// Raw JSON lines: bench/results/cron-<time>.jsonl.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchRecord, stopChild, track } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = process.env.STRATUM_ROOT || dirname(BENCH)
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:55433/postgres'
const DB_NAME = 'bench_cron'
const DB_URL = BASE_URL.replace(/\/[^/]*$/, `/${DB_NAME}`)
const PORT = Number(process.env.STRATUM_PORT ?? 18183)
const N = Number(process.env.N ?? 1000)
const LEAD_S = Number(process.env.LEAD_S ?? 20)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main() {
  process.env.BENCH_PGPORT ??= new URL(BASE_URL).port
  const { file, log } = benchRecord(BENCH, 'cron')
  const admin = new pg.Client({ connectionString: BASE_URL })
  await admin.connect()
  await admin.query(`drop database if exists ${DB_NAME} with (force)`)
  await admin.query(`create database ${DB_NAME}`)
  const env = { ...process.env, DATABASE_URL: DB_URL, HOST: '127.0.0.1', PORT: String(PORT), LOG_LEVEL: 'warn', API_KEY_DEFAULT_RATE_LIMIT: '10000000', STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cron-bench-')) }
  const child = track(spawn(process.execPath, [join(ROOT, 'bin/stratum.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] }))
  const base = `http://127.0.0.1:${PORT}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('stratum serve exited')
    try { if ((await fetch(`${base}/healthz`)).ok) break } catch {}
    if (i > 600) throw new Error('stratum did not start')
    await sleep(100)
  }
  let token = ''
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api/v1${path}`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? null : JSON.stringify(body) })
    const json = (await res.json()) as any
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  token = (await call('POST', '/auth/signup', { organization_name: 'Bench cron', email: `cron-${Date.now()}@example.com`, password: 'bench password 1' })).token
  // Set-up, 8 requests in flight: the automations first, then (once the time to make N is known) the triggers.
  const inParallel = async <T>(n: number, f: (i: number) => Promise<T>) => {
    const out: T[] = new Array(n)
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => { while (next < n) { const i = next++; out[i] = await f(i) } }))
    return out
  }
  let t0 = Date.now()
  const autos = await inParallel(N, (i) => call('POST', '/automations', { name: `Cron ${i}`, graph: { steps: [{ id: 'echo', type: 'transform', config: { expression: '{ "tick": input.n, "at": $now() }' } }] } }))
  const makeMs = Date.now() - t0
  // The minute: at least LEAD_S after the triggers are made (estimated at the automations' pace, twice over).
  const at = new Date(Math.ceil((Date.now() + 2 * makeMs + LEAD_S * 1000) / 60_000) * 60_000)
  const expression = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`
  t0 = Date.now()
  const trig = await inParallel(N, (i) => call('POST', `/automations/${autos[i].id}/triggers`, { type: 'cron', config: { expression, time_zone: 'UTC', input: { n: i } } }))
  const trigMs = Date.now() - t0
  const wrong = trig.filter((t) => t.next_run_at !== at.toISOString()).length
  log({ setup: { n: N, automationsMs: makeMs, triggersMs: trigMs, expression, due: at.toISOString(), nextRunAtWrong: wrong, secondsUntilDue: +((at.getTime() - Date.now()) / 1000).toFixed(1) } })
  if (wrong) throw new Error(`${wrong} triggers have another next_run_at`)
  const db = new pg.Client({ connectionString: DB_URL })
  await db.connect()
  await sleep(Math.max(0, at.getTime() - Date.now()))
  // Until every trigger has a log for the minute and every execution has finished (at most 120 s).
  const deadline = Date.now() + 120_000
  for (;;) {
    const { rows } = await db.query(`select (select count(*) from schedule_logs where scheduled_for = $1)::int logs, (select count(*) from executions where ended_at is null)::int open`, [at])
    if ((rows[0].logs >= N && rows[0].open === 0) || Date.now() > deadline) break
    await sleep(200)
  }
  await sleep(1000)
  const { rows: [r] } = await db.query(
    `with l as (select l.*, extract(epoch from l.ts - l.scheduled_for) * 1000 d from schedule_logs l where scheduled_for = $1),
          per as (select trigger_id, count(*) filter (where status = 'fired') fired from l group by trigger_id),
          e as (select extract(epoch from e.created_at - $1) * 1000 c, extract(epoch from e.started_at - $1) * 1000 s, extract(epoch from e.ended_at - $1) * 1000 en, e.status
                from executions e where e.trigger_type = 'cron')
     select (select count(*) from l)::int logs, (select count(*) from l where status = 'fired')::int fired,
            (select count(*) from l where status <> 'fired')::int not_fired,
            (select count(*) from per where fired = 1)::int triggers_fired_once, (select count(*) from per where fired > 1)::int triggers_fired_twice,
            (select count(*) from schedule_logs where scheduled_for <> $1)::int other_logs,
            (select count(*) from e)::int executions, (select count(*) from e where status = 'succeeded')::int executions_ok,
            ${[['d', 'l', 'fire_delay'], ['c', 'e', 'exec_created'], ['s', 'e', 'exec_started'], ['en', 'e', 'exec_ended']]
              .map(([col, t, name]) => `(select json_build_object('min', round(min(${col})::numeric, 1), 'p50', round(percentile_cont(0.5) within group (order by ${col})::numeric, 1), 'p90', round(percentile_cont(0.9) within group (order by ${col})::numeric, 1), 'p99', round(percentile_cont(0.99) within group (order by ${col})::numeric, 1), 'max', round(max(${col})::numeric, 1)) from ${t}) ${name}`)
              .join(', ')}`,
    [at],
  )
  log({ result: r })
  const { rows: ticks } = await db.query(`select date_trunc('milliseconds', ts) ts, count(*)::int n from schedule_logs where scheduled_for = $1 group by 1 order by 1 limit 40`, [at])
  log({ logTimestamps: ticks.length, firstTs: ticks[0]?.ts, lastTs: ticks.at(-1)?.ts })
  await db.end()
  await stopChild(child)
  if (!process.env.KEEP) await admin.query(`drop database if exists ${DB_NAME} with (force)`)
  await admin.end()
  log({ done: true, file })
}

await main()
