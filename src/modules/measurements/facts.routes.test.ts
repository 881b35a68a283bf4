// The seed-shaped ingest routes through HTTP: seed-000 facts by name or id with the seed's rules,
// and seed-001 readings posted by a device with its key, converted from the unit it reports in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, signUp, type SignedUp } from '../../../test/identity.ts'
import { ESP32_SCHEMA, esp32Document } from '../assets/demo.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let device: Json
let deviceKey: string

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']) }
}
const asA = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) => api(a.headers, method, url, payload)
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
function problem(res: { status: number; body: Json; type: string }, status: number, ...paths: string[]) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  for (const p of paths) expect(res.body.errors?.map((e: Json) => e.path)).toContain(p)
  return res.body
}
async function seriesOf(entityId: string, property: string) {
  const list = ok(await asA('GET', `/series?entity_id=${entityId}&property=${property}`)).data as Json[]
  expect(list).toHaveLength(1)
  return list[0]!
}
const points = async (seriesId: string) => ok(await asA('GET', `/series/${seriesId}/datapoints`)).data as Json[]

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Facts' })
  b = await signUp(t.app, { organization: 'Beta Facts' })
  ok(await asA('POST', '/object-types', { name: 'Well', properties: [{ name: 'oil_rate', data_type: 'number', time_varying: true, unit_category: 'Oil Rate' }, { name: 'remark', data_type: 'string', time_varying: true }, { name: 'api_number', data_type: 'string' }] }), 201)
  ok(await asA('POST', '/object-types', { name: 'Compressor', properties: [{ name: 'discharge_pressure', data_type: 'number', time_varying: true, unit_category: 'Pressure' }] }), 201)
  ok(await asA('POST', '/entities', { type: 'Well', name: 'Well-12' }), 201)
  ok(await asA('POST', '/entities', { type: 'Compressor', name: 'K-101' }), 201)
  ok(await asA('POST', '/object-types', { name: 'device.esp32', schema: ESP32_SCHEMA, properties: [{ name: 'temperature', data_type: 'number', time_varying: true, unit_category: 'Temperature' }, { name: 'humidity', data_type: 'number', time_varying: true }] }), 201)
  device = ok(await asA('POST', '/entities', { type: 'device.esp32', name: 'ESP32 Device', properties: esp32Document('ESP32 Device', 'Lab A', '24:6F:28:00:00:01') }), 201)
  deviceKey = (await createKey(t.app, a.headers, { name: 'esp32', scopes: [], device_id: device.id })).key
})
afterAll(() => t.close())

describe('POST /facts (seed 000)', () => {
  it('writes facts by name, making the series, keeping string values as numbers for numeric properties, with tag and description', async () => {
    const res = ok(
      await asA('POST', '/facts', {
        items: [
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-01T00:00:00Z', value: '0.0185', tag: 'allocated', description: 'daily allocation' },
          { object_type: 'well', object_instance: 'well-12', object_type_property: 'OIL_RATE', date_time: '2026-12-02T00:00:00Z', value: 0.02 },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'remark', date_time: '2026-12-02T00:00:00Z', value: 'choke changed' },
        ],
      }),
    )
    expect(res).toEqual({ points: 3, series: 2 })
    const wells = ok(await asA('GET', '/entities?type=Well')).data as Json[]
    const rate = await seriesOf(wells[0]!.id, 'oil_rate')
    expect(rate).toMatchObject({ value_type: 'number', unit: 'm³/s' })
    expect(await points(rate.id)).toEqual([
      { timestamp: '2026-12-01T00:00:00.000Z', value: 0.0185, tag: 'allocated', description: 'daily allocation' },
      { timestamp: '2026-12-02T00:00:00.000Z', value: 0.02 },
    ])
    expect(await points((await seriesOf(wells[0]!.id, 'remark')).id)).toEqual([{ timestamp: '2026-12-02T00:00:00.000Z', value: 'choke changed' }])
  })

  it("enforces the seed's rules, naming each offending field, and writes nothing", async () => {
    const before = ok(await asA('GET', '/series')).data.length
    const body = problem(
      await asA('POST', '/facts', {
        items: [
          { object_type: 'Well', object_instance: 'K-101', object_type_property: 'oil_rate', date_time: '2026-12-01T00:00:00Z', value: 1 },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'discharge_pressure', date_time: '2026-12-01T00:00:00Z', value: 1 },
          { object_type: 'Pipeline', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-01T00:00:00Z', value: 1 },
          { object_type: 'Well', object_instance: 'Well-99', object_type_property: 'oil_rate', date_time: '2026-12-01T00:00:00Z', value: 1 },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'api_number', date_time: '2026-12-01T00:00:00Z', value: '42' },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: 'noon', value: 1 },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-03T00:00:00Z', value: 'high' },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-03T00:00:00Z', value: 'NaN' },
          { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-03T00:00:00Z', value: 'Infinity' },
        ],
      }),
      422,
    )
    expect(body.errors.map((e: Json) => e.path)).toEqual([
      '/body/items/0/object_instance',
      '/body/items/1/object_type_property',
      '/body/items/2/object_type',
      '/body/items/3/object_instance',
      '/body/items/4/object_type_property',
      '/body/items/5/date_time',
      '/body/items/6/value',
      '/body/items/7/value',
      '/body/items/8/value',
    ])
    expect(body.errors[0].message).toMatch(/K-101 is a Compressor, not a Well/)
    expect(body.errors[1].message).toMatch(/not a property of Well/)
    expect(ok(await asA('GET', '/series')).data.length).toBe(before)
  })

  it("does not see another organisation's instances", async () => {
    problem(await api(b.headers, 'POST', '/facts', { items: [{ object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-12-01T00:00:00Z', value: 1 }] }), 422, '/body/items/0/object_type')
  })
})

describe('POST /readings (seed 001, device key)', () => {
  it('takes one reading as the seed shows it, converting the unit and keeping quality and batteryLevel', async () => {
    const res = await api(bearer(deviceKey), 'POST', '/readings', { sensorType: 'temperature', value: 25.5, unit: 'celsius', quality: 'good', batteryLevel: 85, timestamp: '2024-03-20T10:00:00Z' })
    expect(ok(res)).toEqual({ points: 1, series: 1 })
    const temperature = await seriesOf(device.id, 'temperature')
    const [p] = await points(temperature.id)
    expect(p!.timestamp).toBe('2024-03-20T10:00:00.000Z')
    expect(p!.value).toBeCloseTo(298.65, 9)
    expect(p!.extra).toEqual({ unit: 'celsius', quality: 'good', batteryLevel: 85 })
  })

  it('takes many at once, and names each bad one', async () => {
    ok(await api(bearer(deviceKey), 'POST', '/readings', { readings: [{ sensorType: 'humidity', value: 41, timestamp: '2024-03-20T10:00:00Z' }, { sensorType: 'humidity', value: 42, timestamp: '2024-03-20T10:05:00Z' }] }))
    expect((await points((await seriesOf(device.id, 'humidity')).id)).map((p) => p.value)).toEqual([41, 42])
    problem(
      await api(bearer(deviceKey), 'POST', '/readings', { readings: [{ sensorType: 'pressure', value: 1 }, { sensorType: 'temperature', value: 1, unit: 'psi' }, { sensorType: 'temperature', value: 1, timestamp: 'soon' }] }),
      422,
      '/body/readings/0/sensorType',
      '/body/readings/1/unit',
      '/body/readings/2/timestamp',
    )
  })

  it('is for device keys: a user session is refused (403), and a deleted device\'s key stops working', async () => {
    problem(await asA('POST', '/readings', { sensorType: 'temperature', value: 1 }), 403)
    const spare = ok(await asA('POST', '/entities', { type: 'device.esp32', name: 'Spare', properties: esp32Document('Spare', 'Lab B', '24:6F:28:00:00:09') }), 201)
    const key = (await createKey(t.app, a.headers, { name: 'spare', scopes: [], device_id: spare.id })).key
    ok(await api(bearer(key), 'POST', '/readings', { sensorType: 'temperature', value: 290 }))
    ok(await asA('DELETE', `/entities/${spare.id}`))
    expect((await api(bearer(key), 'POST', '/readings', { sensorType: 'temperature', value: 290 })).status).toBe(401)
  })
})
