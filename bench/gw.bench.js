// graphile-worker 0.17.3 with no-op jobs: the peer baseline of bench/jobs.bench.ts. Ported to ESM
// from shared/bench/peers.md (gw-bench.js), keeping its defaults: unbatched (no localQueue),
// pollInterval 2000 ms, maxPoolSize concurrency + 2. Run from the repo root:
//   node bench/gw.bench.js reset             # delete all jobs, VACUUM ANALYZE, CHECKPOINT (migrates first)
//   node bench/gw.bench.js fill N            # graphile_worker.add_jobs(N specs) in one statement
//   node bench/gw.bench.js drain P C         # P worker processes x concurrency C drain the queue
//   node bench/gw.bench.js e2e P C N         # workers already running, then add_jobs(N); time until empty
//   node bench/gw.bench.js worker C          # (internal) one worker process
// Env: GW_DATABASE_URL (default postgres://postgres@127.0.0.1:55432/gw).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { Logger, makeWorkerUtils, run } from 'graphile-worker'

process.env.NO_LOG_SUCCESS = '1'
const DB = process.env.GW_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55432/gw'
const SELF = fileURLToPath(import.meta.url)
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

// A child exits when its parent goes away (its stdin, a pipe from the parent, closes), and the
// parent kills its children when it exits, even on an error: a worker left behind would go on
// taking jobs from the next measurement.
function exitWithParent() {
  process.stdin.on('end', () => process.exit(1))
  process.stdin.on('error', () => process.exit(1))
  process.stdin.resume()
}
const children = new Set()
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})
// keep warnings and errors, drop per-job lines
const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[gw ${level}] ${message}`)
})

async function queueLen(pool) {
  const { rows } = await pool.query('select count(*)::int as n from graphile_worker._private_jobs')
  return rows[0].n
}

async function migrate() {
  const utils = await makeWorkerUtils({ connectionString: DB, logger: quietLogger })
  await utils.migrate()
  await utils.release()
}

// The same server-side add_jobs(array(...)) call as peers.md's "sql" mode: one statement, one commit.
async function addJobs(pool, n) {
  await pool.query(
    `select graphile_worker.add_jobs(array(
       select json_populate_record(null::graphile_worker.job_spec,
              json_build_object('identifier','noop','payload',json_build_object('i',i)))
       from generate_series(1,$1::int) i))`,
    [n],
  )
}

async function reset() {
  await migrate()
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  await pool.query('delete from graphile_worker._private_jobs')
  await pool.query('vacuum analyze graphile_worker._private_jobs')
  await pool.query('vacuum analyze graphile_worker._private_job_queues')
  await pool.query('checkpoint')
  await pool.end()
}

async function fill(n) {
  await migrate()
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  const t0 = now()
  await addJobs(pool, n)
  const ms = now() - t0
  const q = await queueLen(pool)
  await pool.end()
  if (q !== n) throw new Error(`expected ${n} queued jobs, found ${q}`)
  out({ queue: 'graphile-worker', what: 'enqueue', n, ms: +ms.toFixed(1), jobsPerSec: Math.round((n * 1000) / ms) })
}

async function worker(conc) {
  exitWithParent()
  let count = 0
  let first = null
  let last = null
  const runner = await run({
    connectionString: DB,
    concurrency: conc,
    maxPoolSize: conc + 2,
    noHandleSignals: true,
    pollInterval: 2000,
    logger: quietLogger,
    taskList: {
      noop: async () => {
        if (first === null) first = now()
      },
    },
  })
  runner.events.on('job:success', () => {
    count++
    last = now()
  })
  const cpuAtReady = process.cpuUsage() // start-up (module loading, tsx) is left out of cpuMs
  out({ ready: true, pid: process.pid })
  process.on('SIGTERM', async () => {
    await runner.stop()
    const cpu = process.cpuUsage(cpuAtReady)
    out({ pid: process.pid, count, other: 0, first, last, cpuMs: Math.round((cpu.user + cpu.system) / 1000) })
    process.exit(0)
  })
}

function startWorkers(p, conc) {
  const kids = []
  const ready = []
  for (let i = 0; i < p; i++) {
    const child = spawn(process.execPath, [SELF, 'worker', String(conc)], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env })
    children.add(child)
    child.on('exit', () => children.delete(child))
    let buf = ''
    const result = new Promise((resolve, reject) => {
      child.on('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
      child.stdout.on('data', (d) => {
        buf += d
        let idx
        while ((idx = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, idx))
          buf = buf.slice(idx + 1)
          if (msg.ready) child.emit('ready')
          else resolve(msg)
        }
      })
    })
    ready.push(new Promise((r) => child.once('ready', r)))
    kids.push({ child, result })
  }
  return { kids, ready: Promise.all(ready) }
}

async function waitEmpty(pool, pollMs = 20) {
  for (;;) {
    if ((await queueLen(pool)) === 0) return now()
    await sleep(pollMs)
  }
}

async function stopWorkers(kids) {
  for (const k of kids) k.child.kill('SIGTERM')
  return Promise.all(kids.map((k) => k.result))
}

function summarize(what, p, conc, n, t0, tDone, results, extra) {
  const total = results.reduce((s, r) => s + r.count, 0)
  const first = Math.min(...results.map((r) => r.first ?? Infinity))
  const last = Math.max(...results.map((r) => r.last ?? -Infinity))
  if (total !== n) throw new Error(`${what}: ${total} completions counted, expected ${n}`)
  out({
    queue: 'graphile-worker',
    what,
    processes: p,
    concurrency: conc,
    jobsDone: total,
    notCompleted: 0,
    perProcess: results.map((r) => r.count),
    workerCpuMs: results.map((r) => r.cpuMs),
    ...extra,
    wallMs: +(tDone - t0).toFixed(1),
    wallJobsPerSec: Math.round((total * 1000) / (tDone - t0)),
    firstStartToLastDoneMs: +(last - first).toFixed(1),
    busyJobsPerSec: Math.round((total * 1000) / (last - first)),
  })
}

async function drain(p, conc) {
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  const n = await queueLen(pool)
  const t0 = now()
  const { kids, ready } = startWorkers(p, conc)
  await ready
  const tReady = now()
  const tDone = await waitEmpty(pool)
  const results = await stopWorkers(kids)
  summarize('drain', p, conc, n, t0, tDone, results, { startupMs: +(tReady - t0).toFixed(1) })
  await pool.end()
}

async function e2e(p, conc, n) {
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  if ((await queueLen(pool)) !== 0) throw new Error('queue not empty')
  const { kids, ready } = startWorkers(p, conc)
  await ready
  await sleep(1000) // let LISTEN connections settle
  const t0 = now()
  await addJobs(pool, n)
  const tAdded = now()
  const tDone = await waitEmpty(pool)
  const results = await stopWorkers(kids)
  summarize('e2e', p, conc, n, t0, tDone, results, { enqueueMs: +(tAdded - t0).toFixed(1) })
  await pool.end()
}

const [cmd, a, b, c] = process.argv.slice(2)
const int = (s, d) => (s === undefined ? d : Number.parseInt(s, 10))
try {
  if (cmd === 'worker') await worker(int(a, 10))
  else {
    if (cmd === 'reset') await reset()
    else if (cmd === 'fill') await fill(int(a, 20000))
    else if (cmd === 'drain') await drain(int(a, 1), int(b, 10))
    else if (cmd === 'e2e') await e2e(int(a, 1), int(b, 10), int(c, 20000))
    else {
      console.error('usage: node bench/gw.bench.js reset | fill N | drain P C | e2e P C N')
      process.exit(2)
    }
    process.exit(0)
  }
} catch (err) {
  console.error(err)
  process.exit(1)
}
