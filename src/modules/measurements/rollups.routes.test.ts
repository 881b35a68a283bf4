// Rollups through the API: every aggregate from rollups equals the same query read from raw
// points (rollups: false), for day, hour and minute grains, time zones with whole-hour and
// half-hour offsets, ranges that do not start on the grain, units; before and after the
// maintainer has run; after late points, overwrites and deleted ranges; and after retention has
// removed the raw points (rollups are kept).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { createWorker, type Worker } from '../../core/jobs/worker.ts'
import { allJobHandlers } from '../../core/runtime.ts'

type Json = Record<string, any>
const NOW = Date.parse('2026-12-01T12:00:00Z')
const DAY = 86_400_000
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let worker: Worker
let pressure: Json // every 30 s for 3 days: 120 points an hour, so minute rollups exist
let sparse: Json // every 45 min
let state: Json // text, every 20 min
let temperature: Json // every 10 min, in degC

const T0 = Date.parse('2026-10-24T00:00:00Z')

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: a.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
/** The maintainer's rounds, as a worker process runs them, until nothing is stale. */
async function drain() {
  const task = t.rt.modules.find((m) => m.name === 'measurements')!.background![0]!
  while (await task.run());
}
/** The distinct (series, hour) pairs queued for the maintainer. */
async function staleHours(): Promise<number> {
  const r = (await t.rt.database.db.execute(
    "select count(*)::int as n from (select distinct series_id, h from rollup_dirty cross join generate_series(first_hour, last_hour, interval '1 hour') h) x" as never,
  )) as unknown as { rows: { n: number }[] }
  return r.rows[0]!.n
}

/** The query both ways; asserts the rollup answer came from `source` and equals raw's. */
async function same(body: Json, source: string): Promise<Json[]> {
  const fast = ok(await api('POST', '/datapoints/query', body))
  const slow = ok(await api('POST', '/datapoints/query', { ...body, rollups: false }))
  for (const [i, d] of (fast.data as Json[]).entries()) {
    const r = slow.data[i]
    expect(r.source).toBe('raw')
    expect(d.source, JSON.stringify(body)).toBe(source)
    expect(d.unit).toBe(r.unit)
    expect(d.buckets.map((b: Json) => b.start)).toEqual(r.buckets.map((b: Json) => b.start))
    alike(d.buckets, r.buckets)
  }
  return fast.data
}
/** Equal buckets, numbers to 1e-9 relative (sums add in another order). */
function alike(got: Json[], want: Json[]) {
  expect(got.length).toBe(want.length)
  for (const [k, bucket] of got.entries()) {
    for (const [key, v] of Object.entries(bucket)) {
      const w = want[k]![key]
      if (typeof v === 'number' && typeof w === 'number') expect(Math.abs(v - w), `${key} of ${bucket.start}: ${v} vs ${w}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)))
      else expect(v, `${key} of ${bucket.start}`).toEqual(w)
    }
  }
}

const ALL = ['count', 'avg', 'min', 'max', 'sum', 'stddev', 'first', 'last']

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock: () => new Date(NOW) })
  a = await signUp(t.app, { organization: 'Alpha Rollups' })
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 1, leaseMs: 60_000, pollMs: 20 })
  ok(await api('POST', '/object-types', { name: 'Separator', properties: [{ name: 'pressure', data_type: 'number', time_varying: true, unit_category: 'Separator Pressure' }, { name: 'level', data_type: 'number', time_varying: true }, { name: 'state', data_type: 'string', time_varying: true }, { name: 'temperature', data_type: 'number', time_varying: true, unit_category: 'Temperature' }] }), 201)
  const sep = ok(await api('POST', '/entities', { type: 'Separator', name: 'V-200' }), 201)
  pressure = ok(await api('POST', '/series', { entity_id: sep.id, property: 'pressure' }), 201)
  sparse = ok(await api('POST', '/series', { entity_id: sep.id, property: 'level' }), 201)
  state = ok(await api('POST', '/series', { entity_id: sep.id, property: 'state' }), 201)
  temperature = ok(await api('POST', '/series', { entity_id: sep.id, property: 'temperature' }), 201)
  const every = (ms: number, n: number) => Array.from({ length: n }, (_, i) => T0 + i * ms)
  const p = every(30_000, 3 * 2880)
  const s = every(45 * 60_000, 96)
  const x = every(20 * 60_000, 216)
  const c = every(10 * 60_000, 432)
  ok(
    await api('POST', '/datapoints', {
      items: [
        // Large values with a small spread: a sum of squares would lose the spread; m2 does not.
        { series_id: pressure.id, timestamps: p, values: p.map((_, i) => 1e7 + 1000 * Math.sin(i / 40) + (i % 7) * 3.25) },
        { series_id: sparse.id, timestamps: s, values: s.map((_, i) => (i * 37) % 101) },
        { series_id: state.id, timestamps: x, values: x.map((_, i) => ['on', 'off', 'standby'][(i * 5) % 3]) },
        { series_id: temperature.id, timestamps: c, values: c.map((_, i) => 20 + 5 * Math.cos(i / 30)) },
      ],
    }),
  )
})
afterAll(async () => {
  await worker.stop(2000)
  await t.close()
})

describe('rollups', () => {
  it('answer like raw points before the maintainer has run (stale hours are read raw)', async () => {
    expect(await staleHours()).toBeGreaterThan(0)
    await same({ series_ids: [pressure.id, sparse.id], start: '2026-10-24T00:00:00Z', end: '2026-10-27T00:00:00Z', granularity: '1h', aggregates: ALL, time_zone: 'UTC' }, 'rollups_1h')
  })

  it('are maintained from ingest, and give raw answers for every grain, zone and unit', async () => {
    await drain()
    expect(await staleHours()).toBe(0)
    const range = { start: '2026-10-24T00:00:00Z', end: '2026-10-27T00:00:00Z', aggregates: ALL }
    // UTC days come from day rollups; Oslo days (whole-hour offsets, 25 hours on 25 October) from hours.
    await same({ ...range, series_ids: [pressure.id, sparse.id, temperature.id], granularity: '1d', time_zone: 'UTC' }, 'rollups_1d')
    const oslo = await same({ ...range, series_ids: [pressure.id], granularity: '1d', time_zone: 'Europe/Oslo' }, 'rollups_1h')
    expect(oslo[0]!.buckets.map((b: Json) => b.count)).toEqual([2640, 3000, 2880, 120])
    await same({ ...range, series_ids: [pressure.id, temperature.id], granularity: '6h', time_zone: 'Europe/Oslo' }, 'rollups_1h')
    // Kolkata is UTC+5:30: its hours are whole UTC minutes only, so minute rollups answer.
    // Minute rollups keep no first and last values: with those the query reads raw.
    const noEnds = ALL.filter((x) => x !== 'first' && x !== 'last')
    await same({ ...range, aggregates: noEnds, series_ids: [pressure.id], granularity: '1h', time_zone: 'Asia/Kolkata' }, 'rollups_1m')
    await same({ ...range, aggregates: noEnds, series_ids: [pressure.id], granularity: '15m', time_zone: 'UTC' }, 'rollups_1m')
    await same({ ...range, series_ids: [pressure.id], granularity: '15m', time_zone: 'UTC' }, 'raw')
    // A range that starts and ends inside hours: its edges come from raw points.
    await same({ ...range, start: '2026-10-24T00:17:30Z', end: '2026-10-26T13:42:00Z', series_ids: [pressure.id, sparse.id], granularity: '1d', time_zone: 'UTC' }, 'rollups_1d')
    // Months, and converted units (psi is affine to Pa; degF has an offset: sums take b·n).
    await same({ start: '2026-10-01T00:00:00Z', end: '2027-01-01T00:00:00Z', aggregates: ALL, series_ids: [pressure.id], granularity: '1mo', time_zone: 'UTC', unit: 'psi' }, 'rollups_1d')
    await same({ ...range, series_ids: [temperature.id], granularity: '1h', time_zone: 'UTC', unit: 'degF' }, 'rollups_1h')
    await same({ ...range, series_ids: [state.id], granularity: '1d', aggregates: ['count', 'first', 'last'], time_zone: 'UTC' }, 'rollups_1d')
  })

  it('read raw where rollups cannot answer: percentiles, seconds, sparse minutes, short ranges', async () => {
    const q = { series_ids: [pressure.id], start: '2026-10-24T00:00:00Z', end: '2026-10-25T00:00:00Z', time_zone: 'UTC' }
    const source = async (body: Json) => ok(await api('POST', '/datapoints/query', { ...q, ...body })).data[0].source
    expect(await source({ granularity: '1h', aggregates: ['avg', 'p95'] })).toBe('raw')
    expect(await source({ granularity: '30s' })).toBe('raw')
    expect(await source({ granularity: '10m', series_ids: [sparse.id] })).toBe('raw')
    expect(await source({ granularity: '1h', start: '2026-10-24T10:05:00Z', end: '2026-10-24T10:55:00Z' })).toBe('raw')
    expect(await source({ granularity: '1h', time_zone: 'Asia/Kathmandu' })).toBe('rollups_1m')
  })

  it('are corrected by late points, overwrites and deleted ranges, at once and after the maintainer', async () => {
    const body = { series_ids: [pressure.id], start: '2026-10-24T00:00:00Z', end: '2026-10-27T00:00:00Z', granularity: '1d', aggregates: ALL, time_zone: 'UTC' }
    // A late point between two others, an overwrite of an existing one, and a deleted range.
    ok(await api('POST', '/datapoints', { items: [{ series_id: pressure.id, timestamps: ['2026-10-25T06:00:10Z', '2026-10-25T06:00:30Z'], values: [2e7, -5] }] }))
    ok(await api('DELETE', `/series/${pressure.id}/datapoints?from=2026-10-26T03:00:00Z&to=2026-10-26T05:30:00Z`))
    expect(await staleHours()).toBe(4) // 25 Oct 06:00, 26 Oct 03:00, 04:00, 05:00
    const before = await same(body, 'rollups_1d')
    expect(before[0]!.buckets[1]).toMatchObject({ count: 2881, max: 2e7, min: -5 })
    expect(before[0]!.buckets[2].count).toBe(2880 - 300)
    await drain()
    expect(await staleHours()).toBe(0)
    const after = await same(body, 'rollups_1d')
    alike(after[0]!.buckets, before[0]!.buckets)
    // Deleting every point of an hour leaves no bucket behind.
    ok(await api('DELETE', `/series/${pressure.id}/datapoints?from=2026-10-26T00:00:00Z&to=2026-10-27T00:00:00Z`))
    await drain()
    const gone = await same({ ...body, granularity: '1h' }, 'rollups_1h')
    expect(gone[0]!.buckets.at(-1).start).toBe('2026-10-25T23:00:00.000Z')
  })

  it('drain a backlog larger than one round, each hour rebuilt once whatever how often it was queued', async () => {
    // Three series spanning 3,000 hours each (two rounds at least), and one hour queued by 20 writes.
    const ids: string[] = []
    for (const name of ['L-1', 'L-2', 'L-3']) {
      const e = ok(await api('POST', '/entities', { type: 'Separator', name }), 201)
      ids.push(ok(await api('POST', '/series', { entity_id: e.id, property: 'level' }), 201).id)
    }
    const far = Date.parse('2026-06-01T00:00:00Z')
    ok(await api('POST', '/datapoints', { items: ids.map((id, i) => ({ series_id: id, timestamps: [far, far + 3000 * 3_600_000], values: [i, i + 1] })) }))
    for (let k = 0; k < 20; k++) ok(await api('POST', '/datapoints', { items: [{ series_id: ids[0], timestamps: [far + 60_000 * (k + 1)], values: [k] }] }))
    const task = t.rt.modules.find((m) => m.name === 'measurements')!.background![0]!
    let rounds = 1
    while (await task.run()) rounds++
    expect(rounds).toBeGreaterThanOrEqual(2)
    expect(await staleHours()).toBe(0)
    await same({ series_ids: ids, start: '2026-06-01T00:00:00Z', end: '2026-10-10T00:00:00Z', granularity: '1d', aggregates: ALL, time_zone: 'UTC' }, 'rollups_1d')
  })

  it('keep aggregates after retention removed the raw points, and refuse points before the horizon', async () => {
    const q = { series_ids: [sparse.id], start: '2026-10-24T00:00:00Z', end: '2026-10-27T00:00:00Z', granularity: '1d', aggregates: ['count', 'max'], time_zone: 'UTC' }
    const kept = ok(await api('POST', '/datapoints/query', q)).data[0].buckets
    const policy = ok(await api('PUT', '/retention-policies', { series_id: sparse.id, raw_days: 30 }))
    await worker.start()
    let job: Json = {}
    for (let i = 0; i < 600 && !['completed', 'failed'].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 50))
      job = ok(await api('GET', `/jobs/${policy.job_id}`))
    }
    expect(job.status).toBe('completed')
    expect(ok(await api('GET', `/series/${sparse.id}/datapoints`)).data).toEqual([])
    expect(ok(await api('POST', '/datapoints/query', { ...q, rollups: false })).data[0].buckets).toEqual([])
    expect(ok(await api('POST', '/datapoints/query', q)).data[0].buckets).toEqual(kept)
    // A point older than the horizon would make its hour's rollup forget the expired points.
    const late = await api('POST', '/datapoints', { items: [{ series_id: sparse.id, timestamps: [NOW - 31 * DAY], values: [1] }] })
    expect(late.status).toBe(422)
    expect(late.body.detail).toMatch(/retention/)
    ok(await api('POST', '/datapoints', { items: [{ series_id: sparse.id, timestamps: [NOW - 29 * DAY], values: [1] }] }))
  })
})
