// Automations through the HTTP API with a real job worker and a real HTTP sink on loopback:
// graphs are validated (cycles, unknown types, bad configs, expressions, references), versions
// publish one at a time (the database holds "one live version", also under concurrent
// publishes), and executions run durably: step records, retries with backoff, durable delays,
// the QuickJS sandbox's limits, private addresses refused, cancel, resume and re-run.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { testApp, tenant, type Tenant } from '../../../test/app.ts'
import { allJobHandlers } from '../../core/runtime.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { createWorker, type Worker } from '../../core/jobs/worker.ts'
import { createAutomation } from './index.ts'

type Json = Record<string, any>
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

let t: Awaited<ReturnType<typeof testApp>>
let worker: Worker
let me: Tenant
let sink: Server
let sinkUrl: string
/** Requests the sink received, by path. */
const hits: Record<string, { body: unknown; headers: IncomingMessage['headers'] }[]> = {}
/** Statuses the sink answers with next, by path (then 200). */
const scripted: Record<string, number[]> = {}

async function api(method: Method, url: string, payload?: unknown, who: Tenant = me) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}

let n = 0
const automation = async (graph: Json, extra: Json = {}) => ok(await api('POST', '/automations', { name: `Automation ${++n}`, graph, ...extra }), 201)
const start = async (ref: string, body: Json = {}, wait = 20) => ok(await api('POST', `/automations/${ref}/executions?wait=${wait}`, body), 201)
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
    let text = ''
    req.on('data', (d) => (text += d))
    req.on('end', () => {
      const path = new URL(req.url!, 'http://x').pathname
      ;(hits[path] ??= []).push({ body: text ? JSON.parse(text) : null, headers: req.headers })
      const status = scripted[path]?.shift() ?? 200
      if (path === '/slow') return void setTimeout(() => res.end('late'), 5000)
      if (path === '/huge') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(1_048_577))
      if (path === '/pause') return void setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"paused":true}'), 400)
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ path, received: text ? JSON.parse(text) : null }))
    })
  })
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`
  t = await testApp({ HTTP_STEP_ALLOW: '127.0.0.1' })
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 4, leaseMs: 60_000, pollMs: 20 })
  await worker.start()
  // As in `stratum serve`: a request that waits for its execution runs it with this worker.
  t.rt.localWorker.attach(worker)
  me = tenant()
}, 60_000)
afterAll(async () => {
  await worker?.stop(5000)
  await t?.close()
  sink?.closeAllConnections()
  await new Promise((r) => sink?.close(r))
})
beforeEach(() => {
  for (const k of Object.keys(hits)) delete hits[k]
})

describe('workflow graphs', () => {
  const bad = async (graph: unknown) => {
    const res = await api('POST', '/automations', { name: `Bad ${++n}`, graph })
    expect(res.status, JSON.stringify(res.body)).toBe(422)
    return res.body.errors as { path: string; message: string }[]
  }

  it('refuses a cycle, an unknown step type, a config failing its schema, a bad expression and a reference to a step that does not run before', async () => {
    const t1 = { id: 'a', type: 'transform', config: { expression: 'input' } }
    expect(await bad({ steps: [t1, { ...t1, id: 'b' }], edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }] })).toEqual([{ path: '/body/graph/edges', message: expect.stringContaining('the graph has a cycle: a -> b -> a') }])
    expect(await bad({ steps: [{ id: 'a', type: 'teleport' }] })).toEqual([{ path: '/body/graph/steps/0/type', message: expect.stringContaining('unknown step type teleport') }])
    expect(await bad({ steps: [{ id: 'a', type: 'http', config: { method: 'FETCH' } }] })).toEqual(
      expect.arrayContaining([{ path: '/body/graph/steps/0/config', message: expect.stringContaining('url') }, { path: '/body/graph/steps/0/config/method', message: expect.any(String) }]),
    )
    expect(await bad({ steps: [{ id: 'a', type: 'transform', config: { expression: '{ "a": ' } }] })).toEqual([{ path: '/body/graph/steps/0/config/expression', message: expect.stringContaining('is not a JSONata expression') }])
    expect(await bad({ steps: [{ id: 'a', type: 'http', config: { url: 'http://x/{{ ( }}' } }] })).toEqual([{ path: '/body/graph/steps/0/config/url', message: expect.stringContaining('template {{ ( }}') }])
    expect(await bad({ steps: [t1, { id: 'b', type: 'transform', config: { expression: 'steps.c.output' } }, { ...t1, id: 'c' }], edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }] })).toEqual([
      { path: '/body/graph/steps/1/config/expression', message: 'reads steps.c, which does not run before b (add an edge from c)' },
    ])
    expect(await bad({ steps: [t1], edges: [{ from: 'a', to: 'zz' }] })).toEqual([{ path: '/body/graph/edges/0/to', message: 'no step has id zz' }])
    // validate answers without saving.
    const checked = ok(await api('POST', '/automations/validate', { graph: { steps: [t1, { ...t1, id: 'b' }], edges: [{ from: 'a', to: 'b' }] } }))
    expect(checked).toMatchObject({ valid: true, errors: [], plan: { steps: [{ id: 'a', outgoing: ['b'] }, { id: 'b', incoming: [{ from: 'a' }] }] } })
    expect(ok(await api('GET', '/automations?limit=1000')).data.filter((a: Json) => a.name.startsWith('Bad '))).toEqual([])
  })

  it('versions: one live at a time (also when published concurrently), history, diff and revert; executions keep the version they started on', async () => {
    const v1 = { steps: [{ id: 'answer', type: 'transform', config: { expression: '"one"' } }] }
    const v2 = { steps: [{ id: 'answer', type: 'transform', config: { expression: '"two"' } }, { id: 'extra', type: 'transform', config: { expression: 'steps.answer.output' } }], edges: [{ from: 'answer', to: 'extra' }] }
    const a = await automation(v1)
    expect(a.live_version).toBe(1)
    const second = ok(await api('POST', `/automations/${a.slug}/versions`, { graph: v2, note: 'adds a step' }), 201)
    expect(second).toMatchObject({ version: 2, is_live: false, note: 'adds a step' })
    expect((await start(a.id)).output).toBe('one')
    ok(await api('POST', `/automations/${a.id}/versions/2/publish`))
    expect(ok(await api('GET', `/automations/${a.id}`)).live_version).toBe(2)
    expect((await start(a.id)).output).toBe('two')
    // A version named explicitly runs even when not live.
    expect((await start(a.id, { version: 1 })).output).toBe('one')

    const diff = ok(await api('GET', `/automations/${a.id}/versions/2/diff`))
    expect(diff).toMatchObject({ from: 1, to: 2, steps_added: ['extra'], steps_removed: [], steps_changed: [{ id: 'answer', fields: ['config'] }], edges_added: [{ from: 'answer', to: 'extra' }], edges_removed: [] })

    const reverted = ok(await api('POST', `/automations/${a.id}/versions/1/revert`), 201)
    expect(reverted).toMatchObject({ version: 3, is_live: true, note: 'revert to version 1', graph: v1 })
    const history = ok(await api('GET', `/automations/${a.id}/versions?limit=2`))
    expect(history.data.map((v: Json) => [v.version, v.is_live])).toEqual([[3, true], [2, false]])
    expect(ok(await api('GET', `/automations/${a.id}/versions?cursor=${history.next_cursor}`)).data.map((v: Json) => v.version)).toEqual([1])

    // Ten publishes at once: each succeeds in turn, and one version is live at the end.
    const results = await Promise.all([1, 2, 3, 1, 2, 3, 1, 2, 3, 2].map((v) => api('POST', `/automations/${a.id}/versions/${v}/publish`)))
    for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200)
    const live = await t.rt.database.db.execute(sql`select count(*)::int as n from workflow_versions where automation_id = ${a.id} and is_live`)
    expect((live as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(1)
    // The database itself refuses a second live version.
    const refused = await t.rt.database.db.execute(sql`update workflow_versions set is_live = true where automation_id = ${a.id}`).catch((err: unknown) => err)
    expect(isUniqueViolation(refused, 'workflow_versions_one_live_key')).toBe(true)
  })
})

describe('executions', () => {
  it('transform -> condition -> http on the taken branch: step records, output, events with the trace id, and an idempotent start', async () => {
    const a = await automation({
      steps: [
        { id: 'shape', type: 'transform', config: { expression: '{ "well": input.well, "psi": input.value, "high": input.value > 2000 }' } },
        { id: 'check', type: 'condition', config: { expression: 'steps.shape.output.high' } },
        { id: 'alarm', type: 'http', config: { method: 'POST', url: `${sinkUrl}/alarm`, headers: { authorization: 'Bearer s3cret' }, body: { well: '{{ steps.shape.output.well }}', psi: '{{ steps.shape.output.psi }}', text: 'Well {{ steps.shape.output.well }} at {{ steps.shape.output.psi }} psi' } } },
        { id: 'calm', type: 'transform', config: { expression: '"all quiet"' } },
        { id: 'announce', type: 'emit_event', config: { type: 'well.pressure_alarm', data: { well: '{{ steps.shape.output.well }}' } } },
      ],
      edges: [
        { from: 'shape', to: 'check' },
        { from: 'check', to: 'alarm', branch: 'true' },
        { from: 'check', to: 'calm', branch: 'false' },
        { from: 'alarm', to: 'announce' },
      ],
    })
    const high = await start(a.id, { input: { well: 'Well-12', value: 2150 }, idempotency_key: 'alarm-1' })
    expect(high.status).toBe('succeeded')
    expect(high.steps.map((s: Json) => [s.step_id, s.status, s.attempt])).toEqual([
      ['shape', 'succeeded', 1],
      ['check', 'succeeded', 1],
      ['alarm', 'succeeded', 1],
      ['calm', 'skipped', 1],
      ['announce', 'succeeded', 1],
    ])
    expect(hits['/alarm']).toEqual([{ body: { well: 'Well-12', psi: 2150, text: 'Well Well-12 at 2150 psi' }, headers: expect.objectContaining({ authorization: 'Bearer s3cret', 'content-type': 'application/json' }) }])
    const alarm = high.steps.find((s: Json) => s.step_id === 'alarm')
    expect(alarm.output).toMatchObject({ status: 200, body: { path: '/alarm' } })
    expect(alarm.input.headers.authorization).toBe('[redacted]')
    expect(alarm.logs[0].message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/alarm -> 200 in \d+ ms$/)
    expect(high.output).toEqual({ type: 'well.pressure_alarm', data: { well: 'Well-12' } })

    // The same key again: the same execution, nothing run twice.
    const again = ok(await api('POST', `/automations/${a.id}/executions`, { input: { well: 'Well-12', value: 9999 }, idempotency_key: 'alarm-1' }))
    expect(again.id).toBe(high.id)
    expect(hits['/alarm']).toHaveLength(1)

    const low = await start(a.id, { input: { well: 'Well-7', value: 1500 } })
    expect(low.steps.map((s: Json) => [s.step_id, s.status])).toEqual([
      ['shape', 'succeeded'],
      ['check', 'succeeded'],
      ['alarm', 'skipped'],
      ['calm', 'succeeded'],
      ['announce', 'skipped'],
    ])
    expect(low.output).toBe('all quiet')

    // Events carry the execution's trace id, the emitted one too.
    const evs = ok(await api('GET', `/events?entity_id=${high.id}&limit=100`)).data as Json[]
    expect(evs.map((e) => e.type).sort()).toEqual(['execution.completed', 'execution.queued', 'execution.started', 'well.pressure_alarm'])
    for (const e of evs) expect(e.trace_id).toBe(high.trace_id)
    expect(evs.find((e) => e.type === 'well.pressure_alarm')).toMatchObject({ data: { well: 'Well-12' }, event_metadata: { automation_id: a.id, step_id: 'announce' } })
  })

  it('independent branches run at once: two calls overlap, a delay on a third holds neither, and the step after all three waits for them', async () => {
    const a = await automation({
      steps: [
        { id: 'begin', type: 'transform', config: { expression: 'input.n' } },
        { id: 'nap', type: 'delay', config: { seconds: 1.5 } },
        { id: 'call1', type: 'http', config: { url: `${sinkUrl}/pause` } },
        { id: 'call2', type: 'http', config: { url: `${sinkUrl}/pause` } },
        { id: 'join', type: 'transform', config: { expression: '[steps.begin.output, steps.call1.output.body.paused, steps.call2.output.body.paused, steps.nap.output.waited_until != null]' } },
      ],
      edges: [
        { from: 'begin', to: 'nap' },
        { from: 'begin', to: 'call1' },
        { from: 'begin', to: 'call2' },
        { from: 'nap', to: 'join' },
        { from: 'call1', to: 'join' },
        { from: 'call2', to: 'join' },
      ],
    })
    const e = await start(a.id, { input: { n: 7 } })
    expect(e.status).toBe('succeeded')
    expect(e.output).toEqual([7, true, true, true])
    const at = (id: string, k: 'started_at' | 'ended_at') => Date.parse(e.steps.find((s: Json) => s.step_id === id)[k])
    // The calls overlapped (each takes 400 ms at the sink), and both ended while the delay still waited.
    expect(at('call2', 'started_at')).toBeLessThan(at('call1', 'ended_at'))
    expect(at('call1', 'started_at')).toBeLessThan(at('call2', 'ended_at'))
    expect(Math.max(at('call1', 'ended_at'), at('call2', 'ended_at'))).toBeLessThan(at('nap', 'ended_at'))
    expect(at('join', 'started_at')).toBeGreaterThanOrEqual(Math.max(at('call1', 'ended_at'), at('call2', 'ended_at'), at('nap', 'ended_at')))
    expect(hits['/pause']).toHaveLength(2)
    expect(e.steps.map((s: Json) => [s.step_id, s.status, s.attempt])).toEqual(expect.arrayContaining([['nap', 'succeeded', 1], ['join', 'succeeded', 1]]))
  })

  it('retries a failing http step with backoff, then fails for good after max_attempts; resume runs the failed step again and skips what succeeded', async () => {
    const a = await automation({
      steps: [
        { id: 'first', type: 'http', config: { method: 'POST', url: `${sinkUrl}/first`, body: { n: 1 } } },
        { id: 'flaky', type: 'http', config: { url: `${sinkUrl}/flaky` }, retry: { max_attempts: 3, backoff_ms: 50 } },
      ],
      edges: [{ from: 'first', to: 'flaky' }],
    })
    scripted['/flaky'] = [503, 502]
    const recovered = await until((await start(a.id, {}, 0)).id, ['succeeded', 'failed'])
    expect(recovered.status).toBe('succeeded')
    expect(recovered.steps.filter((s: Json) => s.step_id === 'flaky').map((s: Json) => [s.attempt, s.status, s.error?.response?.status ?? null])).toEqual([
      [1, 'failed', 503],
      [2, 'failed', 502],
      [3, 'succeeded', null],
    ])

    scripted['/flaky'] = [500, 500, 500]
    for (const k of Object.keys(hits)) delete hits[k]
    const failed = await until((await start(a.id, {}, 0)).id, ['succeeded', 'failed'])
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatchObject({ step_id: 'flaky', attempt: 3, message: expect.stringContaining('step flaky failed: GET') })
    expect(hits['/flaky']).toHaveLength(3)
    const stepFailed = ok(await api('GET', `/events?type=step.failed&entity_id=${failed.id}`)).data as Json[]
    expect(stepFailed).toHaveLength(3)

    // Resume: the failed step runs again (attempt 4), the first one is not repeated.
    const resumed = ok(await api('POST', `/executions/${failed.id}/resume`))
    expect(resumed.status).toBe('queued')
    const done = await until(failed.id, ['succeeded', 'failed'])
    expect(done.status).toBe('succeeded')
    expect(hits['/first']).toHaveLength(1)
    expect(done.steps.filter((s: Json) => s.step_id === 'flaky').map((s: Json) => [s.attempt, s.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
      [4, 'succeeded'],
    ])
    // Re-run from the start: a new execution naming the first.
    const rerun = ok(await api('POST', `/executions/${failed.id}/retry`, { version: 'live' }), 201)
    expect(rerun).toMatchObject({ retry_of: failed.id, status: 'queued' })
    expect((await until(rerun.id, ['succeeded', 'failed'])).status).toBe('succeeded')
    expect(hits['/first']).toHaveLength(2)
    // A succeeded execution cannot be resumed.
    expect((await api('POST', `/executions/${rerun.id}/resume`)).status).toBe(409)
  })

  it('http steps: query and headers sent, the response stored with its headers; a timeout and an oversized response fail the step', async () => {
    const a = await automation({ steps: [{ id: 'call', type: 'http', config: { method: 'PUT', url: `${sinkUrl}/echo`, query: { n: 2, tag: 'a b' }, headers: { 'x-well': 'W-7' }, body: { s: 'text' } } }] })
    const e = await until((await start(a.id, {}, 0)).id, ['succeeded', 'failed'])
    expect(e.status).toBe('succeeded')
    const call = e.steps[0]
    expect(call.output).toMatchObject({ status: 200, headers: { 'content-type': 'application/json' }, body: { path: '/echo' } })
    expect(call.input).toMatchObject({ method: 'PUT', url: `${sinkUrl}/echo?n=2&tag=a+b`, headers: { 'x-well': 'W-7', 'content-type': 'application/json' }, body: { s: 'text' } })
    expect(hits['/echo']![0]).toMatchObject({ body: { s: 'text' }, headers: { 'x-well': 'W-7', 'content-type': 'application/json' } })

    const slow = await automation({ steps: [{ id: 'call', type: 'http', config: { url: `${sinkUrl}/slow`, timeout_ms: 200 }, retry: { max_attempts: 1 } }] })
    const late = await until((await start(slow.id, {}, 0)).id, ['succeeded', 'failed'])
    expect(late.status).toBe('failed')
    expect(late.error.message).toMatch(/got no answer within 200 ms/)

    const huge = await automation({ steps: [{ id: 'call', type: 'http', config: { url: `${sinkUrl}/huge` }, retry: { max_attempts: 3 } }] })
    const big = await until((await start(huge.id, {}, 0)).id, ['succeeded', 'failed'])
    expect(big.status).toBe('failed')
    expect(big.error.message).toMatch(/the response is larger than 1048576 bytes/)
    expect(big.steps).toHaveLength(1) // not retried: it would be as large next time
  })

  it('refuses http steps to private addresses that are not allow-listed (no retries, nothing sent)', async () => {
    for (const url of ['http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/x', 'http://127.0.0.2:8099/x']) {
      const a = await automation({ steps: [{ id: 'call', type: 'http', config: { url } }] })
      const e = await until((await start(a.id, {}, 0)).id, ['succeeded', 'failed'])
      expect(e.status, url).toBe('failed')
      expect(e.steps).toHaveLength(1)
      expect(e.error.message, url).toMatch(/a (private|linkLocal|loopback) address: http steps may not reach it unless HTTP_STEP_ALLOW lists it/)
    }
  })

  it('code steps run in QuickJS: results and console lines come back; an endless loop and a memory bomb are stopped at their limits and the engine carries on', async () => {
    const a = await automation({ steps: [{ id: 'calc', type: 'code', config: { source: 'console.log("rows", context.input.rows.length); return context.input.rows.reduce((s, r) => s + r, 0)' } }] })
    const e = await start(a.id, { input: { rows: [1, 2, 3.5] } })
    expect(e).toMatchObject({ status: 'succeeded', output: 6.5 })
    expect(e.steps[0].logs).toEqual([expect.objectContaining({ level: 'info', message: 'rows 3' })])

    const loop = await automation({ steps: [{ id: 'spin', type: 'code', config: { source: 'for (;;) {}', timeout_ms: 200 } }] })
    const spun = await start(loop.id)
    expect(spun.status).toBe('failed')
    expect(spun.error.message).toContain('ran longer than its 200 ms limit and was stopped')

    const bomb = await automation({ steps: [{ id: 'eat', type: 'code', config: { source: 'const a = []; for (;;) a.push({ n: a.length })', memory_mb: 8, timeout_ms: 5000 } }] })
    const ate = await start(bomb.id)
    expect(ate.status).toBe('failed')
    expect(ate.error.message).toContain('more than its 8 MB memory limit')

    // QuickJS is slow to give up on some allocations (1 MB strings at the limit take seconds):
    // the worker thread running it is terminated at the time limit, and meanwhile the engine
    // (on its own thread) finishes other executions.
    const hog = await automation({ steps: [{ id: 'hog', type: 'code', config: { source: 'const a = []; for (;;) a.push("x".repeat(1 << 20) + a.length)', memory_mb: 8, timeout_ms: 1500 } }] })
    const hogging = await start(hog.id, {}, 0)
    const t0 = Date.now()
    expect((await start(a.id, { input: { rows: [5] } })).output).toBe(5)
    expect(Date.now() - t0).toBeLessThan(1500)
    const stopped = await until(hogging.id, ['failed', 'succeeded'])
    expect(stopped.error.message).toMatch(/ran longer than its 1500 ms limit|more than its 8 MB memory limit/)

    const host = await automation({ steps: [{ id: 'peek', type: 'code', config: { source: 'return [typeof process, typeof require, typeof fetch]' } }] })
    expect((await start(host.id)).output).toEqual(['undefined', 'undefined', 'undefined'])
    expect((await start(a.id, { input: { rows: [4] } })).output).toBe(4)
  })

  it('a delay waits durably (no job held), and a waiting execution is cancelled at once', async () => {
    const a = await automation({
      steps: [
        { id: 'pause', type: 'delay', config: { seconds: '{{ input.seconds }}' } },
        { id: 'after', type: 'transform', config: { expression: '"woke"' } },
      ],
      edges: [{ from: 'pause', to: 'after' }],
    })
    const short = await start(a.id, { input: { seconds: 0.3 } }, 0)
    const waiting = await until(short.id, ['waiting'])
    expect(waiting.status).toBe('waiting')
    expect(waiting.steps).toMatchObject([{ step_id: 'pause', status: 'waiting', wake_at: expect.any(String) }])
    const done = await until(short.id, ['succeeded', 'failed'])
    expect(done).toMatchObject({ status: 'succeeded', output: 'woke' })
    expect(done.steps.map((s: Json) => [s.step_id, s.status])).toEqual([
      ['pause', 'succeeded'],
      ['after', 'succeeded'],
    ])

    const long = await start(a.id, { input: { seconds: 3600 } }, 0)
    expect((await until(long.id, ['waiting'])).status).toBe('waiting')
    const cancelled = ok(await api('POST', `/executions/${long.id}/cancel`))
    expect(cancelled.status).toBe('cancelled')
    expect((await api('POST', `/executions/${long.id}/cancel`)).status).toBe(409)
    const after = ok(await api('GET', `/executions/${long.id}`))
    expect(after.steps).toMatchObject([{ step_id: 'pause', status: 'cancelled' }])
    expect(ok(await api('GET', `/jobs/${after.job_id}`)).status).toBe('cancelled')
  })

  it('cancelling a running execution aborts its running step and stops it', async () => {
    const a = await automation({
      steps: [
        { id: 'slow', type: 'http', config: { url: `${sinkUrl}/slow`, timeout_ms: 20_000 } },
        { id: 'never', type: 'transform', config: { expression: '1' } },
      ],
      edges: [{ from: 'slow', to: 'never' }],
    })
    const e = await start(a.id, {}, 0)
    for (let i = 0; i < 200 && !hits['/slow']; i++) await new Promise((r) => setTimeout(r, 25))
    expect(ok(await api('POST', `/executions/${e.id}/cancel`)).cancel_requested).toBe(true)
    const done = await until(e.id, ['cancelled', 'succeeded', 'failed'], 10)
    expect(done.status).toBe('cancelled')
    expect(done.steps.map((s: Json) => s.step_id)).toEqual(['slow'])
  })

  it('a waited webhook writes its first steps with its start: pure steps and the first call recorded once, the call made once; other shapes run as usual', async () => {
    const hook = async (graph: Json) => {
      const a = await automation(graph)
      const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'webhook' }), 201)
      return async (payload: Json) => {
        const res = await t.app.inject({ method: 'POST', url: `${tr.webhook_url}?wait=20`, payload, headers: { 'content-type': 'application/json' } })
        expect(res.statusCode, res.body).toBe(200)
        return res.json() as Json
      }
    }
    const steps = (e: Json) => e.steps.map((s: Json) => [s.step_id, s.attempt, s.status])
    // transform -> condition -> http (taken) and a skipped branch: both pure steps and the call's start go with the start.
    const alarm = await hook({
      steps: [
        { id: 'shape', type: 'transform', config: { expression: '{ "well": input.well, "psi": input.psi * 2 }' } },
        { id: 'high', type: 'condition', config: { expression: 'steps.shape.output.psi > 100' } },
        { id: 'call', type: 'http', config: { method: 'POST', url: `${sinkUrl}/prefixed`, body: '{{ steps.shape.output }}' } },
        { id: 'low', type: 'http', config: { url: `${sinkUrl}/never` } },
        { id: 'after', type: 'transform', config: { expression: 'steps.call.output.status' } },
      ],
      edges: [{ from: 'shape', to: 'high' }, { from: 'high', to: 'call', branch: 'true' }, { from: 'high', to: 'low', branch: 'false' }, { from: 'call', to: 'after' }],
    })
    const done = await alarm({ well: 'W-1', psi: 80 })
    expect(done.status).toBe('succeeded')
    expect(steps(done)).toEqual([['shape', 1, 'succeeded'], ['high', 1, 'succeeded'], ['call', 1, 'succeeded'], ['low', 1, 'skipped'], ['after', 1, 'succeeded']])
    expect(done.steps.find((s: Json) => s.step_id === 'call').output).toMatchObject({ status: 200, body: { received: { well: 'W-1', psi: 160 } } })
    expect(done.output).toBe(200)
    expect(hits['/prefixed']).toHaveLength(1)
    expect(hits['/never']).toBeUndefined()
    expect(ok(await api('GET', `/executions/${done.id}`)).steps).toEqual(done.steps)
    // The first step has an effect: nothing to carry. A pure step failing first: the engine records the failure.
    expect(steps(await (await hook({ steps: [{ id: 'call', type: 'http', config: { url: `${sinkUrl}/first-call` } }] }))({}))).toEqual([['call', 1, 'succeeded']])
    const broken = await (await hook({ steps: [{ id: 'bad', type: 'transform', config: { expression: '$error("no well")' } }, { id: 'call', type: 'http', config: { url: `${sinkUrl}/never` } }], edges: [{ from: 'bad', to: 'call' }] }))({})
    expect(broken.status).toBe('failed')
    expect(steps(broken)).toEqual([['bad', 1, 'failed']])
    // Only pure steps: the end is the engine's first write.
    const pure = await (await hook({ steps: [{ id: 'only', type: 'transform', config: { expression: 'input.n + 1' } }] }))({ n: 41 })
    expect(pure).toMatchObject({ status: 'succeeded', output: 42 })
    expect(hits['/never']).toBeUndefined()
  })

  it('max_concurrency holds further executions queued until a running one finishes', async () => {
    const a = await automation({ steps: [{ id: 'pause', type: 'delay', config: { seconds: 0.5 } }] }, { max_concurrency: 1 })
    const first = await start(a.id, {}, 0)
    await until(first.id, ['waiting'])
    const second = await start(a.id, {}, 0)
    await new Promise((r) => setTimeout(r, 200))
    expect(ok(await api('GET', `/executions/${second.id}`)).status).toBe('queued')
    expect((await until(second.id, ['succeeded'], 10)).status).toBe('succeeded')
    const [x, y] = [ok(await api('GET', `/executions/${first.id}`)), ok(await api('GET', `/executions/${second.id}`))]
    expect(Date.parse(y.started_at)).toBeGreaterThanOrEqual(Date.parse(x.ended_at))
  })

  it("a start that waits runs in the request's process at once, its job written already claimed; one that does not is queued for a worker", async () => {
    const a = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: 'input.n * 2' } }] })
    const waited = await start(a.id, { input: { n: 21 } })
    expect([waited.status, waited.output]).toEqual(['succeeded', 42])
    const queued = await until((await start(a.id, { input: { n: 1 } }, 0)).id, ['succeeded'])
    const jobs = await t.rt.database.db.execute(sql`select id, status, attempts, started_at = created_at as claimed_when_written from jobs where id in (${waited.job_id}, ${queued.job_id})`)
    const byId = Object.fromEntries((jobs as unknown as { rows: Json[] }).rows.map((r) => [r.id, r]))
    // Same transaction, same now(): the waited one was never pending. The queued one was claimed in a later transaction.
    expect(byId[waited.job_id]).toMatchObject({ status: 'completed', attempts: 1, claimed_when_written: true })
    expect(byId[queued.job_id]).toMatchObject({ status: 'completed', attempts: 1, claimed_when_written: false })
  })

  it('starting many at once (a scheduler round): a key given twice, or used before, answers with its one execution', async () => {
    const a = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: 'input' } }] })
    const { executions: service, automations: defs } = createAutomation(t.rt)
    const row = await defs.find(t.rt.database.db, me.ctx, a.id)
    const live = (await defs.liveOf(t.rt.database.db, row.id))!
    const item = (key: string) => ({ a: row, v: live, input: { input: { key }, idempotency_key: key }, origin: { triggerType: 'manual' } })
    const first = await t.rt.database.transaction((tx) => service.startMany(tx, me.ctx, [item('k1'), item('k2'), item('k1')]))
    expect(first.map((r) => r.created)).toEqual([true, true, false])
    expect(first[2]!.execution.id).toBe(first[0]!.execution.id)
    const again = await t.rt.database.transaction((tx) => service.startMany(tx, me.ctx, [item('k2'), item('k3')]))
    expect(again.map((r) => [r.created, r.execution.id === first[1]!.execution.id])).toEqual([[false, true], [true, false]])
    const listed = ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]
    expect(listed).toHaveLength(3)
    expect(listed.every((e) => e.job_id !== null)).toBe(true)
  })

  it('lists executions by automation and status, and keeps other organisations out', async () => {
    const a = await automation({ steps: [{ id: 'x', type: 'transform', config: { expression: '1' } }] })
    const e = await start(a.id, { batch_id: 'B-17' })
    expect(ok(await api('GET', `/executions?automation=${a.slug}&status=succeeded`)).data.map((x: Json) => x.id)).toEqual([e.id])
    expect(ok(await api('GET', '/executions?batch_id=B-17')).data.map((x: Json) => x.id)).toEqual([e.id])
    const other = tenant()
    expect((await api('GET', `/executions/${e.id}`, undefined, other)).status).toBe(404)
    expect((await api('POST', `/automations/${a.id}/executions`, {}, other)).status).toBe(404)
  })
})
