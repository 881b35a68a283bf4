// The engine's one-statement writes (engine.writes.ts) against the database itself: they write
// only for the runner that holds an execution and not after a cancel was asked for (then the
// engine's general transaction takes over), an end completes the job held by the same worker
// and writes its event, and writes that arrive together go in one statement.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { newId } from '../../core/behaviours/columns.ts'
import { rows } from '../../core/db/database.ts'
import { createEngineWrites, type StepRecord } from './engine.writes.ts'

type Json = Record<string, any>

let t: Awaited<ReturnType<typeof testApp>>
let me: SignedUp
let automationId: string

async function api(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: me.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}

/** An execution started through the API (no worker runs here), then held by `runner` with its job held by `worker`. */
async function held(runner: string, worker = 'w-test') {
  const res = await api('POST', `/automations/${automationId}/executions`, { input: { n: 1 } })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  const e = res.body
  await t.rt.database.transaction(async (tx) => {
    await tx.execute(sql`update executions set status = 'running', runner = ${runner}, started_at = now() where id = ${e.id}`)
    await tx.execute(sql`update jobs set status = 'running', locked_by = ${worker}, attempts = 1 where id = ${e.job_id}`)
  })
  return { id: e.id as string, jobId: e.job_id as string }
}

const record = (stepId: string, status: StepRecord['status'], output: unknown = null): StepRecord => ({
  stepId,
  stepType: 'transform',
  attempt: 1,
  status,
  input: null,
  output,
  error: null,
  logs: [],
  durationMs: status === 'running' ? null : 1,
  wakeAt: null,
  startedAt: new Date(),
  endedAt: status === 'running' ? null : new Date(),
})

const stepRunsOf = (id: string) => rows<{ step_id: string; status: string; output: unknown }>(t.rt.database.db, sql`select step_id, status, output from step_runs where execution_id = ${id} order by step_id`)
const eventsOf = (id: string) => rows<{ event_type: string }>(t.rt.database.db, sql`select event_type from events where entity_id = ${id} order by id`)
const jobOf = async (id: string) => (await rows<{ status: string; locked_by: string | null; result: unknown }>(t.rt.database.db, sql`select status, locked_by, result from jobs where id = ${id}`))[0]!

const finishOf = (e: { id: string; jobId: string }, runner: string, output: unknown, worker = 'w-test') => ({
  executionId: e.id,
  runner,
  records: [record('b', 'succeeded', output)],
  status: 'succeeded' as const,
  output,
  error: null,
  events: [{ type: 'execution.completed', data: { automation_id: automationId } }],
  traceId: null,
  actor: 'system',
  jobId: e.jobId,
  workerId: worker,
})

let writes: ReturnType<typeof createEngineWrites>

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  me = await signUp(t.app, { organization: 'Writes Co' })
  const a = await api('POST', '/automations', { name: 'Writes', graph: { steps: [{ id: 'a', type: 'transform', config: { expression: '1' } }, { id: 'b', type: 'transform', config: { expression: '2' } }], edges: [{ from: 'a', to: 'b' }] } })
  expect(a.status, JSON.stringify(a.body)).toBe(201)
  automationId = a.body.id
  writes = createEngineWrites({ database: t.rt.database, sourceNode: 'test', newId, log: t.rt.log })
}, 60_000)
afterAll(async () => {
  await t?.close()
})

describe('engine writes in one statement', () => {
  it('write step records for the runner holding the execution, and nothing for another runner', async () => {
    const e = await held('job-1:1')
    expect(await writes.steps({ executionId: e.id, runner: 'job-0:1', records: [record('a', 'succeeded', { x: 1 })] })).toBeNull()
    expect(await stepRunsOf(e.id)).toEqual([])
    const written = await writes.steps({ executionId: e.id, runner: 'job-1:1', records: [record('a', 'succeeded', 'text output'), record('b', 'running')] })
    expect(written?.map((r) => [r.stepId, r.status, r.output])).toEqual(
      expect.arrayContaining([
        ['a', 'succeeded', 'text output'],
        ['b', 'running', null],
      ]),
    )
    expect(written?.every((r) => r.startedAt instanceof Date && r.executionId === e.id)).toBe(true)
    expect(await stepRunsOf(e.id)).toEqual([
      { step_id: 'a', status: 'succeeded', output: 'text output' },
      { step_id: 'b', status: 'running', output: null },
    ])
  })

  it('write nothing once a cancel was asked for (the general path ends it cancelled)', async () => {
    const e = await held('job-2:1')
    await t.rt.database.transaction((tx) => tx.execute(sql`update executions set cancel_requested_at = now() where id = ${e.id}`))
    expect(await writes.steps({ executionId: e.id, runner: 'job-2:1', records: [record('a', 'succeeded')] })).toBeNull()
    expect(await writes.finish(finishOf(e, 'job-2:1', 1))).toBeNull()
    expect(await stepRunsOf(e.id)).toEqual([])
    expect((await api('GET', `/executions/${e.id}`)).body.status).toBe('running')
    expect((await jobOf(e.jobId)).status).toBe('running')
  })

  it('end an execution with its last records, its event and its job completed, as the API then shows it', async () => {
    const e = await held('job-3:1')
    const ended = await writes.finish(finishOf(e, 'job-3:1', { total: 3 }))
    expect(ended).toMatchObject({ jobCompleted: true, deferred: false, execution: { id: e.id, status: 'succeeded', output: { total: 3 }, runner: null } })
    expect(ended!.execution.endedAt).toBeInstanceOf(Date)
    const view = (await api('GET', `/executions/${e.id}`)).body
    expect(view).toMatchObject({ status: 'succeeded', output: { total: 3 }, steps: [{ step_id: 'b', status: 'succeeded', output: { total: 3 } }] })
    expect(await jobOf(e.jobId)).toMatchObject({ status: 'completed', locked_by: null, result: { execution_id: e.id, status: 'succeeded' } })
    expect((await eventsOf(e.id)).map((x) => x.event_type)).toContain('execution.completed')
    // Once ended it is no longer held: a second end writes nothing.
    expect(await writes.finish(finishOf(e, 'job-3:1', 4))).toBeNull()
  })

  it('end the execution but leave a job another worker holds', async () => {
    const e = await held('job-4:1', 'w-other')
    expect(await writes.finish(finishOf(e, 'job-4:1', 1, 'w-test'))).toMatchObject({ jobCompleted: false, execution: { status: 'succeeded' } })
    expect(await jobOf(e.jobId)).toMatchObject({ status: 'running', locked_by: 'w-other' })
  })

  it('ends that arrive together are written together, each answered with its own execution', async () => {
    const es = await Promise.all([1, 2, 3, 4, 5].map((i) => held(`job-5${i}:1`)))
    const ended = await Promise.all(es.map((e, i) => writes.finish(finishOf(e, `job-5${i + 1}:1`, { i }))))
    expect(ended.map((x) => [x?.execution.id, x?.execution.output, x?.jobCompleted])).toEqual(es.map((e, i) => [e.id, { i }, true]))
    for (const [i, e] of es.entries()) expect(await stepRunsOf(e.id)).toEqual([{ step_id: 'b', status: 'succeeded', output: { i } }])
  })
})
