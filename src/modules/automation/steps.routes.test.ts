// Step types that wait for people and other workflows, and the ones that act on the platform,
// through the HTTP API with real sign-in (an approval is a person's decision) and a real worker:
// approval (approve, reject, timeout, approvers), sub_workflow (output, failure, a child that
// finishes later), scenario_log, upsert_entities, write_datapoints, query_datapoints, enqueue_job;
// and the run-history prune job.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { createWorker, type Worker } from '../../core/jobs/worker.ts'
import { allJobHandlers } from '../../core/runtime.ts'

type Json = Record<string, any>

let t: Awaited<ReturnType<typeof testApp>>
let worker: Worker
let me: SignedUp
/** Answers every request after 1.5 s: a step that keeps a branch busy. */
let sink: Server
let sinkUrl: string

async function api(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: me.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
let n = 0
const automation = async (graph: Json, extra: Json = {}) => ok(await api('POST', '/automations', { name: `Steps ${++n}`, graph, ...extra }), 201)
const start = async (ref: string, input: Json = {}) => ok(await api('POST', `/automations/${ref}/executions`, { input }), 201)
async function until(id: string, statuses: string[], seconds = 20) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const e = ok(await api('GET', `/executions/${id}`))
    if (statuses.includes(e.status) || Date.now() > deadline) return e
    await new Promise((r) => setTimeout(r, 25))
  }
}

beforeAll(async () => {
  sink = createServer((req, res) => {
    req.resume()
    req.on('end', () => void setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'), 1500))
  })
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`
  t = await testApp({ HTTP_STEP_ALLOW: '127.0.0.1' }, { realAuth: true })
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 4, leaseMs: 60_000, pollMs: 20 })
  await worker.start()
  me = await signUp(t.app, { organization: 'Steps Co' })
}, 60_000)
afterAll(async () => {
  await worker?.stop(5000)
  await t?.close()
  sink?.closeAllConnections()
  await new Promise((r) => sink?.close(r))
})

describe('approval steps', () => {
  const graph = (config: Json) => ({
    steps: [
      { id: 'ask', type: 'approval', config: { message: 'Ship batch {{ input.batch }}?', ...config } },
      { id: 'after', type: 'transform', config: { expression: '{"approved": steps.ask.output.result, "by": steps.ask.output.by}' } },
    ],
    edges: [{ from: 'ask', to: 'after' }],
  })

  it('on a branch of its own: listed and decided while another branch still runs, and the step after both sees the decision', async () => {
    const a = await automation({
      steps: [
        { id: 'ask', type: 'approval', config: { message: 'Go?' } },
        { id: 'call', type: 'http', config: { url: `${sinkUrl}/busy` } },
        { id: 'after', type: 'transform', config: { expression: '{"approved": steps.ask.output.result, "slow": steps.call.output.body.slow}' } },
      ],
      edges: [
        { from: 'ask', to: 'after' },
        { from: 'call', to: 'after' },
      ],
    })
    const e = await start(a.id)
    let listed: Json | undefined
    for (const deadline = Date.now() + 10_000; !listed && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      listed = (ok(await api('GET', '/approvals')).data as Json[]).find((x) => x.execution_id === e.id)
    }
    expect(listed).toMatchObject({ step_id: 'ask', message: 'Go?' })
    const decided = ok(await api('POST', `/executions/${e.id}/steps/ask/decision`, { decision: 'approve' }))
    const during = ok(await api('GET', `/executions/${e.id}`))
    // Decided while the call was still out: the execution was running, not waiting.
    expect(during.status).toBe('running')
    expect(during.steps.find((s: Json) => s.step_id === 'call')).toMatchObject({ status: 'running' })
    expect(decided).toMatchObject({ decision: 'approve', by: me.user.email })
    const done = await until(e.id, ['succeeded', 'failed'])
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded')
    expect(done.output).toEqual({ approved: true, slow: true })
  })

  it('waits, is listed, refuses someone the step does not name, and carries on when an approver approves', async () => {
    const a = await automation(graph({ approvers: ['someone.else@example.com'] }))
    const e = await start(a.id, { batch: 'B-7' })
    expect((await until(e.id, ['waiting'])).status).toBe('waiting')
    const pending = ok(await api('GET', '/approvals')).data as Json[]
    expect(pending).toContainEqual(expect.objectContaining({ execution_id: e.id, step_id: 'ask', message: 'Ship batch B-7?', approvers: ['someone.else@example.com'] }))
    const refused = await api('POST', `/executions/${e.id}/steps/ask/decision`, { decision: 'approve' })
    expect(refused.status, JSON.stringify(refused.body)).toBe(403)
    expect(refused.body.detail).toContain(me.user.email)

    const b = await automation(graph({ approvers: [me.user.email.toUpperCase()] }))
    const e2 = await start(b.id, { batch: 'B-8' })
    await until(e2.id, ['waiting'])
    expect(ok(await api('POST', `/executions/${e2.id}/steps/nope/decision`, { decision: 'approve' }), 404))
    const decided = ok(await api('POST', `/executions/${e2.id}/steps/ask/decision`, { decision: 'approve', comment: 'looks fine' }))
    expect(decided).toMatchObject({ decision: 'approve', by: me.user.email, comment: 'looks fine' })
    const done = await until(e2.id, ['succeeded', 'failed'])
    expect(done.status).toBe('succeeded')
    expect(done.output).toEqual({ approved: true, by: me.user.email })
    expect((await api('POST', `/executions/${e2.id}/steps/ask/decision`, { decision: 'reject' })).status).toBe(409)
    const types = (ok(await api('GET', `/events?entity_id=${e2.id}&limit=100`)).data as Json[]).map((x) => x.type)
    expect(types).toEqual(expect.arrayContaining(['execution.approval_requested', 'execution.approved', 'execution.completed']))
    // Decided steps leave the list.
    expect((ok(await api('GET', '/approvals')).data as Json[]).map((x) => x.execution_id)).not.toContain(e2.id)
  })

  it('a rejection fails the execution, or with on_reject continue follows the "false" branch', async () => {
    const a = await automation(graph({}))
    const e = await start(a.id, { batch: 'B-9' })
    await until(e.id, ['waiting'])
    ok(await api('POST', `/executions/${e.id}/steps/ask/decision`, { decision: 'reject', comment: 'wrong grade' }))
    const failed = await until(e.id, ['succeeded', 'failed'])
    expect(failed.status).toBe('failed')
    expect(failed.error.message).toContain(`rejected by ${me.user.email}: wrong grade`)

    const b = await automation({
      steps: [
        { id: 'ask', type: 'approval', config: { on_reject: 'continue' } },
        { id: 'yes', type: 'transform', config: { expression: '"shipped"' } },
        { id: 'no', type: 'transform', config: { expression: '"held back"' } },
      ],
      edges: [
        { from: 'ask', to: 'yes', branch: 'true' },
        { from: 'ask', to: 'no', branch: 'false' },
      ],
    })
    const e2 = await start(b.id)
    await until(e2.id, ['waiting'])
    ok(await api('POST', `/executions/${e2.id}/steps/ask/decision`, { decision: 'reject' }))
    const done = await until(e2.id, ['succeeded', 'failed'])
    expect(done.status).toBe('succeeded')
    expect(done.output).toBe('held back')
    expect(done.steps.find((s: Json) => s.step_id === 'yes').status).toBe('skipped')
  })

  it('times out: fails by default, or decides as on_timeout says', async () => {
    const a = await automation(graph({ timeout_seconds: 1 }))
    const b = await automation(graph({ timeout_seconds: 1, on_timeout: 'approve' }))
    const [e1, e2] = [await start(a.id), await start(b.id)]
    const [f1, f2] = [await until(e1.id, ['succeeded', 'failed']), await until(e2.id, ['succeeded', 'failed'])]
    expect(f1.status).toBe('failed')
    expect(f1.error.message).toContain('nobody decided within 1 s')
    expect(f2.status).toBe('succeeded')
    expect(f2.output).toEqual({ approved: true, by: null })
  })

  it('a bad decision is a 422 naming the field', async () => {
    const a = await automation(graph({}))
    const e = await start(a.id)
    await until(e.id, ['waiting'])
    const res = await api('POST', `/executions/${e.id}/steps/ask/decision`, { decision: 'maybe' })
    expect(res.status).toBe(422)
    expect(JSON.stringify(res.body)).toContain('/body/decision')
    ok(await api('POST', `/executions/${e.id}/cancel`))
  })
})

describe('sub_workflow steps', () => {
  it("runs the child's live version, waits for it and takes its output; the child names its parent", async () => {
    const child = await automation({ steps: [{ id: 'double', type: 'transform', config: { expression: '{"twice": input.x * 2}' } }], edges: [] }, { slug: 'double-it' })
    const parent = await automation({
      steps: [
        { id: 'call', type: 'sub_workflow', config: { automation: 'double-it', input: { x: '{{ input.n }}' } } },
        { id: 'use', type: 'transform', config: { expression: 'steps.call.output.output.twice + 1' } },
      ],
      edges: [{ from: 'call', to: 'use' }],
    })
    const e = await start(parent.id, { n: 20 })
    const done = await until(e.id, ['succeeded', 'failed'])
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded')
    expect(done.output).toBe(41)
    const childId = done.steps.find((s: Json) => s.step_id === 'call').output.execution_id
    const c = ok(await api('GET', `/executions/${childId}`))
    expect(c).toMatchObject({ automation_id: child.id, status: 'succeeded', trigger_type: 'sub_workflow', input: { x: 20 }, trace_id: done.trace_id })
  })

  it('waits for a child that takes a while (delay), and fails when the child fails', async () => {
    ok(await api('POST', '/automations', { name: 'Slow child', slug: 'slow-child', graph: { steps: [{ id: 'nap', type: 'delay', config: { seconds: 1 } }, { id: 'out', type: 'transform', config: { expression: '"rested"' } }], edges: [{ from: 'nap', to: 'out' }] } }), 201)
    ok(await api('POST', '/automations', { name: 'Bad child', slug: 'bad-child', graph: { steps: [{ id: 'boom', type: 'code', config: { source: 'throw new Error("no stock")' } }], edges: [] } }), 201)
    const slow = await automation({ steps: [{ id: 'call', type: 'sub_workflow', config: { automation: 'slow-child' } }], edges: [] })
    const bad = await automation({ steps: [{ id: 'call', type: 'sub_workflow', config: { automation: 'bad-child' } }], edges: [] })
    const [e1, e2] = [await start(slow.id), await start(bad.id)]
    const [d1, d2] = [await until(e1.id, ['succeeded', 'failed']), await until(e2.id, ['succeeded', 'failed'])]
    expect(d1.status).toBe('succeeded')
    expect(d1.output).toMatchObject({ status: 'succeeded', output: 'rested' })
    expect(d2.status).toBe('failed')
    expect(d2.error.message).toContain('sub-workflow bad-child failed')
    expect(d2.error.message).toContain('no stock')
  })

  it('a workflow that calls itself stops at the nesting limit', async () => {
    const self = await automation({ steps: [{ id: 'again', type: 'sub_workflow', config: { automation: 'self-caller' } }], edges: [] }, { slug: 'self-caller' })
    const e = await start(self.id)
    const done = await until(e.id, ['succeeded', 'failed'], 60)
    expect(done.status).toBe('failed')
    expect(JSON.stringify(done.error)).toContain('nest at most 10 deep')
  })
})

describe('platform actions', () => {
  it('writes a scenario log line, upserts entities, writes and queries datapoints and enqueues a job, as the execution', async () => {
    const scenario = ok(await api('POST', '/scenarios', { name: 'Automated Case', period_start: '2026-01-01T00:00:00Z', period_end: '2026-04-01T00:00:00Z' }), 201)
    ok(await api('POST', '/object-types', { name: 'Tank', properties: [{ name: 'level', data_type: 'number', time_varying: true, unit_category: 'Length' }] }), 201)
    const a = await automation({
      steps: [
        { id: 'tanks', type: 'upsert_entities', config: { items: [{ type: 'Tank', name: '{{ input.tank }}', external_id: 'tank-{{ input.tank }}' }] } },
        { id: 'log', type: 'scenario_log', config: { scenario: scenario.id, message: 'tank {{ input.tank }} registered', level: 'info', progress: '{{ 50 }}' } },
        { id: 'revalidate', type: 'enqueue_job', config: { type: 'assets.revalidate', params: { type: 'Tank' } } },
      ],
      edges: [
        { from: 'tanks', to: 'log' },
        { from: 'log', to: 'revalidate' },
      ],
    })
    const e = await start(a.id, { tank: 'T-1' })
    const done = await until(e.id, ['succeeded', 'failed'])
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded')
    const tank = (ok(await api('GET', '/entities?type=Tank')).data as Json[]).find((x) => x.name === 'T-1')
    expect(tank).toMatchObject({ external_id: 'tank-T-1' })
    const logs = ok(await api('GET', `/scenarios/${scenario.id}/logs`)).data as Json[]
    expect(logs[0]).toMatchObject({ message: 'tank T-1 registered', level: 'info', progress: 50 })
    const jobId = done.steps.find((s: Json) => s.step_id === 'revalidate').output.job_id
    expect(ok(await api('GET', `/jobs/${jobId}`))).toMatchObject({ type: 'assets.revalidate' })

    const series = ok(await api('POST', '/series', { entity_id: tank!.id, property: 'level' }), 201)
    const b = await automation({
      steps: [
        { id: 'write', type: 'write_datapoints', config: { items: [{ series_id: series.id, timestamps: ['2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z'], values: ['{{ input.a }}', '{{ input.b }}'], unit: 'm' }] } },
        { id: 'read', type: 'query_datapoints', config: { query: { series_ids: [series.id], start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', granularity: '1d', aggregates: ['avg'] } } },
        { id: 'avg', type: 'transform', config: { expression: 'steps.read.output.data[0].buckets[0].avg' } },
      ],
      edges: [
        { from: 'write', to: 'read' },
        { from: 'read', to: 'avg' },
      ],
    })
    const e2 = await start(b.id, { a: 2, b: 4 })
    const d2 = await until(e2.id, ['succeeded', 'failed'])
    expect(d2.status, JSON.stringify(d2.error)).toBe('succeeded')
    expect(d2.output).toBeCloseTo(3, 9)

    // A bad item fails the step with the API's field errors, and nothing is written.
    const e3 = await start(b.id, { a: 'not a number', b: 4 })
    const d3 = await until(e3.id, ['succeeded', 'failed'])
    expect(d3.status).toBe('failed')
    const failed = d3.steps.find((s: Json) => s.step_id === 'write')
    expect(failed.error.status).toBe(422)
    expect(failed.attempt).toBe(1)
  })

  it('an enqueue_job step may only name the jobs a workflow may start', async () => {
    const res = await api('POST', '/automations', { name: 'Bad job', graph: { steps: [{ id: 'j', type: 'enqueue_job', config: { type: 'automation.execute' } }], edges: [] } })
    expect(res.status).toBe(422)
    expect(JSON.stringify(res.body)).toContain('/body/graph/steps/0/config/type')
  })
})

describe('run history retention', () => {
  const jobDone = async (id: string) => {
    const deadline = Date.now() + 20_000
    for (;;) {
      const j = ok(await api('GET', `/jobs/${id}`))
      if (['completed', 'failed'].includes(j.status) || Date.now() > deadline) return j
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  it('a prune job keeps the newest retention_count finished executions and drops those older than retention_days', async () => {
    const none = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: '1' } }], edges: [] })
    expect((await api('POST', `/automations/${none.id}/prune`)).status).toBe(422)

    const a = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: 'input.i' } }], edges: [] }, { retention_count: 2 })
    // Setting a retention schedules the organisation's hourly run.
    const scheduled = ok(await api('GET', '/jobs?type=automation.prune&limit=10')).data as Json[]
    expect(scheduled.some((j) => j.status === 'pending' && Date.parse(j.run_after ?? j.scheduled_at) > Date.now() + 30 * 60_000)).toBe(true)
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const e = await start(a.id, { i })
      await until(e.id, ['succeeded'])
      ids.push(e.id)
    }
    const job = ok(await api('POST', `/automations/${a.slug}/prune`), 202)
    expect((await jobDone(job.id)).result).toEqual({ automations: 1, deleted: 2 })
    const left = (ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]).map((e) => e.id)
    expect(left.sort()).toEqual(ids.slice(2).sort())
    expect((await api('GET', `/executions/${ids[0]}`)).status).toBe(404)
    const pruned = (ok(await api('GET', `/events?entity_id=${a.id}&limit=100`)).data as Json[]).find((x) => x.type === 'automation.executions_pruned')
    expect(pruned?.data).toMatchObject({ deleted: 2, retention_count: 2 })

    ok(await api('PATCH', `/automations/${a.id}`, { retention_count: null, retention_days: 1 }))
    await t.rt.database.db.execute(sql`update executions set ended_at = now() - interval '2 days' where id = ${ids[2]}`)
    const again = ok(await api('POST', `/automations/${a.id}/prune`), 202)
    expect((await jobDone(again.id)).result).toEqual({ automations: 1, deleted: 1 })
    expect((ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]).map((e) => e.id)).toEqual([ids[3]])
  })
})

describe('processes (seed 001)', () => {
  it('a process with a definition runs instances per batch with parameters and results', async () => {
    const p = ok(
      await api('POST', '/processes', {
        name: 'Anneal',
        process_type: 'recipe',
        definition: { steps: [{ id: 'heat', type: 'transform', config: { expression: '{"kwh": input.minutes * input.kw / 60}' } }], edges: [] },
      }),
      201,
    )
    expect(p).toMatchObject({ process_type: 'recipe', version: '1', status: 'active', definition: { steps: [{ id: 'heat' }] } })
    const runs = [
      ok(await api('POST', `/processes/${p.slug}/instances`, { batch_id: 'B-1', parameters: { minutes: 30, kw: 10 } }), 201),
      ok(await api('POST', `/processes/${p.id}/instances`, { batch_id: 'B-1', parameters: { minutes: 60, kw: 10 } }), 201),
      ok(await api('POST', `/processes/${p.id}/instances`, { batch_id: 'B-2', parameters: { minutes: 6, kw: 10 } }), 201),
    ]
    for (const r of runs) await until(r.id, ['succeeded'])
    const b1 = ok(await api('GET', `/processes/${p.id}/instances?batch_id=B-1`)).data as Json[]
    expect(b1.map((i) => i.results.kwh).sort()).toEqual([10, 5])
    expect(b1[0]).toMatchObject({ process_id: p.id, batch_id: 'B-1', status: 'succeeded', parameters: { minutes: 60, kw: 10 } })
    expect(b1[0]?.completed_at).not.toBeNull()
    const listed = (ok(await api('GET', '/processes?process_type=recipe')).data as Json[]).map((x) => x.id)
    expect(listed).toContain(p.id)

    const plain = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: '1' } }], edges: [] })
    expect((await api('GET', `/processes/${plain.id}`)).status).toBe(422)
    const bad = await api('POST', '/processes', { name: 'Broken', process_type: 'recipe', definition: { steps: [{ id: 'x', type: 'nope', config: {} }], edges: [] } })
    expect(bad.status).toBe(422)
    expect(JSON.stringify(bad.body)).toContain('/body/definition/steps/0/type')
  })
})
