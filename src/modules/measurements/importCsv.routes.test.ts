// CSV import through the API: upload, POST /imports, the job's progress and result; a bad row
// 90,000 of 100,000 rejects the whole file and names its row and column; wide and long files,
// units per column, and naive times read in a time zone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { createWorker, type Worker } from '../../core/jobs/worker.ts'
import { allJobHandlers } from '../../core/runtime.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let worker: Worker
let pressure: Json
let temperature: Json

async function api(method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { ...a.headers, ...headers }, ...(payload === undefined ? {} : { payload: payload as never }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
const upload = async (name: string, text: string) => ok(await api('POST', `/files?name=${name}`, text, { 'content-type': 'text/csv' }), 201).id as string
async function finished(jobId: string): Promise<Json> {
  for (let i = 0; i < 1200; i++) {
    const job = ok(await api('GET', `/jobs/${jobId}`))
    if (['completed', 'failed', 'cancelled'].includes(job.status)) return job
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`job ${jobId} did not finish`)
}
const count = async (seriesId: string) => (ok(await api('GET', `/series/${seriesId}/datapoints?limit=10000`)).data as Json[]).length

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Imports' })
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 1, leaseMs: 60_000, pollMs: 20 })
  await worker.start()
  ok(await api('POST', '/object-types', { name: 'Well', properties: [{ name: 'thp', data_type: 'number', time_varying: true, unit_category: 'Tubing Head Pressure' }, { name: 'wht', data_type: 'number', time_varying: true, unit_category: 'Wellhead Temperature' }] }), 201)
  const well = ok(await api('POST', '/entities', { type: 'Well', name: 'Well-12' }), 201)
  pressure = ok(await api('POST', '/series', { entity_id: well.id, property: 'thp' }), 201)
  temperature = ok(await api('POST', '/series', { entity_id: well.id, property: 'wht' }), 201)
})
afterAll(async () => {
  await worker.stop(2000)
  await t.close()
})

describe('CSV import', () => {
  it('imports a wide file with a unit per column and naive times in a zone, reporting progress', async () => {
    const csv = ['time,thp_psi,wht_degC', '2026-06-01 00:00,100,20', '2026-06-01 01:00,101,', '2026-06-01 02:00,102,21.5'].join('\n')
    const file = await upload('well-12.csv', csv)
    const { job_id } = ok(await api('POST', '/imports', { file_id: file, mapping: { time_column: 'time', time_zone: 'Europe/Oslo', columns: { thp_psi: { series_id: pressure.id, unit: 'psi' }, wht_degC: { series_id: temperature.id, unit: 'degC' } } } }), 202)
    const job = await finished(job_id)
    expect(job, JSON.stringify(job)).toMatchObject({ status: 'completed', progress: 100, result: { rows: 3, points: 5, series: 2 } })
    const p = ok(await api('GET', `/series/${pressure.id}/datapoints`)).data as Json[]
    expect(p[0]!.timestamp).toBe('2026-05-31T22:00:00.000Z') // midnight in Oslo, summer time
    expect(p[0]!.value).toBeCloseTo(689475.7293168, 6)
    const w = ok(await api('GET', `/series/${temperature.id}/datapoints`)).data as Json[]
    expect(w.map((x) => x.value)).toEqual([293.15, 294.65])
  })

  it('imports a long file naming the series in a column', async () => {
    const csv = ['series,at,value', `${pressure.id},1780000000000,5`, `${pressure.id},1780000060000,6`].join('\n')
    const file = await upload('long.csv', csv)
    const { job_id } = ok(await api('POST', '/imports', { file_id: file, mapping: { time_column: 'at', time_format: 'epoch_ms', series_column: 'series', value_column: 'value' } }), 202)
    expect(await finished(job_id)).toMatchObject({ status: 'completed', result: { rows: 2, points: 2, series: 1 } })
  })

  it('rejects a file with a bad row 90,000 of 100,000 as a whole, naming the row and column', async () => {
    const before = await count(temperature.id)
    const start = Date.parse('2026-01-01T00:00:00Z')
    const lines = ['time,t']
    for (let i = 0; i < 100_000; i++) lines.push(`${new Date(start + i * 60_000).toISOString()},${i === 89_999 ? 'hot' : (i % 50) + 0.5}`)
    const file = await upload('big.csv', lines.join('\n'))
    const { job_id } = ok(await api('POST', '/imports', { file_id: file, mapping: { time_column: 'time', columns: { t: { series_id: temperature.id } } } }), 202)
    const job = await finished(job_id)
    expect(job.status).toBe('failed')
    expect(job.error.errors).toEqual([{ path: '/rows/90001/t', message: "'hot' is not a number" }])
    expect(await count(temperature.id)).toBe(before)
    // The same file without the bad row goes in whole.
    lines[90_000] = `${new Date(start + 89_999 * 60_000).toISOString()},1`
    const good = await upload('big-fixed.csv', lines.join('\n'))
    const again = await finished(ok(await api('POST', '/imports', { file_id: good, mapping: { time_column: 'time', columns: { t: { series_id: temperature.id } } } }), 202).job_id)
    expect(again).toMatchObject({ status: 'completed', result: { rows: 100_000, points: 100_000 } })
  }, 120_000)

  it('refuses what it can check before reading (422), and names a missing column from the header', async () => {
    const file = await upload('x.csv', 'when,v\n2026-01-01T00:00:00Z,1')
    for (const [mapping, path] of [
      [{ time_column: 'when' }, '/body/mapping/columns'],
      [{ time_column: 'when', columns: { v: { series_id: '01936f3e-0000-7000-8000-000000000000' } } }, '/body/mapping/columns/v/series_id'],
      [{ time_column: 'when', time_zone: 'Atlantis/Capital', columns: { v: { series_id: pressure.id } } }, '/body/mapping/time_zone'],
    ] as const) {
      const res = await api('POST', '/imports', { file_id: file, mapping })
      expect(res.status, JSON.stringify(mapping)).toBe(422)
      expect(res.body.errors.map((e: Json) => e.path)).toContain(path)
    }
    const job = await finished(ok(await api('POST', '/imports', { file_id: file, mapping: { time_column: 'time', columns: { v: { series_id: pressure.id } } } }), 202).job_id)
    expect(job).toMatchObject({ status: 'failed', error: { errors: [{ path: '/rows/1/time', message: 'is not a column of the header' }] } })
  })
})
