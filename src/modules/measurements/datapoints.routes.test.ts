// Series and the columnar datapoints API through HTTP with real authentication: the seed's rules
// for a series, ingest all or nothing with every bad point named, late and repeated points, unit
// conversion on the way in, raw pages both ways, and the latest value by timestamp.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let well: Json
let pressure: Json
let status: Json

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']) }
}
const asA = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(a.headers, method, url, payload)
const asB = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(b.headers, method, url, payload)
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
function problem(res: { status: number; body: Json; type: string }, status: number, path?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  if (path) expect(res.body.errors?.map((e: Json) => e.path)).toContain(path)
  return res.body
}
const write = (items: unknown[], extra: Json = {}) => asA('POST', '/datapoints', { items, ...extra })
const raw = async (id: string, query = '') => ok(await asA('GET', `/series/${id}/datapoints${query}`))

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Measurements' })
  b = await signUp(t.app, { organization: 'Beta Measurements' })
  ok(
    await asA('POST', '/object-types', {
      name: 'Well',
      properties: [
        { name: 'depth', data_type: 'number', unit_category: 'Length' },
        { name: 'thp', data_type: 'number', time_varying: true, unit_category: 'Tubing Head Pressure' },
        { name: 'state', data_type: 'string', time_varying: true },
      ],
    }),
    201,
  )
  ok(await asA('POST', '/object-types', { name: 'Pump', properties: [{ name: 'speed', data_type: 'number', time_varying: true }] }), 201)
  well = ok(await asA('POST', '/entities', { type: 'Well', name: 'Well-12' }), 201)
  pressure = ok(await asA('POST', '/series', { entity_id: well.id, property: 'thp' }), 201)
  status = ok(await asA('POST', '/series', { entity_id: well.id, property: 'state' }), 201)
})
afterAll(() => t.close())

describe('series', () => {
  it('is made once per (instance, property, component), with the property\'s unit and value type', async () => {
    expect(pressure).toMatchObject({ entity: 'Well-12', object_type: 'Well', property: 'thp', value_type: 'number', unit: 'Pa', component_id: null })
    expect(status).toMatchObject({ value_type: 'text', unit: null })
    const again = ok(await asA('POST', '/series', { entity_id: well.id, property: 'THP' }))
    expect(again.id).toBe(pressure.id)
    const listed = ok(await asA('GET', `/series?entity_id=${well.id}`)).data as Json[]
    expect(listed.map((s) => s.property).sort()).toEqual(['state', 'thp'])
    expect((ok(await asA('GET', '/series?object_type=Well&property=thp')).data as Json[]).map((s) => s.id)).toEqual([pressure.id])
  })

  it('refuses a static property, a property of another type, and an entity of another organisation (422 by field)', async () => {
    problem(await asA('POST', '/series', { entity_id: well.id, property: 'depth' }), 422, '/body/property')
    problem(await asA('POST', '/series', { entity_id: well.id, property: 'speed' }), 422, '/body/property')
    problem(await asB('POST', '/series', { entity_id: well.id, property: 'thp' }), 422, '/body/entity_id')
    problem(await asB('GET', `/series/${pressure.id}`), 404)
  })
})

describe('writing points', () => {
  it('writes, accepts late points, overwrites a repeated time, and reads back in order both ways', async () => {
    expect(ok(await write([{ series_id: pressure.id, timestamps: ['2026-11-30T10:02:00Z', '2026-11-30T10:00:00Z'], values: [102, 100] }]))).toEqual({ points: 2, series: 1 })
    // Late, and a repeat of 10:02 (overwritten), in the next request.
    ok(await write([{ series_id: pressure.id, timestamps: ['2026-11-30T10:01:00Z', Date.parse('2026-11-30T10:02:00Z')], values: [101, 102.5] }]))
    const up = await raw(pressure.id)
    expect(up.unit).toBe('Pa')
    expect(up.data).toEqual([
      { timestamp: '2026-11-30T10:00:00.000Z', value: 100 },
      { timestamp: '2026-11-30T10:01:00.000Z', value: 101 },
      { timestamp: '2026-11-30T10:02:00.000Z', value: 102.5 },
    ])
    const down = await raw(pressure.id, '?order=desc&limit=2')
    expect(down.data.map((p: Json) => p.value)).toEqual([102.5, 101])
    const rest = await raw(pressure.id, `?order=desc&limit=2&cursor=${down.next_cursor}`)
    expect(rest.data.map((p: Json) => p.value)).toEqual([100])
    expect(rest.next_cursor).toBeNull()
    expect((await raw(pressure.id, '?from=2026-11-30T10:01:00Z&to=2026-11-30T10:02:00Z')).data.map((p: Json) => p.value)).toEqual([101])
  })

  it('refuses a repeated time with on_conflict=error (409), writing nothing of the request', async () => {
    const res = await write([{ series_id: pressure.id, timestamps: ['2026-11-30T09:00:00Z', '2026-11-30T10:00:00Z'], values: [1, 2] }], { on_conflict: 'error' })
    expect(problem(res, 409).detail).toMatch(/already has a point at 2026-11-30T10:00:00.000Z/)
    expect((await raw(pressure.id, '?to=2026-11-30T10:00:00Z')).data).toEqual([])
  })

  it('converts values from the unit given to the series\' unit, and refuses a unit of another type', async () => {
    ok(await write([{ series_id: pressure.id, timestamps: ['2026-11-29T00:00:00Z'], values: [14.5], unit: 'psi' }]))
    expect((await raw(pressure.id, '?to=2026-11-29T00:00:01Z')).data[0].value).toBeCloseTo(99973.981, 3)
    problem(await write([{ series_id: pressure.id, timestamps: ['2026-11-29T00:00:00Z'], values: [1], unit: 'm' }]), 422, '/body/items/0/unit')
  })

  it('keeps text series as text, months apart in different partitions', async () => {
    ok(await write([{ series_id: status.id, timestamps: ['1999-12-31T23:59:59Z', '2026-11-30T12:00:00+01:00'], values: ['shut in', 'producing "high"'] }]))
    expect((await raw(status.id)).data).toEqual([
      { timestamp: '1999-12-31T23:59:59.000Z', value: 'shut in' },
      { timestamp: '2026-11-30T11:00:00.000Z', value: 'producing "high"' },
    ])
  })

  it('refuses bad points, naming each, and writes nothing of the request', async () => {
    const before = (await raw(pressure.id, '?limit=10000')).data.length
    const res = await write([
      { series_id: pressure.id, timestamps: ['2026-11-28T00:00:00Z', 'yesterday', '2026-11-28T00:02:00', -3e12], values: [1, 2, 3, 4] },
      { series_id: pressure.id, timestamps: ['2026-11-28T00:03:00Z', '2026-11-28T00:04:00Z'], values: [5] },
      { series_id: pressure.id, timestamps: ['2026-11-28T00:05:00Z'], values: ['high'] },
      { series_id: status.id, timestamps: ['2026-11-28T00:06:00Z'], values: [7] },
      { series_id: '01936f3e-0000-7000-8000-000000000000', timestamps: [], values: [] },
      { series_id: pressure.id, timestamps: ['3026-01-01T00:00:00Z'], values: [1] },
    ])
    const body = problem(res, 422)
    expect(body.errors.map((e: Json) => e.path)).toEqual([
      '/body/items/0/timestamps/1',
      '/body/items/0/timestamps/2',
      '/body/items/0/timestamps/3',
      '/body/items/1/values',
      '/body/items/2/values/0',
      '/body/items/3/values/0',
      '/body/items/4/series_id',
      '/body/items/5/timestamps/0',
    ])
    expect((await raw(pressure.id, '?limit=10000')).data.length).toBe(before)
    // A fractional epoch or a value of no JSON type it accepts fails the request schema.
    problem(await write([{ series_id: pressure.id, timestamps: [1.5], values: [1] }]), 422, '/body/items/0/timestamps/0')
    problem(await write([{ series_id: pressure.id, timestamps: ['2026-11-28T00:00:00Z'], values: [null] }]), 422, '/body/items/0/values/0')
  })

  it('refuses more than the published limit per request, and another organisation\'s series', async () => {
    const n = 100_001
    const res = await write([{ series_id: pressure.id, timestamps: Array.from({ length: n }, (_, i) => i), values: Array.from({ length: n }, () => 1) }])
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    problem(await asB('POST', '/datapoints', { items: [{ series_id: pressure.id, timestamps: ['2026-11-28T00:00:00Z'], values: [1] }] }), 422, '/body/items/0/series_id')
    problem(await asB('GET', `/series/${pressure.id}/datapoints`), 404)
  })

  it('writes a full batch of 100,000 points in one request', async () => {
    const pump = ok(await asA('POST', '/entities', { type: 'Pump', name: 'P-1' }), 201)
    const speed = ok(await asA('POST', '/series', { entity_id: pump.id, property: 'speed' }), 201)
    const start = Date.parse('2026-10-01T00:00:00Z')
    const n = 100_000
    expect(ok(await write([{ series_id: speed.id, timestamps: Array.from({ length: n }, (_, i) => start + i * 1000), values: Array.from({ length: n }, (_, i) => i) }]))).toEqual({ points: n, series: 1 })
    const last = ok(await asA('POST', '/datapoints/latest', { series_ids: [speed.id] })).data[0]
    expect(last).toMatchObject({ timestamp: new Date(start + (n - 1) * 1000).toISOString(), value: n - 1 })
  })
})

describe('latest value', () => {
  it('is the newest by timestamp, not the last to arrive; null for a series without points', async () => {
    const pump = ok(await asA('POST', '/entities', { type: 'Pump', name: 'P-2' }), 201)
    const empty = ok(await asA('POST', '/series', { entity_id: pump.id, property: 'speed' }), 201)
    ok(await write([{ series_id: pressure.id, timestamps: ['2020-01-01T00:00:00Z'], values: [1] }]))
    const latest = ok(await asA('POST', '/datapoints/latest', { series_ids: [pressure.id, status.id, empty.id] })).data
    expect(latest).toEqual([
      { series_id: pressure.id, unit: 'Pa', timestamp: '2026-11-30T10:02:00.000Z', value: 102.5 },
      { series_id: status.id, unit: null, timestamp: '2026-11-30T11:00:00.000Z', value: 'producing "high"' },
      { series_id: empty.id, unit: null, timestamp: null, value: null },
    ])
    problem(await asB('POST', '/datapoints/latest', { series_ids: [pressure.id] }), 422, '/body/series_ids/0')
  })

  it('records one datapoints.written event per series and request', async () => {
    const events = ok(await asA('GET', `/events?type=datapoints.written&entity_id=${status.id}`)).data as Json[]
    expect(events[0]).toMatchObject({ entity_type: 'series', data: { points: 2, from: '1999-12-31T23:59:59.000Z', to: '2026-11-30T11:00:00.000Z' } })
  })
})

describe('deleting points', () => {
  it('deletes a range, and the latest value is the newest that remains', async () => {
    const pump = ok(await asA('POST', '/entities', { type: 'Pump', name: 'P-3' }), 201)
    const speed = ok(await asA('POST', '/series', { entity_id: pump.id, property: 'speed' }), 201)
    ok(await write([{ series_id: speed.id, timestamps: ['2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-03T00:00:00Z', '2026-11-04T00:00:00Z'], values: [1, 2, 3, 4] }]))
    expect(ok(await asA('DELETE', `/series/${speed.id}/datapoints?from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z`))).toEqual({ deleted: 1 })
    expect(ok(await asA('DELETE', `/series/${speed.id}/datapoints?from=2026-11-04T00:00:00Z`))).toEqual({ deleted: 1 })
    expect((await raw(speed.id)).data.map((p: Json) => p.value)).toEqual([1, 3])
    expect(ok(await asA('POST', '/datapoints/latest', { series_ids: [speed.id] })).data[0]).toMatchObject({ timestamp: '2026-11-03T00:00:00.000Z', value: 3 })
    problem(await asA('DELETE', `/series/${speed.id}/datapoints?from=2026-11-05T00:00:00Z&to=2026-11-01T00:00:00Z`), 422, '/query/to')
    problem(await asB('DELETE', `/series/${speed.id}/datapoints`), 404)
    expect((await raw(speed.id)).data).toHaveLength(2)
  })
})

describe('NDJSON streaming', () => {
  const stream = async (lines: string[]) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/datapoints/stream', headers: { ...a.headers, 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/)
    return res.body.trim().split('\n').map((l) => JSON.parse(l) as Json)
  }

  it('commits every 10,000 points and acknowledges each commit on the answer', async () => {
    const pump = ok(await asA('POST', '/entities', { type: 'Pump', name: 'P-stream' }), 201)
    const speed = ok(await asA('POST', '/series', { entity_id: pump.id, property: 'speed' }), 201)
    const start = Date.parse('2026-09-01T00:00:00Z')
    // Items of 1,000 points and single points mixed.
    const lines = [
      ...Array.from({ length: 20 }, (_, k) => JSON.stringify({ series_id: speed.id, timestamps: Array.from({ length: 1000 }, (_, i) => start + (k * 1000 + i) * 1000), values: Array.from({ length: 1000 }, () => k) })),
      ...Array.from({ length: 5000 }, (_, i) => JSON.stringify({ series_id: speed.id, timestamp: new Date(start + (20_000 + i) * 1000).toISOString(), value: 1 })),
    ]
    expect(await stream(lines)).toEqual([{ committed: 10_000 }, { committed: 20_000 }, { committed: 25_000 }, { done: true, committed: 25_000, lines: 5020 }])
    expect(ok(await asA('POST', '/datapoints/latest', { series_ids: [speed.id] })).data[0].timestamp).toBe(new Date(start + 24_999 * 1000).toISOString())
  })

  it('stops at a bad line: what was acknowledged stays, the batch with the bad line is not written', async () => {
    const pump = ok(await asA('POST', '/entities', { type: 'Pump', name: 'P-stream-bad' }), 201)
    const speed = ok(await asA('POST', '/series', { entity_id: pump.id, property: 'speed' }), 201)
    const start = Date.parse('2026-09-01T00:00:00Z')
    const lines = Array.from({ length: 15 }, (_, k) => JSON.stringify({ series_id: speed.id, timestamps: Array.from({ length: 1000 }, (_, i) => start + (k * 1000 + i) * 1000), values: Array.from({ length: 1000 }, () => 1) }))
    lines.splice(12, 0, '{"series_id": "' + speed.id + '", "timestamp": "later", "value": 1}')
    const answer = await stream(lines)
    expect(answer[0]).toEqual({ committed: 10_000 })
    expect(answer[1]!.error).toMatchObject({ status: 422, errors: [expect.objectContaining({ message: expect.stringMatching(/ISO 8601/) })] })
    expect(answer).toHaveLength(2)
    expect((await raw(speed.id, '?limit=10000')).data).toHaveLength(10_000)
    const notJson = await stream(['not json'])
    expect(notJson[0]!.error).toMatchObject({ status: 422, errors: [{ path: '/lines/1', message: 'is not JSON' }] })
  })
})
