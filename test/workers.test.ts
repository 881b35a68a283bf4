// Several worker processes on one PostgreSQL database: every job runs exactly once, and a job
// held by a worker killed with SIGKILL is retried by another after its lease.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rows, type Database } from '../src/core/db/database.ts'
import { systemContext } from '../src/core/context.ts'
import { enqueueJobs } from '../src/core/jobs/jobs.service.ts'
import { onPostgres, testDatabase } from './db.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))

let database: Database & { url?: string }
const children: ChildProcess[] = []

function startWorkerProcess(name: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, DATABASE_URL: database.url!, WORKER_NAME: name, WORKER_CONCURRENCY: '10', DATABASE_POOL_MAX: '14', JOB_POLL_MS: '200', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${name} exited with ${code} before it was ready`)))
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child)
    })
  })
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })

async function until(fn: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 100))
  }
}

const count = async (q: ReturnType<typeof sql>) => (await rows<{ n: number }>(database.db, q))[0]!.n

describe.runIf(onPostgres())('worker processes on PostgreSQL', () => {
  beforeAll(async () => {
    database = await testDatabase()
    await database.db.execute(sql`create table test_job_runs (job_id uuid not null, worker text not null, attempt int not null, at timestamptz not null default clock_timestamp())`)
  })
  afterEach(async () => {
    await Promise.all(children.splice(0).map(stop))
  })
  afterAll(() => database.close())

  it('2 workers x 10,000 jobs: every job runs to completion exactly once', async () => {
    const ctx = systemContext()
    await database.transaction((tx) => enqueueJobs(tx, ctx, Array.from({ length: 10_000 }, (_, i) => ({ type: 'test.count', params: { i } }))))
    await Promise.all([startWorkerProcess('w1'), startWorkerProcess('w2')])
    await until(async () => (await count(sql`select count(*)::int as n from jobs where type = 'test.count' and status = 'completed'`)) === 10_000, 180_000)
    const twice = await rows(database.db, sql`select r.job_id, r.worker, r.attempt, r.at, j.attempts, j.error from test_job_runs r join jobs j on j.id = r.job_id
      where r.job_id in (select job_id from test_job_runs group by job_id having count(*) > 1) order by r.job_id, r.at`)
    expect(twice).toEqual([])
    expect(await count(sql`select count(*)::int as n from test_job_runs where attempt is not null`)).toBe(10_000)
    expect(await count(sql`select count(distinct job_id)::int as n from test_job_runs`)).toBe(10_000)
    expect(await count(sql`select count(*)::int as n from jobs where type = 'test.count' and attempts <> 1`)).toBe(0)
    const perWorker = await rows<{ worker: string; n: number }>(database.db, sql`select worker, count(*)::int as n from test_job_runs group by worker order by worker`)
    expect(perWorker.map((w) => w.worker)).toEqual(['w1', 'w2'])
  }, 240_000)

  it('a worker killed with SIGKILL mid-job: another retries it after the lease, and it completes once', async () => {
    await database.db.execute(sql`truncate test_job_runs`)
    const victim = await startWorkerProcess('victim', { JOB_LEASE_MS: '1500' })
    const [job] = await database.transaction((tx) => enqueueJobs(tx, systemContext(), [{ type: 'test.hang' }]))
    await until(async () => (await count(sql`select count(*)::int as n from test_job_runs where job_id = ${job!.id}`)) === 1, 20_000)
    victim.kill('SIGKILL')
    await new Promise((r) => victim.once('exit', r))
    const [held] = await rows<{ status: string; locked_by: string }>(database.db, sql`select status, locked_by from jobs where id = ${job!.id}`)
    expect(held!.status).toBe('running') // still held by the dead worker's lease
    await startWorkerProcess('rescuer', { JOB_LEASE_MS: '1500' })
    await until(async () => (await rows<{ status: string }>(database.db, sql`select status from jobs where id = ${job!.id}`))[0]!.status === 'completed', 30_000)
    const [done] = await rows<{ attempts: number; result: { finished_by: string } }>(database.db, sql`select attempts, result from jobs where id = ${job!.id}`)
    expect(done).toEqual({ attempts: 2, result: { finished_by: 'rescuer' } })
    const runs = await rows<{ worker: string; attempt: number }>(database.db, sql`select worker, attempt from test_job_runs where job_id = ${job!.id} order by at`)
    expect(runs).toEqual([
      { worker: 'victim', attempt: 1 },
      { worker: 'rescuer', attempt: 2 },
    ])
  })
})
