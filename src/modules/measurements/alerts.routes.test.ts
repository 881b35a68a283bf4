// Threshold alerts evaluated on ingest: min/max with a unit, for-duration, hysteresis, one active
// alert per (rule, series) however the points arrive, rules on every series of a property, and
// the alert.triggered / alert.resolved events (seed 001).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let sensors: Json[]

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: a.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
const minute = (m: number) => Date.parse('2026-12-01T10:00:00Z') + m * 60_000
const write = (seriesId: string, ms: number[], celsius: number[]) => api('POST', '/datapoints', { items: [{ series_id: seriesId, timestamps: ms, values: celsius, unit: 'degC' }] })
const alertsOf = async (seriesId: string) => (ok(await api('GET', '/alerts')).data as Json[]).filter((x) => x.series_id === seriesId)

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Alerts' })
  ok(await api('POST', '/object-types', { name: 'Oven', properties: [{ name: 'temperature', data_type: 'number', time_varying: true, unit_category: 'Temperature' }] }), 201)
  sensors = []
  for (const name of ['Oven 1', 'Oven 2', 'Oven 3']) {
    const oven = ok(await api('POST', '/entities', { type: 'Oven', name }), 201)
    sensors.push(ok(await api('POST', '/series', { entity_id: oven.id, property: 'temperature' }), 201))
  }
})
afterAll(() => t.close())

describe('threshold alerts', () => {
  it('triggers after the value stays outside for_seconds, once, and resolves back inside by the hysteresis', async () => {
    const rule = ok(await api('POST', '/alert-rules', { name: 'Oven 1 too hot', series_id: sensors[0]!.id, max: 30, unit: 'degC', for_seconds: 120, hysteresis: 2 }), 201)
    expect(rule.max).toBeCloseTo(303.15, 9)
    // Outside for one minute only: pending, no alert.
    ok(await write(sensors[0]!.id, [minute(0), minute(1), minute(2)], [25, 31, 29]))
    expect(await alertsOf(sensors[0]!.id)).toEqual([])
    // Outside from minute 3 to 6: the alert triggers at minute 5 (two minutes outside), once.
    ok(await write(sensors[0]!.id, [minute(3), minute(4), minute(5), minute(6)], [32, 33, 34, 35]))
    ok(await write(sensors[0]!.id, [minute(7)], [36]))
    let found = await alertsOf(sensors[0]!.id)
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({ active: true, triggered_at: new Date(minute(5)).toISOString(), severity: 'warning' })
    expect(found[0]!.trigger_value).toBeCloseTo(307.15, 9)
    // 29 is inside the bound but not by the hysteresis (2): still active. 27 resolves it.
    ok(await write(sensors[0]!.id, [minute(8), minute(9)], [29, 27]))
    found = await alertsOf(sensors[0]!.id)
    expect(found[0]).toMatchObject({ active: false, resolved_at: new Date(minute(9)).toISOString() })
    const events = ok(await api('GET', '/events?type_prefix=alert.')).data as Json[]
    expect(events.map((e) => e.type).sort()).toEqual(['alert.resolved', 'alert.triggered'])
    expect(events.find((e) => e.type === 'alert.triggered')!.data).toMatchObject({ rule_id: rule.id, series_id: sensors[0]!.id })
  })

  it('ignores late points older than the newest evaluated one', async () => {
    ok(await write(sensors[0]!.id, [minute(8) + 1000], [100]))
    expect((await alertsOf(sensors[0]!.id)).filter((x) => x.active)).toEqual([])
  })

  it('applies a rule on a property to every series of it, and lists the active alerts', async () => {
    ok(await api('POST', '/alert-rules', { name: 'any oven below freezing', object_type: 'Oven', property: 'temperature', min: 0, unit: 'degC', severity: 'critical' }), 201)
    ok(await api('POST', '/datapoints', { items: [sensors[1]!, sensors[2]!].map((s, i) => ({ series_id: s.id, timestamps: [minute(20)], values: [i === 0 ? -5 : 5], unit: 'degC' })) }))
    const active = ok(await api('GET', '/alerts?active=true')).data as Json[]
    expect(active.map((x) => [x.series_id, x.severity])).toEqual([[sensors[1]!.id, 'critical']])
  })

  it('refuses rules that cannot work (422 by field)', async () => {
    for (const [body, path] of [
      [{ name: 'x', series_id: sensors[0]!.id }, '/body/min'],
      [{ name: 'x', series_id: sensors[0]!.id, min: 10, max: 5 }, '/body/min'],
      [{ name: 'x', series_id: sensors[0]!.id, max: 5, unit: 'psi' }, '/body/unit'],
      [{ name: 'x', object_type: 'Oven', property: 'colour', max: 5 }, '/body/property'],
      [{ name: 'x', max: 5 }, '/body/series_id'],
    ] as const) {
      const res = await api('POST', '/alert-rules', body)
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(res.body.errors.map((e: Json) => e.path)).toContain(path)
    }
  })
})
