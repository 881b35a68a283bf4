// POST /datapoints/query: aggregates per interval checked against values computed here by hand,
// calendar days across a DST change in the organisation's time zone, percentiles, text series,
// units on the way out, and the published limits with next_start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let pressure: Json
let state: Json

async function api(method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: a.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']) }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
const query = (body: Json) => api('POST', '/datapoints/query', body)

// Hourly points for three local days around the end of DST in Europe/Oslo (2026-10-25, a 25-hour day).
const start = Date.parse('2026-10-23T22:00:00Z') // 2026-10-24 00:00 in Oslo (UTC+2)
const hours = 24 + 25 + 24
const values = Array.from({ length: hours }, (_, i) => 100_000 + i * 10) // Pa

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Queries' })
  ok(await api('PATCH', '/organization', { settings: { time_zone: 'Europe/Oslo' } }))
  ok(await api('POST', '/object-types', { name: 'Separator', properties: [{ name: 'pressure', data_type: 'number', time_varying: true, unit_category: 'Separator Pressure' }, { name: 'state', data_type: 'enum', enum_values: ['on', 'off'], time_varying: true }] }), 201)
  const sep = ok(await api('POST', '/entities', { type: 'Separator', name: 'V-100' }), 201)
  pressure = ok(await api('POST', '/series', { entity_id: sep.id, property: 'pressure' }), 201)
  state = ok(await api('POST', '/series', { entity_id: sep.id, property: 'state' }), 201)
  ok(await api('POST', '/datapoints', { items: [{ series_id: pressure.id, timestamps: values.map((_, i) => start + i * 3_600_000), values }, { series_id: state.id, timestamps: [start, start + 3_600_000, start + 7_200_000], values: ['on', 'off', 'on'] }] }))
})
afterAll(() => t.close())

describe('aggregates per interval', () => {
  it("makes calendar days in the organisation's zone, a DST day holding 25 hours, with every aggregate right", async () => {
    const res = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-26T23:00:00Z', granularity: '1d', aggregates: ['count', 'avg', 'min', 'max', 'sum', 'first', 'last', 'stddev', 'p50'], unit: 'Pa' }))
    expect(res.time_zone).toBe('Europe/Oslo')
    const days = res.data[0].buckets as Json[]
    expect(days.map((d) => d.start)).toEqual(['2026-10-23T22:00:00.000Z', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'])
    expect(days.map((d) => d.count)).toEqual([24, 25, 24])
    const second = values.slice(24, 49)
    const mean = second.reduce((x, y) => x + y, 0) / second.length
    expect(days[1]).toMatchObject({ min: second[0], max: second[24], first: second[0], last: second[24], sum: second.reduce((x, y) => x + y, 0), p50: second[12] })
    expect(days[1]!.avg).toBeCloseTo(mean, 9)
    expect(days[1]!.stddev).toBeCloseTo(Math.sqrt(second.reduce((x, y) => x + (y - mean) ** 2, 0) / (second.length - 1)), 9)
  })

  it('makes fixed buckets of hours anchored at local midnight, and converts before aggregating', async () => {
    const res = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-24T22:00:00Z', granularity: '6h', aggregates: ['avg', 'max'], unit: 'bar' }))
    expect(res.data[0].unit).toBe('bar')
    expect(res.data[0].buckets.map((b: Json) => b.start)).toEqual(['2026-10-23T22:00:00.000Z', '2026-10-24T04:00:00.000Z', '2026-10-24T10:00:00.000Z', '2026-10-24T16:00:00.000Z'])
    expect(res.data[0].buckets[0].avg).toBeCloseTo((100_000 + 25) / 100_000, 12)
    expect(res.data[0].buckets[3].max).toBeCloseTo((100_000 + 230) / 100_000, 12)
  })

  it("shows values in a unit system, or the caller's preferred one by default", async () => {
    const oil = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-23T23:00:00Z', unit_system: 'Oil Field' }))
    expect(oil.data[0].unit).toBe('psi')
    expect(oil.data[0].datapoints[0].value).toBeCloseTo(100_000 / 6894.757293168, 9)
    ok(await api('PUT', '/unit-preferences/me', { unit_system: 'Oil Field' }))
    expect(ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-23T23:00:00Z' })).data[0].unit).toBe('psi')
  })

  it('aggregates text series by count, first and last only', async () => {
    const res = ok(await query({ series_ids: [state.id], start: '2026-10-23T00:00:00Z', end: '2026-10-25T00:00:00Z', granularity: '1d', aggregates: ['count', 'first', 'last'] }))
    expect(res.data[0].buckets).toEqual([{ start: '2026-10-23T22:00:00.000Z', count: 3, first: 'on', last: 'on' }])
    const bad = await query({ series_ids: [state.id], start: '2026-10-23T00:00:00Z', end: '2026-10-25T00:00:00Z', granularity: '1d', aggregates: ['avg'] })
    expect(bad.status).toBe(422)
    expect(bad.body.errors[0].path).toBe('/body/aggregates')
  })

  it('pages at the limit with next_start, and refuses what it cannot answer (422 by field)', async () => {
    const first = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-26T23:00:00Z', granularity: '1h', limit: 50 }))
    expect(first.data[0].buckets).toHaveLength(50)
    const next = ok(await query({ series_ids: [pressure.id], start: first.data[0].next_start, end: '2026-10-26T23:00:00Z', granularity: '1h', limit: 50 }))
    expect(next.data[0].buckets).toHaveLength(hours - 50)
    expect(next.data[0].next_start).toBeNull()
    for (const [body, path] of [
      [{ granularity: '2d' }, '/body/granularity'],
      [{ granularity: 'hourly' }, '/body/granularity'],
      [{ time_zone: 'Mars/Olympus' }, '/body/time_zone'],
      [{ end: '2026-10-01T00:00:00Z' }, '/body/end'],
      [{ unit: 'm' }, '/body/unit'],
      [{ series_ids: ['01936f3e-0000-7000-8000-000000000000'] }, '/body/series_ids/0'],
    ] as const) {
      const res = await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-26T23:00:00Z', ...body })
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(res.body.errors.map((e: Json) => e.path)).toContain(path)
    }
  })
})

describe('interpolation at regular steps', () => {
  it('is linear between neighbours, exact on a point, and null outside the data', async () => {
    // Points every hour from `start`; a 30-minute grid lands on points and half-way between them.
    const res = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T21:00:00Z', end: '2026-10-23T23:30:00Z', granularity: '30m', interpolation: 'linear', unit: 'Pa' }))
    expect(res.data[0].datapoints).toEqual([
      { timestamp: '2026-10-23T21:00:00.000Z', value: null },
      { timestamp: '2026-10-23T21:30:00.000Z', value: null },
      { timestamp: '2026-10-23T22:00:00.000Z', value: 100_000 },
      { timestamp: '2026-10-23T22:30:00.000Z', value: 100_005 },
      { timestamp: '2026-10-23T23:00:00.000Z', value: 100_010 },
    ])
  })

  it('holds the last value with step, also for text series, and refuses linear for text (422)', async () => {
    const res = ok(await query({ series_ids: [state.id, pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-24T00:00:00Z', granularity: '30m', interpolation: 'step', unit: 'Pa' }))
    expect(res.data[0].datapoints.map((p: Json) => p.value)).toEqual(['on', 'on', 'off', 'off'])
    expect(res.data[1].datapoints.map((p: Json) => p.value)).toEqual([100_000, 100_000, 100_010, 100_010])
    const bad = await query({ series_ids: [state.id], start: '2026-10-23T22:00:00Z', end: '2026-10-24T00:00:00Z', granularity: '30m', interpolation: 'linear' })
    expect(bad.status).toBe(422)
    expect(bad.body.errors[0].path).toBe('/body/interpolation')
  })

  it('steps by calendar days in the zone across DST', async () => {
    const res = ok(await query({ series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-26T23:00:00Z', granularity: '1d', interpolation: 'linear', unit: 'Pa' }))
    expect(res.data[0].datapoints).toEqual([
      { timestamp: '2026-10-23T22:00:00.000Z', value: values[0] },
      { timestamp: '2026-10-24T22:00:00.000Z', value: values[24] },
      { timestamp: '2026-10-25T23:00:00.000Z', value: values[49] },
    ])
  })
})

describe('export', () => {
  it('answers the same query as CSV when asked (Accept: text/csv), converted like the JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/datapoints/query', headers: { ...a.headers, accept: 'text/csv' }, payload: { series_ids: [pressure.id, state.id], start: '2026-10-23T22:00:00Z', end: '2026-10-24T00:00:00Z', unit: 'bar' } })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    expect(res.body.trim().split('\n')).toEqual([
      'series_id,unit,timestamp,value',
      `${pressure.id},bar,2026-10-23T22:00:00.000Z,1`,
      `${pressure.id},bar,2026-10-23T23:00:00.000Z,1.0001`,
      `${state.id},,2026-10-23T22:00:00.000Z,on`,
      `${state.id},,2026-10-23T23:00:00.000Z,off`,
    ])
    const daily = await t.app.inject({ method: 'POST', url: '/api/v1/datapoints/query', headers: { ...a.headers, accept: 'text/csv' }, payload: { series_ids: [pressure.id], start: '2026-10-23T22:00:00Z', end: '2026-10-24T22:00:00Z', granularity: '1d', aggregates: ['min', 'max'], unit: 'Pa' } })
    expect(daily.body.trim().split('\n')).toEqual(['series_id,unit,start,min,max', `${pressure.id},Pa,2026-10-23T22:00:00.000Z,100000,100230`])
  })
})
