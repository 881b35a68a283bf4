// Stratum's job queue on PostgreSQL: no-op jobs enqueued, claimed and completed, the same shape
// as bench/gw.bench.js measures for graphile-worker (see docs/benchmarks.md). Run from the repo root:
//   npx tsx bench/jobs.bench.ts reset              # delete all jobs, VACUUM ANALYZE, CHECKPOINT
//   npx tsx bench/jobs.bench.ts fill N             # enqueueJobs(N) in one transaction
//   npx tsx bench/jobs.bench.ts drain P C          # P worker processes x concurrency C drain the queue
//   npx tsx bench/jobs.bench.ts e2e P C N          # workers already running, then fill N; time until done
//   npx tsx bench/jobs.bench.ts worker C           # (internal) one worker process
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:55432/stratum_bench); migrate() runs first.
// Output: one JSON line per measurement on stdout.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exitWithParent, out, track } from './children.ts'
import pg from 'pg'
import { systemContext } from '../src/core/context.ts'
import { migrate } from '../src/core/db/migrate.ts'
import { openPostgres } from '../src/core/db/postgres.ts'
import { createEventLog } from '../src/core/events/events.service.ts'
import { enqueueJobs, type NewJob } from '../src/core/jobs/jobs.service.ts'
import { createWorker } from '../src/core/jobs/worker.ts'
import { createLogger } from '../src/core/observability/logger.ts'
import type { Metrics } from '../src/core/observability/metrics.ts'

const DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55432/stratum_bench'
const SELF = fileURLToPath(import.meta.url)
// Epoch ms with sub-ms resolution, comparable across processes.
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// The fill is one enqueueJobs() call in one transaction (one commit): the closest our API gets to
// graphile-worker's single add_jobs() call. (enqueueJobs splits it into INSERTs of 2,000 rows,
// since PostgreSQL takes at most 65,535 bind parameters per statement.)
// Jobs carry no idempotency key, as most callers enqueue them. (The first version of migration
// 0000 made (organization_id, idempotency_key) unique NULLS NOT DISTINCT, so keyless jobs collapsed
// to one per organisation; the fill checks that all N jobs are there.) BENCH_KEYS=1 gives each
// job a distinct key, which also maintains the jobs_idempotency_key index.
const WITH_KEYS = process.env.BENCH_KEYS === '1'

async function openDb(poolMax: number) {
  return openPostgres({ url: DB, poolMax, statementTimeoutMs: 0, applicationName: 'stratum-bench' })
}

async function remaining(client: pg.Pool): Promise<number> {
  const { rows } = await client.query<{ n: number }>("select count(*)::int as n from jobs where status <> 'completed'")
  return rows[0]!.n
}

async function fillJobs(n: number, tag: string) {
  const database = await openDb(2)
  await migrate(database)
  const jobs: NewJob[] = Array.from({ length: n }, (_, i) => ({ type: 'noop', params: { i }, ...(WITH_KEYS ? { idempotencyKey: `${tag}:${i}` } : {}) }))
  const total = async () => (await database.pool.query<{ n: number }>('select count(*)::int as n from jobs')).rows[0]!.n
  const before = await total()
  const t0 = now()
  const inserted = (await database.transaction((tx) => enqueueJobs(tx, systemContext(), jobs))).length
  const ms = now() - t0
  const added = (await total()) - before // all rows: in e2e, live workers may have completed some already
  await database.close()
  if (added !== n) throw new Error(`expected ${n} new jobs after the fill, found ${added} (enqueueJobs returned ${inserted})`)
  return { t0, ms }
}

async function reset() {
  const database = await openDb(1)
  await migrate(database)
  await database.pool.query('delete from jobs')
  await database.pool.query('vacuum analyze jobs')
  await database.pool.query('checkpoint')
  await database.close()
}

// One worker process. Completions are counted through the worker's metrics hook, so a job
// counts once its `completed` row is written.
async function worker(conc: number) {
  exitWithParent()
  const database = await openDb(conc + 2)
  let count = 0
  let other = 0
  let first: number | null = null
  let last: number | null = null
  const metrics = {
    jobsFinished: {
      inc(labels: { outcome: string }) {
        if (labels.outcome === 'completed') {
          count++
          last = now()
        } else other++
      },
    },
    jobDuration: { observe() {} },
  } as unknown as Metrics
  const w = createWorker({
    database,
    handlers: [
      {
        type: 'noop',
        run: async () => {
          if (first === null) first = now()
          return null
        },
      },
    ],
    events: createEventLog({ sourceNode: 'bench' }),
    log: createLogger('silent', { pretty: false }),
    metrics,
    concurrency: conc,
    leaseMs: 30_000,
    pollMs: 2000, // graphile-worker's default pollInterval, as in gw.bench.js
  })
  await w.start()
  const cpuAtReady = process.cpuUsage() // start-up (module loading, tsx) is left out of cpuMs
  out({ ready: true, pid: process.pid })
  process.on('SIGTERM', async () => {
    await w.stop(5000)
    await database.close()
    const cpu = process.cpuUsage(cpuAtReady)
    out({ pid: process.pid, count, other, first, last, cpuMs: Math.round((cpu.user + cpu.system) / 1000) })
    process.exit(0)
  })
}

interface WorkerResult {
  count: number
  other: number
  first: number | null
  last: number | null
  cpuMs: number
}

function startWorkers(p: number, conc: number) {
  const kids: { child: ChildProcess; result: Promise<WorkerResult> }[] = []
  const ready: Promise<unknown>[] = []
  for (let i = 0; i < p; i++) {
    // Same node flags as this process (the tsx loader), without npx's start-up.
    const child = spawn(process.execPath, [...process.execArgv, SELF, 'worker', String(conc)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: process.env,
    })
    track(child)
    let buf = ''
    const result = new Promise<WorkerResult>((resolve, reject) => {
      child.on('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
      child.stdout!.on('data', (d) => {
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

async function waitDone(pool: pg.Pool, pollMs = 20) {
  for (;;) {
    if ((await remaining(pool)) === 0) return now()
    await sleep(pollMs)
  }
}

async function stopWorkers(kids: { child: ChildProcess; result: Promise<WorkerResult> }[]) {
  for (const k of kids) k.child.kill('SIGTERM')
  return Promise.all(kids.map((k) => k.result))
}

function summarize(what: string, p: number, conc: number, n: number, t0: number, tDone: number, results: WorkerResult[], extra: object) {
  const total = results.reduce((s, r) => s + r.count, 0)
  const first = Math.min(...results.map((r) => r.first ?? Infinity))
  const last = Math.max(...results.map((r) => r.last ?? -Infinity))
  if (total !== n) throw new Error(`${what}: ${total} completions counted, expected ${n}`)
  out({
    queue: 'stratum',
    what,
    processes: p,
    concurrency: conc,
    jobsDone: total,
    notCompleted: results.reduce((s, r) => s + r.other, 0),
    perProcess: results.map((r) => r.count),
    workerCpuMs: results.map((r) => r.cpuMs),
    ...extra,
    wallMs: +(tDone - t0).toFixed(1),
    wallJobsPerSec: Math.round((total * 1000) / (tDone - t0)),
    firstStartToLastDoneMs: +(last - first).toFixed(1),
    busyJobsPerSec: Math.round((total * 1000) / (last - first)),
  })
}

async function drain(p: number, conc: number) {
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  const n = await remaining(pool)
  const t0 = now()
  const { kids, ready } = startWorkers(p, conc)
  await ready
  const tReady = now()
  const tDone = await waitDone(pool)
  const results = await stopWorkers(kids)
  summarize('drain', p, conc, n, t0, tDone, results, { startupMs: +(tReady - t0).toFixed(1) })
  await pool.end()
}

async function e2e(p: number, conc: number, n: number, tag: string) {
  const pool = new pg.Pool({ connectionString: DB, max: 1 })
  if ((await remaining(pool)) !== 0) throw new Error('queue not empty')
  const { kids, ready } = startWorkers(p, conc)
  await ready
  await sleep(1000) // let LISTEN connections settle, as gw.bench.js does
  const { t0, ms } = await fillJobs(n, tag)
  const tDone = await waitDone(pool)
  const results = await stopWorkers(kids)
  summarize('e2e', p, conc, n, t0, tDone, results, { enqueueMs: +ms.toFixed(1) })
  await pool.end()
}

const [cmd, a, b, c] = process.argv.slice(2)
const int = (s: string | undefined, d?: number) => (s === undefined && d !== undefined ? d : Number.parseInt(s!, 10))
try {
  if (cmd === 'worker') await worker(int(a))
  else {
    if (cmd === 'reset') await reset()
    else if (cmd === 'fill') {
      const n = int(a)
      const { ms } = await fillJobs(n, `fill-${Date.now()}`)
      out({ queue: 'stratum', what: 'enqueue', n, ms: +ms.toFixed(1), jobsPerSec: Math.round((n * 1000) / ms), keys: WITH_KEYS })
    } else if (cmd === 'drain') await drain(int(a), int(b, 10))
    else if (cmd === 'e2e') await e2e(int(a), int(b, 10), int(c, 20000), `e2e-${Date.now()}`)
    else {
      console.error('usage: npx tsx bench/jobs.bench.ts reset | fill N | drain P C | e2e P C N')
      process.exit(2)
    }
    process.exit(0)
  }
} catch (err) {
  console.error(err)
  process.exit(1)
}
