// Issue #8: executions/s and end-to-end latency of a webhook-triggered workflow, Stratum against
// n8n 2.8.4 on the same machine in the same run. Same shape on both sides:
//   webhook -> transform ({ received: <body>, processed: true }) -> HTTP POST of it to a local sink
//   (a tiny node http server started here, answering 200 {"ok":true}) -> the answer to the client
// when the last step has finished.
//   Stratum: `node bin/stratum.js serve` (HTTP server + job workers in one process) on PostgreSQL
//     (fresh database bench_automation, dropped at the end); POST /api/v1/hooks/<token>?wait=30
//     answers with the finished execution.
//   n8n: bench/n8n (npm install there first; see docs/benchmarks.md section 10), SQLite, regular
//     mode, Webhook (responseMode lastNode) -> Edit Fields -> HTTP Request; fresh DB copy per run.
// autocannon runs in this process; every response's latency is kept for p50/p95/p99. Per
// concurrency the two sides take turns going first. After each Stratum window the script reads
// executions/step_runs/jobs of that window from the database (where the time goes; see the docs)
// and the CPU each process group used (/proc).
// Run from the repo root:
//   npx tsx bench/automation.bench.ts
// Knobs: DATABASE_URL (default postgres://postgres@127.0.0.1:55433/postgres; the bench database is
//   created next to it), CONNS=1,10,50 DURATION_S=10 WARMUP_S=3 REPS=1 SIDES=n8n,stratum
//   STRATUM_PORT=18181 SINK_PORT=18182 N8N_PORT=5678 WAIT_S=30, WORKER_CONCURRENCY/WAIT_CONCURRENCY/DATABASE_POOL_MAX
//   (passed to the server; defaults 10/50/10), KEEP=1 (keep the database), STRATUM_ROOT (server tree;
//   default this repo), N8N_SAVE=all|none, STRATUM_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
//   (node flags for the server: a CPU profile, written when it stops).
// Raw JSON lines: bench/results/automation-<time>.jsonl.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { benchRecord, exitWithParent, out, startChild, stopChild, track } from './children.ts'

const SELF = fileURLToPath(import.meta.url)
const BENCH = dirname(SELF)
// STRATUM_ROOT: run the server from another checkout (e.g. `git archive HEAD` unpacked, with node_modules linked)
const ROOT = process.env.STRATUM_ROOT || dirname(BENCH)
const N8N_DIR = join(BENCH, 'n8n')
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:55433/postgres'
const DB_NAME = 'bench_automation'
const DB_URL = BASE_URL.replace(/\/[^/]*$/, `/${DB_NAME}`)
const STRATUM_PORT = Number(process.env.STRATUM_PORT ?? 18181)
const SINK_PORT = Number(process.env.SINK_PORT ?? 18182)
const N8N_PORT = Number(process.env.N8N_PORT ?? 5678)
const WAIT_S = Number(process.env.WAIT_S ?? 30)
const BODY = JSON.stringify({ hello: 'world' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// ---------- the sink: answers every request 200 {"ok":true} ----------
async function sink() {
  exitWithParent()
  let n = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      n++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(SINK_PORT, '127.0.0.1', () => out({ listening: true, port: SINK_PORT, pid: process.pid }))
  process.on('SIGTERM', () => process.exit(0))
  setInterval(() => void n, 1 << 30)
}

// ---------- CPU accounting from /proc (clock ticks: 100 a second) ----------
function statOf(pid: number): { ppid: number; comm: string; ticks: number; childTicks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'))
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) }
  } catch {
    return null
  }
}
function allProcs() {
  const m = new Map<number, NonNullable<ReturnType<typeof statOf>>>()
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d)) { const s = statOf(Number(d)); if (s) m.set(Number(d), s) }
  return m
}
function treeTicks(procs: ReturnType<typeof allProcs>, root: number) {
  let t = 0
  const stack = [root]
  while (stack.length) {
    const p = stack.pop()!
    const s = procs.get(p)
    if (!s) continue
    t += s.ticks
    for (const [pid, c] of procs) if (c.ppid === p) stack.push(pid)
  }
  return t
}
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return { busy: f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!, total: f.reduce((a, b) => a + b, 0) }
}
function cpuSnapshot(groups: Record<string, number | undefined>) {
  const procs = allProcs()
  const r: Record<string, number> = {}
  for (const [k, pid] of Object.entries(groups)) if (pid) r[k] = treeTicks(procs, pid)
  // PostgreSQL: every postgres process (backends included) plus what exited backends left in the postmaster's child times.
  let pgT = 0
  for (const s of procs.values()) if (s.comm === 'postgres') pgT += s.ticks + (procs.get(s.ppid)?.comm === 'postgres' ? 0 : s.childTicks)
  r.postgres = pgT
  const u = process.cpuUsage()
  r.loadgen = (u.user + u.system) / 10_000
  const m = machineTicks()
  r.machineBusy = m.busy
  r.machineTotal = m.total
  return r
}
function cpuDelta(a: Record<string, number>, b: Record<string, number>, seconds: number) {
  const d: Record<string, number> = {}
  for (const k of Object.keys(b)) if (k !== 'machineTotal' && k !== 'machineBusy' && a[k] !== undefined) d[k] = +((b[k]! - a[k]!) / 100 / seconds).toFixed(2)
  d.machineBusyPct = +((100 * (b.machineBusy! - a.machineBusy!)) / (b.machineTotal! - a.machineTotal!)).toFixed(0)
  return d // cores used on average (2 = the whole machine)
}

// ---------- load ----------
interface Shot { reqs: number; durationS: number; ok: number; bad: number; errors: number; timeouts: number; lat: number[] }
const autocannon = createRequire(join(BENCH, 'package.json'))('autocannon') as any
function load(url: string, connections: number, seconds: number, extra: Record<string, string> = {}): Promise<Shot> {
  return new Promise((resolve, reject) => {
    const lat: number[] = []
    let ok = 0, bad = 0
    const inst = autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json', ...extra }, body: BODY, connections, duration: seconds, timeout: 60 }, (err: Error | null, r: any) => {
      if (err) return reject(err)
      resolve({ reqs: r.requests.total, durationS: r.duration, ok, bad, errors: r.errors, timeouts: r.timeouts, lat })
    })
    inst.on('response', (_c: unknown, status: number, _b: number, ms: number) => {
      if (status >= 200 && status < 300) { ok++; lat.push(ms) } else bad++
    })
  })
}
const pct = (a: number[], p: number) => {
  if (!a.length) return null
  const s = [...a].sort((x, y) => x - y)
  return +s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!.toFixed(2)
}

// ---------- Stratum ----------
async function startStratum(): Promise<{ child: ChildProcess; hook: string; automationId: string; token: string }> {
  const env = {
    ...process.env,
    DATABASE_URL: DB_URL,
    HOST: '127.0.0.1',
    PORT: String(STRATUM_PORT),
    LOG_LEVEL: 'warn',
    HTTP_STEP_ALLOW: '127.0.0.1',
    API_KEY_DEFAULT_RATE_LIMIT: '10000000',
    STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-automation-bench-')),
  }
  const child = track(spawn(process.execPath, [...(process.env.STRATUM_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, 'bin/stratum.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] }))
  const base = `http://127.0.0.1:${STRATUM_PORT}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('stratum serve exited')
    try { if ((await fetch(`${base}/healthz`)).ok) break } catch {}
    if (i > 600) throw new Error('stratum did not start')
    await sleep(100)
  }
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${base}/api/v1${path}`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? null : JSON.stringify(body) })
    const json = (await res.json()) as any
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const signup = await call('POST', '/auth/signup', { organization_name: 'Bench automation', email: `bench-${Date.now()}@example.com`, password: 'bench password 1' })
  const token = signup.token as string
  const a = await call('POST', '/automations', {
    name: 'Bench webhook transform http',
    graph: {
      steps: [
        { id: 'shape', type: 'transform', config: { expression: '{ "received": input, "processed": true }' } },
        { id: 'call', type: 'http', config: { method: 'POST', url: `http://127.0.0.1:${SINK_PORT}/sink`, body: '{{ steps.shape.output }}' } },
      ],
      edges: [{ from: 'shape', to: 'call' }],
    },
  }, token)
  const tr = await call('POST', `/automations/${a.id}/triggers`, { type: 'webhook' }, token)
  const hook = `${base}${tr.webhook_url}?wait=${WAIT_S}`
  // The sender of a webhook has no credentials, as n8n's has none.
  const smoke = (await (await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })).json()) as any
  if (smoke.status !== 'succeeded') throw new Error(`smoke execution: ${JSON.stringify(smoke)}`)
  return { child, hook, automationId: a.id, token }
}

/** Where the time goes, from the database rows of the executions created in [from, to). */
async function breakdown(db: pg.Client, automationId: string, from: Date, to: Date) {
  const { rows } = await db.query(
    `with e as (
       select e.id, e.status, e.created_at c, e.started_at s, e.ended_at en, j.started_at js, j.finished_at jf,
              t.duration_ms t_ms, h.started_at h_s, h.ended_at h_e, h.duration_ms h_ms
       from executions e
       left join jobs j on j.id = e.job_id
       left join step_runs t on t.execution_id = e.id and t.step_id = 'shape'
       left join step_runs h on h.execution_id = e.id and h.step_id = 'call'
       where e.automation_id = $1 and e.created_at >= $2 and e.created_at < $3),
     m as (select *, extract(epoch from en - c) * 1000 total, extract(epoch from s - c) * 1000 queue,
                  extract(epoch from h_s - s) * 1000 before_http, extract(epoch from h_e - h_s) * 1000 http_wall,
                  extract(epoch from en - h_e) * 1000 after_http, extract(epoch from jf - en) * 1000 job_done,
                  extract(epoch from en - c) * 1000 - coalesce(h_ms, 0) - coalesce(t_ms, 0) overhead from e)
     select count(*)::int n, count(*) filter (where status = 'succeeded')::int ok,
       ${['total', 'queue', 'before_http', 'http_wall', 'h_ms', 't_ms', 'after_http', 'job_done', 'overhead']
         .map((k) => `round(percentile_cont(0.5) within group (order by ${k})::numeric, 2) ${k}_p50, round(percentile_cont(0.95) within group (order by ${k})::numeric, 2) ${k}_p95`)
         .join(', ')}
     from m`,
    [automationId, from, to],
  )
  return rows[0]
}

async function xacts(db: pg.Client) {
  const { rows } = await db.query(`select xact_commit + xact_rollback x, tup_inserted + tup_updated + tup_deleted w from pg_stat_database where datname = $1`, [DB_NAME])
  return { x: Number(rows[0].x), w: Number(rows[0].w) }
}

// ---------- n8n ----------
const N8N_WF_ID = 'stratumBench0001'
function n8nEnv(home: string) {
  return {
    ...process.env,
    N8N_USER_FOLDER: home, DB_TYPE: 'sqlite', N8N_PORT: String(N8N_PORT), N8N_LISTEN_ADDRESS: '127.0.0.1', N8N_HOST: '127.0.0.1', N8N_PROTOCOL: 'http',
    N8N_DISABLE_UI: 'true', N8N_LOG_LEVEL: 'warn', N8N_ENCRYPTION_KEY: 'bench-only-not-secret', N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
    N8N_DIAGNOSTICS_ENABLED: 'false', N8N_DIAGNOSTICS_CONFIG_FRONTEND: '', N8N_DIAGNOSTICS_CONFIG_BACKEND: '', EXTERNAL_FRONTEND_HOOKS_URLS: '',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false', N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false', N8N_TEMPLATES_ENABLED: 'false',
    N8N_DYNAMIC_BANNERS_ENABLED: 'false', N8N_HIRING_BANNER_ENABLED: 'false', N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false', N8N_AI_ENABLED: 'false', N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    EXECUTIONS_MODE: 'regular', EXECUTIONS_DATA_SAVE_ON_SUCCESS: process.env.N8N_SAVE ?? 'all',
  }
}
function n8nWorkflow() {
  const id = (n: number) => `5b3c1a2e-0000-4000-8000-00000000000${n}`
  return {
    id: N8N_WF_ID,
    name: 'bench-webhook-set-http',
    active: false,
    settings: { executionOrder: 'v1' },
    connections: {
      Webhook: { main: [[{ node: 'Edit Fields', type: 'main', index: 0 }]] },
      'Edit Fields': { main: [[{ node: 'HTTP Request', type: 'main', index: 0 }]] },
    },
    nodes: [
      { id: id(1), name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2.1, position: [0, 0], webhookId: id(9), parameters: { httpMethod: 'POST', path: 'bench3', responseMode: 'lastNode', options: {} } },
      {
        id: id(2), name: 'Edit Fields', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [220, 0],
        parameters: { mode: 'manual', assignments: { assignments: [
          { id: id(7), name: 'received', value: '={{ $json.body }}', type: 'object' },
          { id: id(8), name: 'processed', value: true, type: 'boolean' },
        ] }, includeOtherFields: false, options: {} },
      },
      {
        id: id(3), name: 'HTTP Request', type: 'n8n-nodes-base.httpRequest', typeVersion: 4.2, position: [440, 0],
        parameters: { method: 'POST', url: `http://127.0.0.1:${SINK_PORT}/sink`, sendBody: true, specifyBody: 'json', jsonBody: '={{ JSON.stringify($json) }}', options: {} },
      },
    ],
    pinData: {},
  }
}
const n8nBin = join(N8N_DIR, 'node_modules/.bin/n8n')
function setupN8n() {
  if (!existsSync(n8nBin)) throw new Error(`n8n is not installed: cd bench/n8n && npm install`)
  const template = join(N8N_DIR, 'n8n-home.template')
  const wf = JSON.stringify(n8nWorkflow(), null, 2)
  const wfFile = join(N8N_DIR, 'wf.json')
  if (existsSync(template) && existsSync(wfFile) && readFileSync(wfFile, 'utf8') === wf) return template
  writeFileSync(wfFile, wf)
  rmSync(template, { recursive: true, force: true })
  const env = n8nEnv(template)
  for (const args of [['import:workflow', `--input=${wfFile}`], ['publish:workflow', `--id=${N8N_WF_ID}`]]) {
    const r = spawnSync(n8nBin, args, { env, encoding: 'utf8', cwd: N8N_DIR })
    if (r.status !== 0) throw new Error(`n8n ${args[0]}: ${r.stdout}${r.stderr}`)
  }
  return template
}
async function startN8n(template: string): Promise<{ child: ChildProcess; url: string }> {
  const home = join(N8N_DIR, 'n8n-home')
  rmSync(home, { recursive: true, force: true })
  cpSync(template, home, { recursive: true })
  const child = track(spawn(process.execPath, [n8nBin, 'start'], { cwd: N8N_DIR, env: n8nEnv(home), stdio: ['ignore', 'ignore', 'ignore'] }))
  const url = `http://127.0.0.1:${N8N_PORT}/webhook/bench3`
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error('n8n exited')
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })
      const text = await res.text()
      if (res.status === 200) {
        if (text !== '{"ok":true}') throw new Error(`n8n answered ${text}`)
        return { child, url }
      }
    } catch (e) {
      if ((e as Error).message.startsWith('n8n answered')) throw e
    }
    await sleep(500)
  }
  throw new Error('n8n did not become ready')
}

// ---------- main ----------
async function main() {
  const conns = (process.env.CONNS ?? '1,10,50').split(',').map(Number)
  const duration = Number(process.env.DURATION_S ?? 10)
  const warmup = Number(process.env.WARMUP_S ?? 3)
  const reps = Number(process.env.REPS ?? 1)
  const sides = (process.env.SIDES ?? 'n8n,stratum').split(',')
  process.env.BENCH_PGPORT ??= new URL(BASE_URL).port
  const { file, log, sh } = benchRecord(BENCH, 'automation')
  log({ config: { conns, duration, warmup, reps, sides, db: DB_URL.replace(/\/\/[^@]*@/, '//'), waitS: WAIT_S, workerConcurrency: process.env.WORKER_CONCURRENCY ?? '10 (default)', waitConcurrency: process.env.WAIT_CONCURRENCY ?? '50 (default)', poolMax: process.env.DATABASE_POOL_MAX ?? '10 (default)', n8nSave: process.env.N8N_SAVE ?? 'all' } })
  const admin = new pg.Client({ connectionString: BASE_URL })
  await admin.connect()
  await admin.query(`drop database if exists ${DB_NAME} with (force)`)
  await admin.query(`create database ${DB_NAME}`)
  const sinkP = await startChild<{ pid: number }>(SELF, ['sink'])
  const stratum = sides.some((x) => x.startsWith('stratum')) ? await startStratum() : null
  const db = new pg.Client({ connectionString: DB_URL })
  await db.connect()
  const template = sides.includes('n8n') ? setupN8n() : null
  const n8n = template ? await startN8n(template) : null
  const groups = { stratum: stratum?.child.pid, n8n: n8n?.child.pid, sink: sinkP.child.pid }
  // 'stratum-async' (optional side): the same webhook without ?wait (202 at once, no credentials);
  // executions/s is then what the engine finished in the window, read from the database.
  const target = { n8n: n8n?.url, stratum: stratum?.hook, 'stratum-async': stratum?.hook.replace(/\?wait=.*/, '') }
  const extra = { n8n: {}, stratum: {}, 'stratum-async': {} }
  for (let r = 1; r <= reps; r++) {
    for (const [ci, c] of conns.entries()) {
      const order = (r + ci) % 2 ? sides : [...sides].reverse()
      for (const side of order as ('n8n' | 'stratum' | 'stratum-async')[]) {
        await load(target[side]!, c, warmup, extra[side])
        log(JSON.parse(sh('quiet.sh')))
        const x0 = stratum ? await xacts(db) : null
        const c0 = cpuSnapshot(groups)
        const from = new Date()
        const s = await load(target[side]!, c, duration, extra[side])
        const to = new Date()
        const c1 = cpuSnapshot(groups)
        const x1 = stratum ? await xacts(db) : null
        const row: Record<string, unknown> = {
          side, rep: r, connections: c, durationS: s.durationS, ok: s.ok, non2xx: s.bad, errors: s.errors, timeouts: s.timeouts,
          execPerSec: +(s.ok / s.durationS).toFixed(1), p50: pct(s.lat, 50), p95: pct(s.lat, 95), p99: pct(s.lat, 99), max: pct(s.lat, 100),
          cpuCores: cpuDelta(c0, c1, (to.getTime() - from.getTime()) / 1000),
        }
        if (side === 'stratum-async') {
          const t = Date.now()
          for (;;) {
            const { rows } = await db.query(`select count(*)::int n from executions where ended_at is null`)
            if (rows[0].n === 0 || Date.now() - t > 300_000) break
            await sleep(200)
          }
          const { rows: [d] } = await db.query(`select count(*) filter (where ended_at >= $1 and ended_at < $2)::int done_in_window, count(*)::int accepted, max(ended_at) last_end from executions where created_at >= $1 and created_at < $2`, [from, to])
          row.acceptedPerSec = row.execPerSec
          row.execPerSec = +(d.done_in_window / s.durationS).toFixed(1)
          row.drainAfterWindowS = +((new Date(d.last_end).getTime() - to.getTime()) / 1000).toFixed(1)
          row.acceptedTotal = d.accepted
          row.note = 'p50/p95 here are of the 202 answers; execPerSec = executions that ended inside the window'
        }
        if (side.startsWith('stratum')) {
          await sleep(1000) // the last executions finish
          row.db = await breakdown(db, stratum!.automationId, from, to)
          const n = (row.db as { n: number }).n || 1
          row.dbPerExecution = { xacts: +((x1!.x - x0!.x) / n).toFixed(2), rowWrites: +((x1!.w - x0!.w) / n).toFixed(2) }
        }
        log(row)
      }
    }
  }
  if (n8n) await stopChild(n8n.child)
  if (stratum) await stopChild(stratum.child)
  await stopChild(sinkP.child)
  await db.end()
  if (!process.env.KEEP) await admin.query(`drop database if exists ${DB_NAME} with (force)`)
  await admin.end()
  log({ done: true, file })
}

if (process.argv[2] === 'sink') await sink()
else await main()
