import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { testApp, tenant } from '../../../test/app.ts'
import { rows } from '../db/database.ts'
import { claimJobs } from './claimJobs.ts'
import { enqueueJob, enqueueJobs, getJob, toJobView, type NewJob } from './jobs.service.ts'
import { createWorker, retryDelay, type JobHandler, type Worker } from './worker.ts'
import { ENSURE_PARTITIONS, schedulePartitionUpkeep } from './system.jobs.ts'

let t: Awaited<ReturnType<typeof testApp>>
const a = tenant()
const b = tenant()
let worker: Worker | null = null

beforeAll(async () => {
  t = await testApp()
})
afterEach(async () => {
  await worker?.stop(1000)
  worker = null
})
afterAll(() => t.close())

const enqueue = (job: NewJob, ctx = a.ctx) => t.rt.database.transaction((tx) => enqueueJob(tx, ctx, job))

async function run(handlers: JobHandler<any>[], opts: { leaseMs?: number; concurrency?: number; inlineConcurrency?: number } = {}) {
  worker = createWorker({
    database: t.rt.database,
    handlers,
    events: t.rt.events,
    log: t.rt.log,
    metrics: t.rt.metrics,
    concurrency: opts.concurrency ?? 4,
    ...(opts.inlineConcurrency !== undefined ? { inlineConcurrency: opts.inlineConcurrency } : {}),
    leaseMs: opts.leaseMs ?? 5000,
    pollMs: 50,
  })
  await worker.start()
  return worker
}

const api = (method: 'GET' | 'POST', url: string, headers = a.headers) => t.app.inject({ method, url, headers })

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const jobOf = (id: string, headers = a.headers) => api('GET', `/api/v1/jobs/${id}`, headers).then((r) => r.json())

describe('running jobs', () => {
  it('runs a job once and stores its result, visible through the API', async () => {
    const job = await enqueue({ type: 'test.add', params: { x: 2, y: 3 } })
    expect(job.status).toBe('pending')
    await run([{ type: 'test.add', run: async (j) => ({ sum: (j.params.x as number) + (j.params.y as number) }) }])
    const done = await until(() => jobOf(job.id), (j) => j.status === 'completed')
    expect(done).toMatchObject({ result: { sum: 5 }, attempts: 1, progress: 100, locked_by: null, error: null, created_by: `user:${a.userId}` })
    expect(done.finished_at).not.toBeNull()
  })

  it('reports progress with a message while running', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const job = await enqueue({ type: 'test.progress' })
    await run([{ type: 'test.progress', run: async (j) => { await j.progress(40, 'reading files'); await gate; return null } }])
    const mid = await until(() => jobOf(job.id), (j) => j.progress === 40)
    expect(mid).toMatchObject({ status: 'running', progress_message: 'reading files' })
    release()
    await until(() => jobOf(job.id), (j) => j.status === 'completed')
  })

  it('retries a failing job with backoff, then fails it after max_attempts with a job.failed event', async () => {
    const job = await enqueue({ type: 'test.flaky', maxAttempts: 3 })
    const runs: number[] = []
    await run([{ type: 'test.flaky', backoffMs: 20, run: async (j) => { runs.push(Date.now()); throw new Error(`attempt ${j.attempt} broke`) } }])
    const failed = await until(() => jobOf(job.id), (j) => j.status === 'failed')
    expect(failed).toMatchObject({ attempts: 3, error: { message: 'attempt 3 broke', name: 'Error' } })
    expect(runs).toHaveLength(3)
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(10) // backoff, not an immediate re-run
    const events = (await api('GET', `/api/v1/events?entity_id=${job.id}`)).json().data
    expect(events.map((e: { type: string }) => e.type)).toEqual(['job.failed'])
  })

  it('a job that succeeds on a retry completes', async () => {
    const job = await enqueue({ type: 'test.second-time' })
    await run([{ type: 'test.second-time', backoffMs: 10, run: async (j) => { if (j.attempt === 1) throw new Error('transient'); return 'ok' } }])
    expect(await until(() => jobOf(job.id), (j) => j.status === 'completed')).toMatchObject({ attempts: 2, result: 'ok' })
  })

  it('times out a job that runs longer than its type allows', async () => {
    const job = await enqueue({ type: 'test.slow', maxAttempts: 1 })
    await run([{ type: 'test.slow', timeoutMs: 100, run: (j) => new Promise((r) => j.signal.addEventListener('abort', r)) }])
    const failed = await until(() => jobOf(job.id), (j) => j.status === 'failed')
    expect(failed.error).toEqual({ name: 'JobTimeoutError', message: 'job ran longer than its 100 ms timeout' })
  })

  it('backoff grows exponentially with jitter and is capped', () => {
    for (let i = 0; i < 50; i++) {
      const d3 = retryDelay(3, 1000)
      expect(d3).toBeGreaterThanOrEqual(2000)
      expect(d3).toBeLessThanOrEqual(4000)
    }
    expect(retryDelay(40, 1000)).toBeLessThanOrEqual(3_600_000)
  })

  it('runs higher priority first, and nothing before run_after', async () => {
    const order: string[] = []
    await enqueue({ type: 'test.order', params: { n: 'later' }, runAt: new Date(Date.now() + 400) })
    await enqueue({ type: 'test.order', params: { n: 'low' }, priority: 0 })
    await enqueue({ type: 'test.order', params: { n: 'high' }, priority: 10 })
    await run([{ type: 'test.order', run: async (j) => void order.push(j.params.n as string) }], { concurrency: 1 })
    await until(async () => order.length, (n) => n === 3)
    expect(order).toEqual(['high', 'low', 'later'])
  })
})

describe('cancelling', () => {
  it('cancels a pending job at once', async () => {
    const job = await enqueue({ type: 'test.never' })
    const res = await api('POST', `/api/v1/jobs/${job.id}/cancel`)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'cancelled', cancel_requested: true })
    const [e] = (await api('GET', `/api/v1/events?entity_id=${job.id}`)).json().data
    expect(e).toMatchObject({ type: 'job.cancelled', actor: `user:${a.userId}` })
  })

  it('asks a running job to stop; the handler sees it at its next progress call', async () => {
    const job = await enqueue({ type: 'test.loop' })
    let calls = 0
    await run([
      {
        type: 'test.loop',
        run: async (j) => {
          for (;;) {
            calls++
            await j.progress(Math.min(calls, 99))
            await new Promise((r) => setTimeout(r, 20))
          }
        },
      },
    ])
    await until(() => jobOf(job.id), (j) => j.status === 'running' && j.progress > 0)
    const res = await api('POST', `/api/v1/jobs/${job.id}/cancel`)
    expect(res.json()).toMatchObject({ status: 'running', cancel_requested: true })
    const done = await until(() => jobOf(job.id), (j) => j.status === 'cancelled')
    expect(done.finished_at).not.toBeNull()
    const seen = calls
    await new Promise((r) => setTimeout(r, 100))
    expect(calls).toBe(seen) // the handler stopped
  })

  it('refuses to cancel a finished job with a 409 naming both states', async () => {
    const job = await enqueue({ type: 'test.quick' })
    await run([{ type: 'test.quick', run: async () => 1 }])
    await until(() => jobOf(job.id), (j) => j.status === 'completed')
    const res = await api('POST', `/api/v1/jobs/${job.id}/cancel`)
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ type: '/problems/illegal-transition', detail: 'job cannot move from completed to cancelled', from: 'completed', to: 'cancelled' })
  })
})

describe('leases', () => {
  it('retries a job whose worker stopped heartbeating once its lease expires', async () => {
    const job = await enqueue({ type: 'test.orphan' })
    // A worker that claims the job and then dies: nothing renews its 200 ms lease.
    const [claimed] = await claimJobs(t.rt.database, 'dead-worker', ['test.orphan'], 1, 200)
    expect(claimed!.id).toBe(job.id)
    const ran: number[] = []
    await run([{ type: 'test.orphan', run: async (j) => void ran.push(j.attempt) }], { leaseMs: 400 })
    const done = await until(() => jobOf(job.id), (j) => j.status === 'completed')
    expect(done.attempts).toBe(2)
    expect(ran).toEqual([2])
  })

  it('keeps the lease of a long job alive by heartbeat', async () => {
    const job = await enqueue({ type: 'test.long' })
    await run([{ type: 'test.long', run: () => new Promise((r) => setTimeout(() => r('done'), 900)) }], { leaseMs: 300 })
    const done = await until(() => jobOf(job.id), (j) => j.status === 'completed')
    expect(done.attempts).toBe(1)
  })

  it('gives unfinished jobs back to the queue on shutdown without spending an attempt', async () => {
    const job = await enqueue({ type: 'test.stuck' })
    const w = await run([{ type: 'test.stuck', run: () => new Promise(() => {}) }])
    await until(() => jobOf(job.id), (j) => j.status === 'running')
    await w.stop(50)
    worker = null
    expect(await jobOf(job.id)).toMatchObject({ status: 'pending', attempts: 0, locked_by: null })
  })
})

describe('reserving a slot for a job written already claimed', () => {
  it('gives up to inlineConcurrency slots besides the queue, and a released one again; a job written with one runs here', async () => {
    const w = await run([{ type: 'test.inline', run: async () => 'ran here' }], { concurrency: 1, inlineConcurrency: 2 })
    const s1 = w.reserve('test.inline')!
    const s2 = w.reserve('test.inline')!
    expect(s1).not.toBeNull()
    expect(s2).not.toBeNull()
    expect(w.reserve('test.inline')).toBeNull()
    expect(w.reserve('test.unknown')).toBeNull()
    s2.release()
    const job = await enqueue({ type: 'test.inline', claimedBy: s1.claimedBy })
    expect(job).toMatchObject({ status: 'running', lockedBy: w.workerId, attempts: 1 })
    await s1.run(job)
    expect(await jobOf(job.id)).toMatchObject({ status: 'completed', result: 'ran here' })
    expect(w.reserve('test.inline')).not.toBeNull()
  })
})

describe('enqueueing', () => {
  it('an idempotency key adds a job once per organisation', async () => {
    const one = await enqueue({ type: 'test.idem', idempotencyKey: 'import-42' })
    const two = await enqueue({ type: 'test.idem', idempotencyKey: 'import-42' })
    const other = await enqueue({ type: 'test.idem', idempotencyKey: 'import-42' }, b.ctx)
    expect(two.id).toBe(one.id)
    expect(other.id).not.toBe(one.id)
  })
  it('returns the job as the database holds it', async () => {
    const job = await enqueue({ type: 'test.echo', params: { deep: { x: [1, 'two'] } }, priority: 3, maxAttempts: 2, runAt: new Date(Date.now() + 3_600_000) })
    expect(toJobView(job)).toEqual(await jobOf(job.id))
  })
  it('answers a mixed batch in order: taken keys give the earlier job, the rest are new', async () => {
    const first = await enqueue({ type: 'test.idem', idempotencyKey: 'batch-7' })
    const out = await t.rt.database.transaction((tx) =>
      enqueueJobs(tx, a.ctx, [{ type: 'test.plain' }, { type: 'test.idem', idempotencyKey: 'batch-7' }, { type: 'test.plain', params: { n: 2 } }]),
    )
    expect(out.map((j) => j.type)).toEqual(['test.plain', 'test.idem', 'test.plain'])
    expect(out[1]!.id).toBe(first.id)
    expect(new Set(out.map((j) => j.id)).size).toBe(3)
    expect(out[2]!.params).toEqual({ n: 2 })
  })
  it('a job enqueued in a rolled-back transaction does not exist', async () => {
    let id = ''
    await expect(
      t.rt.database.transaction(async (tx) => {
        id = (await enqueueJob(tx, a.ctx, { type: 'test.ghost' })).id
        throw new Error('rollback')
      }),
    ).rejects.toThrow('rollback')
    await expect(getJob(t.rt.database.db, a.ctx, id)).rejects.toThrow(/not found/)
  })
  it('schedules partition upkeep once a day, however many workers start', async () => {
    await schedulePartitionUpkeep(t.rt.database)
    await schedulePartitionUpkeep(t.rt.database)
    const found = await rows<{ n: number }>(t.rt.database.db, sql`select count(*)::int as n from jobs where type = ${ENSURE_PARTITIONS}`)
    expect(found[0]!.n).toBe(1)
  })
})

describe('GET /api/v1/jobs', () => {
  it('lists with filters and pages, and hides other organisations', async () => {
    const org = tenant()
    for (let i = 0; i < 5; i++) await enqueue({ type: 'test.listed', params: { i } }, org.ctx)
    await enqueue({ type: 'test.other' }, org.ctx)
    const ids: string[] = []
    let cursor: string | null = null
    do {
      const res = await api('GET', `/api/v1/jobs?type=test.listed&status=pending&limit=2${cursor ? `&cursor=${cursor}` : ''}`, org.headers)
      expect(res.statusCode).toBe(200)
      ids.push(...res.json().data.map((j: { id: string }) => j.id))
      cursor = res.json().next_cursor
    } while (cursor)
    expect(ids).toHaveLength(5)
    expect(new Set(ids).size).toBe(5)
    expect((await api('GET', '/api/v1/jobs?type=test.listed', b.headers)).json().data).toEqual([])
    expect((await api('GET', `/api/v1/jobs/${ids[0]}`, b.headers)).statusCode).toBe(404)
    expect((await api('POST', `/api/v1/jobs/${ids[0]}/cancel`, b.headers)).statusCode).toBe(404)
  })
  it('exposes job counts and durations by type and outcome in /metrics', async () => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(text).toMatch(/stratum_jobs_finished_total\{type="test.add",outcome="completed"\} 1/)
    expect(text).toMatch(/stratum_job_duration_seconds_count\{type="test.flaky",outcome="failed"\} 1/)
  })
})
