// Device commands end to end: a user queues, the device fetches with its key (delivered, oldest
// first, never to another device), acknowledges or fails; expiry, cancellation and the events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let sensor: Json
let other: Json
let sensorKey: Record<string, string>
let otherKey: Record<string, string>
let now = Date.parse('2026-12-01T10:00:00Z')

async function api(headers: Record<string, string>, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock: () => new Date(now) })
  a = await signUp(t.app, { organization: 'Alpha Commands' })
  b = await signUp(t.app, { organization: 'Beta Commands' })
  ok(await api(a.headers, 'POST', '/object-types', { name: 'device.esp32' }), 201)
  ok(await api(a.headers, 'POST', '/object-types', { name: 'Oven' }), 201)
  sensor = ok(await api(a.headers, 'POST', '/entities', { type: 'device.esp32', name: 'ESP32 Device' }), 201)
  other = ok(await api(a.headers, 'POST', '/entities', { type: 'device.esp32', name: 'ESP32 Device 2' }), 201)
  sensorKey = bearer((await createKey(t.app, a.headers, { name: 's', scopes: [], device_id: sensor.id })).key)
  otherKey = bearer((await createKey(t.app, a.headers, { name: 'o', scopes: [], device_id: other.id })).key)
})
afterAll(() => t.close())

describe('device commands', () => {
  it('are fetched by their device, oldest first, and acknowledged with a result', async () => {
    const first = ok(await api(a.headers, 'POST', `/devices/${sensor.id}/commands`, { command: 'set_interval', params: { readingInterval: 60 } }), 201)
    now += 1000
    const second = ok(await api(a.headers, 'POST', `/devices/${sensor.id}/commands`, { command: 'reboot' }), 201)
    expect(first).toMatchObject({ status: 'queued', deliveries: 0 })
    // Another device sees none of them.
    expect(ok(await api(otherKey, 'GET', '/device/commands')).data).toEqual([])
    const fetched = ok(await api(sensorKey, 'GET', '/device/commands')).data as Json[]
    expect(fetched.map((c) => [c.id, c.status, c.deliveries])).toEqual([[first.id, 'delivered', 1], [second.id, 'delivered', 1]])
    const done = ok(await api(sensorKey, 'POST', `/device/commands/${first.id}/ack`, { status: 'acknowledged', result: { readingInterval: 60 } }))
    expect(done).toMatchObject({ status: 'acknowledged', result: { readingInterval: 60 } })
    expect(ok(await api(sensorKey, 'POST', `/device/commands/${second.id}/ack`, { status: 'failed', result: { error: 'busy' } })).status).toBe('failed')
    // Finished: no second outcome, and the other device cannot touch them.
    expect((await api(sensorKey, 'POST', `/device/commands/${first.id}/ack`, { status: 'failed' })).status).toBe(409)
    expect((await api(otherKey, 'POST', `/device/commands/${first.id}/ack`, { status: 'failed' })).status).toBe(404)
    const types = (ok(await api(a.headers, 'GET', `/events?type_prefix=command.&entity_id=${first.id}`)).data as Json[]).map((e) => e.type).sort()
    expect(types).toEqual(['command.acknowledged', 'command.delivered', 'command.sent'])
  })

  it('expire when not fetched in time, and can be cancelled until finished', async () => {
    const stale = ok(await api(a.headers, 'POST', `/devices/${other.id}/commands`, { command: 'calibrate', expires_in_seconds: 60 }), 201)
    const cancelled = ok(await api(a.headers, 'POST', `/devices/${other.id}/commands`, { command: 'reboot' }), 201)
    ok(await api(a.headers, 'POST', `/commands/${cancelled.id}/cancel`))
    expect((await api(a.headers, 'POST', `/commands/${cancelled.id}/cancel`)).status).toBe(409)
    now += 120_000
    expect(ok(await api(otherKey, 'GET', '/device/commands')).data).toEqual([])
    const listed = ok(await api(a.headers, 'GET', `/devices/${other.id}/commands`)).data as Json[]
    expect(Object.fromEntries(listed.map((c) => [c.id, c.status]))).toEqual({ [stale.id]: 'expired', [cancelled.id]: 'cancelled' })
  })

  it('go only to devices of the organisation (404 for a non-device or another organisation)', async () => {
    const oven = ok(await api(a.headers, 'POST', '/entities', { type: 'Oven', name: 'Oven 1' }), 201)
    expect((await api(a.headers, 'POST', `/devices/${oven.id}/commands`, { command: 'x' })).status).toBe(404)
    expect((await api(b.headers, 'POST', `/devices/${sensor.id}/commands`, { command: 'x' })).status).toBe(404)
    expect((await api(a.headers, 'GET', '/device/commands')).status).toBe(403)
  })
})
