// Triggers through the API: cron schedules (validated, computed in their time zone across DST,
// fired by the scheduler round with fire, skip and missed-run logs, overlap skip), event
// triggers fed by the durable event-log consumer (type pattern, filters, payload, trace id), and
// webhook URLs with Standard Webhooks signatures (bad or stale: 401 and nothing started).
// The scheduler runs on a clock the test moves; no job worker runs, so executions stay queued.
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, tenant, type Tenant } from '../../../test/app.ts'
import { consumerLag } from '../../core/events/consumeEvents.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let me: Tenant
let now = new Date('2026-06-01T05:59:30Z')

async function api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = me.headers) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
const task = (name: string) => t.rt.modules.find((m) => m.name === 'automation')!.background!.find((b) => b.name === name)!
// Delivers every committed event to the trigger consumer. On PostgreSQL another test file's open
// transaction can hold new events behind the consumer's horizon for a moment (a round then
// delivers nothing): keep going until the consumer's lag is zero.
async function drainEvents() {
  const deadline = Date.now() + 15_000
  for (;;) {
    while (await task('automation.event_triggers').run());
    const lag = (await consumerLag(t.rt.database.db)).find((c) => c.name === 'automation.event_triggers')?.lag ?? 0
    if (lag === 0) return
    if (Date.now() > deadline) throw new Error(`event consumer still ${lag} events behind`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
let n = 0
const automation = async () => ok(await api('POST', '/automations', { name: `Triggered ${++n}`, graph: { steps: [{ id: 'echo', type: 'transform', config: { expression: 'input' } }] } }), 201)

beforeAll(async () => {
  t = await testApp({}, { clock: () => now })
  me = tenant()
}, 60_000)
afterAll(() => t?.close())

describe('cron triggers', () => {
  it('refuses an expression that does not parse and a time zone that does not exist', async () => {
    const a = await automation()
    const bad = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', config: { expression: '61 * * * *' } }), 422)
    expect(bad.errors).toEqual([{ path: '/body/config/expression', message: expect.stringContaining('does not parse') }])
    const zone = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', config: { expression: '0 6 * * *', time_zone: 'Mars/Olympus' } }), 422)
    expect(zone.errors).toEqual([{ path: '/body/config/time_zone', message: '"Mars/Olympus" is not an IANA time zone (such as Europe/Oslo)' }])
    const policy = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', config: { expression: '0 6 * * *', overlap: 'sometimes' } }), 422)
    expect(policy.errors[0].path).toBe('/body/config/overlap')
  })

  it('computes fires at the right wall-clock times across both DST changes (Europe/Oslo)', async () => {
    const a = await automation()
    const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', config: { expression: '30 2 * * *', time_zone: 'Europe/Oslo' } }), 201)
    // Spring: 02:30 does not exist on 29 March (02:00 -> 03:00), so that day fires at 03:00 CEST.
    expect(ok(await api('GET', `/triggers/${tr.id}/upcoming?count=4&from=2026-03-27T00:00:00Z`)).data).toEqual(['2026-03-27T01:30:00.000Z', '2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'])
    // Autumn: 02:30 happens twice on 25 October; it fires once (the first, CEST).
    expect(ok(await api('GET', `/triggers/${tr.id}/upcoming?count=4&from=2026-10-23T00:00:00Z`)).data).toEqual(['2026-10-23T00:30:00.000Z', '2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'])
  })

  it('fires when due, skips a fire while the previous run is unfinished (overlap skip), logs missed runs, and keeps next_run and last_run', async () => {
    const a = await automation()
    const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', name: 'every minute', config: { expression: '* * * * *', input: { from: 'cron' } } }), 201)
    expect(tr.next_run_at).toBe('2026-06-01T06:00:00.000Z')
    now = new Date('2026-06-01T06:00:00.400Z')
    await task('automation.scheduler').run()
    const fired = ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ trigger_id: tr.id, trigger_type: 'cron', input: { from: 'cron' }, status: 'queued' })
    expect(ok(await api('GET', `/triggers/${tr.id}`))).toMatchObject({ next_run_at: '2026-06-01T06:01:00.000Z', last_run_at: '2026-06-01T06:00:00.400Z' })

    // No worker runs here, so the first execution is still queued: the next fire is skipped.
    now = new Date('2026-06-01T06:01:01Z')
    await task('automation.scheduler').run()
    // The scheduler was "down" for ten minutes: nine fires are missed, the latest is on time (and skipped: overlap).
    now = new Date('2026-06-01T06:11:02Z')
    await task('automation.scheduler').run()
    const logs = ok(await api('GET', `/triggers/${tr.id}/logs?limit=100`)).data as Json[]
    expect(logs.map((l) => [l.scheduled_for.slice(11, 16), l.status])).toEqual([
      ['06:11', 'skipped'],
      ...['06:10', '06:09', '06:08', '06:07', '06:06', '06:05', '06:04', '06:03', '06:02'].map((m) => [m, 'skipped']),
      ['06:01', 'skipped'],
      ['06:00', 'fired'],
    ])
    expect(logs[0]!.message).toContain('has not finished (overlap: skip)')
    expect(logs[1]!.message).toContain('missed')
    expect(logs[11]).toMatchObject({ execution_id: fired[0]!.id, delay_ms: 400 })
    expect(ok(await api('GET', `/executions?automation=${a.id}`)).data).toHaveLength(1)
  })

  it('missed runs: run_once fires once for them, catch_up fires each (up to its limit); with overlap queue each waits for the one before', async () => {
    for (const [missed, expected, overlap] of [['run_once', 1, 'allow'], ['catch_up', 3, 'allow'], ['catch_up', 3, 'queue']] as const) {
      const a = await automation()
      const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'cron', config: { expression: '0 * * * *', missed, catch_up_limit: 3, overlap } }), 201)
      now = new Date(Date.parse(tr.next_run_at) + 5 * 3_600_000 + 30 * 60_000) // five hours and a half later
      await task('automation.scheduler').run()
      const runs = (ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]).reverse()
      expect(runs, missed).toHaveLength(expected)
      const logs = ok(await api('GET', `/triggers/${tr.id}/logs`)).data as Json[]
      const fired = logs.filter((l) => l.status === 'fired').reverse()
      expect(fired, missed).toHaveLength(expected)
      expect(logs, missed).toHaveLength(6)
      expect(fired.map((l) => l.execution_id)).toEqual(runs.map((r) => r.id))
      if (overlap === 'queue') {
        // The first has its job; the others are queued behind the one before, jobless until it finishes.
        expect(runs.map((r) => r.job_id !== null)).toEqual([true, false, false])
        expect(fired.map((l) => l.message)).toEqual(['started', `queued behind ${runs[0]!.id}`, `queued behind ${runs[1]!.id}`])
      }
    }
  })
})

describe('event triggers', () => {
  it('start their automation for matching events only, with the event data as input and its trace id', async () => {
    const a = await automation()
    const bad = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'event', config: { event_type: 'Data Source!' } }), 422)
    expect(bad.errors[0].path).toBe('/body/config/event_type')
    ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'event', config: { event_type: 'data_source.*', payload: '{ "name": data.name, "kind": type }' }, filters: { 'data.type': ['INPUT', 'PROCESS'] } }), 201)
    await task('automation.event_triggers').run()
    const traced = { ...me.headers, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }
    ok(await api('POST', '/data-sources', { name: 'Wells measured', type: 'INPUT' }, traced), 201)
    ok(await api('POST', '/data-sources', { name: 'Forecasts', type: 'OUTPUT' }), 201)
    // Another organisation's matching event is not ours.
    const other = tenant()
    ok(await api('POST', '/data-sources', { name: 'Theirs', type: 'INPUT' }, other.headers), 201)
    await drainEvents()
    const started = ok(await api('GET', `/executions?automation=${a.id}`)).data as Json[]
    expect(started).toHaveLength(1)
    expect(started[0]).toMatchObject({ trigger_type: 'event', input: { name: 'Wells measured', kind: 'data_source.created' }, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', event_id: expect.any(Number) })
    // Delivered once: another round starts nothing more.
    await task('automation.event_triggers').run()
    expect(ok(await api('GET', `/executions?automation=${a.id}`)).data).toHaveLength(1)
  })
})

describe('webhook triggers', () => {
  it('a signed webhook: a good signature starts an execution (202), a redelivery returns it, a bad or stale signature is 401 and starts nothing', async () => {
    const a = await automation()
    const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'webhook', signed: true }), 201)
    expect(tr.secret).toMatch(/^whsec_/)
    expect(tr.webhook_url).toMatch(/^\/api\/v1\/hooks\/[\w-]{20,}$/)
    expect(ok(await api('GET', `/triggers/${tr.id}`)).secret).toMatch(/^whsec_.{4}\.\.\.$/)
    const body = JSON.stringify({ well: 'Well-12', alarm: 'pressure' })
    const wh = new Webhook(tr.secret)
    const sent = (id: string, at: Date, signature?: string, query = '') =>
      t.app.inject({ method: 'POST', url: tr.webhook_url + query, payload: body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature ?? wh.sign(id, at, body) } })

    const good = await sent('msg_1', new Date())
    expect(good.statusCode, good.body).toBe(202)
    const { execution_id } = good.json() as { execution_id: string }
    expect(ok(await api('GET', `/executions/${execution_id}`))).toMatchObject({ trigger_type: 'webhook', trigger_id: tr.id, input: { well: 'Well-12', alarm: 'pressure' } })
    expect(((await sent('msg_1', new Date())).json() as Json).execution_id).toBe(execution_id)

    const forged = await sent('msg_2', new Date(), 'v1,' + Buffer.from('not the signature').toString('base64'))
    expect(forged.statusCode).toBe(401)
    expect(forged.headers['content-type']).toMatch(/problem\+json/)
    const stale = await sent('msg_3', new Date(Date.now() - 3_600_000))
    expect(stale.statusCode).toBe(401)
    const unsigned = await t.app.inject({ method: 'POST', url: tr.webhook_url, payload: body, headers: { 'content-type': 'application/json' } })
    expect(unsigned.statusCode).toBe(401)
    expect(ok(await api('GET', `/executions?automation=${a.id}`)).data).toHaveLength(1)

    // ?wait holds the answer for the sender, who has no Stratum credentials (no worker runs here: it answers with the queued execution).
    const waited = await sent('msg_4', new Date(), undefined, '?wait=0.2')
    expect(waited.statusCode, waited.body).toBe(200)
    expect(waited.json()).toMatchObject({ trigger_type: 'webhook', status: 'queued', input: { well: 'Well-12', alarm: 'pressure' }, steps: [] })

    expect((await t.app.inject({ method: 'POST', url: '/api/v1/hooks/not-a-real-token-at-all', payload: body, headers: { 'content-type': 'application/json' } })).statusCode).toBe(404)
  })

  it('a webhook read once serves later deliveries, and every change after it counts at once: disabled, enabled, a new live version, a new setting, the automation disabled', async () => {
    const a = await automation()
    const tr = ok(await api('POST', `/automations/${a.id}/triggers`, { type: 'webhook' }), 201)
    const deliver = async (n: number) => {
      const res = await t.app.inject({ method: 'POST', url: tr.webhook_url, payload: { n }, headers: { 'content-type': 'application/json' } })
      if (res.statusCode !== 202) return { status: res.statusCode, execution: null }
      return { status: 202, execution: ok(await api('GET', `/executions/${(res.json() as Json).execution_id}`)) }
    }
    expect((await deliver(1)).execution).toMatchObject({ version: 1, input: { n: 1 } })
    expect((await deliver(2)).execution).toMatchObject({ version: 1, input: { n: 2 } })
    ok(await api('PATCH', `/triggers/${tr.id}`, { enabled: false }))
    expect((await deliver(3)).status).toBe(404)
    ok(await api('PATCH', `/triggers/${tr.id}`, { enabled: true }))
    expect((await deliver(4)).execution).toMatchObject({ version: 1 })
    // Read (and kept) before the new version: the start finds the definition changed and reads it again.
    ok(await api('POST', `/automations/${a.id}/versions`, { graph: { steps: [{ id: 'echo', type: 'transform', config: { expression: '{ "again": input }' } }] }, publish: true }), 201)
    expect((await deliver(5)).execution).toMatchObject({ version: 2, input: { n: 5 } })
    ok(await api('PATCH', `/triggers/${tr.id}`, { config: { input: { fixed: true } } }))
    expect((await deliver(6)).execution).toMatchObject({ version: 2, input: { fixed: true, body: { n: 6 } } })
    ok(await api('PATCH', `/automations/${a.id}`, { enabled: false }))
    expect((await deliver(7)).status).toBe(404)
    ok(await api('PATCH', `/automations/${a.id}`, { enabled: true }))
    expect((await deliver(8)).execution).toMatchObject({ version: 2, input: { fixed: true, body: { n: 8 } } })
    expect(ok(await api('GET', `/executions?automation=${a.id}&limit=100`)).data).toHaveLength(6)
  })
})
