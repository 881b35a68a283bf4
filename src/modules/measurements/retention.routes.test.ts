// Retention: a type's policy and a series' own (which wins), applied by the daily job, which
// deletes only points older than the horizon, schedules its next run, and says what it did.
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
let b: SignedUp
let worker: Worker

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}
const asA = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => api(a.headers, method, url, payload)
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
async function finished(jobId: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const job = ok(await asA('GET', `/jobs/${jobId}`))
    if (['completed', 'failed'].includes(job.status)) return job
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('job did not finish')
}
const days = async (seriesId: string) => (ok(await asA('GET', `/series/${seriesId}/datapoints`)).data as Json[]).map((p) => Math.round((NOW - Date.parse(p.timestamp)) / DAY))

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock: () => new Date(NOW) })
  a = await signUp(t.app, { organization: 'Alpha Retention' })
  b = await signUp(t.app, { organization: 'Beta Retention' })
  // Started once the policies are set, so the run sees both.
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 1, leaseMs: 60_000, pollMs: 20 })
})
afterAll(async () => {
  await worker.stop(2000)
  await t.close()
})

describe('retention', () => {
  it("keeps raw points for the type's days, or the series' own, and schedules the next run", async () => {
    ok(await asA('POST', '/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] }), 201)
    const ids: string[] = []
    for (const name of ['M-1', 'M-2']) {
      const m = ok(await asA('POST', '/entities', { type: 'Meter', name }), 201)
      ids.push(ok(await asA('POST', '/series', { entity_id: m.id, property: 'flow' }), 201).id)
    }
    const ages = [1, 10, 40, 100]
    ok(await asA('POST', '/datapoints', { items: ids.map((id) => ({ series_id: id, timestamps: ages.map((d) => NOW - d * DAY), values: ages })) }))
    const byType = ok(await asA('PUT', '/retention-policies', { object_type: 'Meter', raw_days: 30 }))
    const own = ok(await asA('PUT', '/retention-policies', { series_id: ids[1], raw_days: 5 }))
    expect(own.job_id).toBe(byType.job_id) // one run a day, whoever asks
    await worker.start()
    const job = await finished(byType.job_id)
    expect(job).toMatchObject({ status: 'completed', result: { series: 2, deleted: 5 }, progress: 100 })
    expect(await days(ids[0]!)).toEqual([10, 1])
    expect(await days(ids[1]!)).toEqual([1])
    const next = (ok(await asA('GET', '/jobs?type=measurements.retention')).data as Json[]).find((j) => j.status === 'pending')
    expect(next?.run_at ?? next?.run_after).toBeDefined()
    // Changing a policy replaces it.
    const changed = ok(await asA('PUT', '/retention-policies', { object_type: 'Meter', raw_days: 60 }))
    expect(changed.id).toBe(byType.id)
    expect(ok(await asA('GET', '/retention-policies')).data).toHaveLength(2)
  })

  it('refuses a policy for nothing or for another organisation (422), and deletes only your own', async () => {
    expect((await asA('PUT', '/retention-policies', { raw_days: 3 })).status).toBe(422)
    expect((await asA('PUT', '/retention-policies', { object_type: 'Meter', series_id: '01936f3e-0000-7000-8000-000000000000', raw_days: 3 })).status).toBe(422)
    expect((await api(b.headers, 'PUT', '/retention-policies', { object_type: 'Meter', raw_days: 3 })).status).toBe(422)
    const [p] = ok(await asA('GET', '/retention-policies')).data as Json[]
    expect((await api(b.headers, 'DELETE', `/retention-policies/${p!.id}`)).status).toBe(404)
    expect((await asA('DELETE', `/retention-policies/${p!.id}`)).status).toBe(204)
  })
})
