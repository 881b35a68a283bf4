// `stratum seed --demo` gives Acme Research Labs a well study: data sources with components, two
// scenarios (Base Case approved by a second member, High Water Cut a draft) and Well-12's facts
// from each forecast run and vendor, as the demo user sees them through the API. Twice is once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemo } from '../../core/runtime.ts'
import { testApp } from '../../../test/app.ts'
import { logIn } from '../../../test/identity.ts'

type Json = Record<string, any>
const ORG = 'acme-research-labs'
let t: Awaited<ReturnType<typeof testApp>>
let first: Awaited<ReturnType<typeof seedDemo>>
let token: string

const get = async (url: string) => {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}`, 'x-organization': ORG } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as Json
}
const passwordIn = (notes: string[] | undefined, email: string) => new RegExp(`${email} with password (\\S+)`).exec((notes ?? []).join('\n'))![1]!

async function componentsByName() {
  const out = new Map<string, Json>()
  for (const source of (await get('/data-sources')).data as Json[]) {
    for (const c of (await get(`/data-sources/${source.id}/components`)).data as Json[]) out.set(`${source.name}/${c.name}`, c)
  }
  return out
}

/** A component's Well-12 series by property, with their points. */
async function seriesOf(componentId: string) {
  const found = (await get(`/series?component_id=${componentId}`)).data as Json[]
  const out: Record<string, { series: Json; values: number[] }> = {}
  for (const s of found) out[s.property] = { series: s, values: ((await get(`/series/${s.id}/datapoints?limit=1000`)).data as Json[]).map((p) => p.value) }
  return out
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  first = await seedDemo(t.rt)
  const res = await logIn(t.app, 'demo@stratum.example', passwordIn(first.find((r) => r.module === 'identity')!.notes, 'demo@stratum.example'))
  expect(res.statusCode, res.body).toBe(200)
  token = res.json().token
}, 180_000)
afterAll(() => t.close())

describe('sources demo', () => {
  it('creates its records once: a second run creates nothing', async () => {
    expect(first.find((r) => r.module === 'sources')!.created).toBeGreaterThan(20)
    const again = await seedDemo(t.rt)
    expect(again.find((r) => r.module === 'sources')).toEqual({ module: 'sources', created: 0 })
    expect(again.map((r) => r.created)).toEqual(again.map(() => 0))
  }, 120_000)

  it('has the three data sources with their components', async () => {
    const sources = ((await get('/data-sources')).data as Json[]).map((s) => [s.name, s.type]).sort()
    expect(sources).toEqual([['Allocation', 'PROCESS'], ['Field measurements', 'INPUT'], ['Forecast', 'OUTPUT']])
    expect([...(await componentsByName()).keys()].sort()).toEqual(['Allocation/Daily allocation', 'Field measurements/Vendor A', 'Field measurements/Vendor B', 'Forecast/Model run 1', 'Forecast/Model run 2'])
  })

  it('has Base Case approved by the reviewer (not its author) and High Water Cut as a draft, each linking Vendor A and one model run', async () => {
    const components = await componentsByName()
    const id = (ref: string) => components.get(ref)!.id as string
    const list = (await get('/scenarios')).data as Json[]
    const base = await get(`/scenarios/${list.find((s) => s.name === 'Base Case')!.id}`)
    const high = await get(`/scenarios/${list.find((s) => s.name === 'High Water Cut')!.id}`)
    expect(base).toMatchObject({ status: 'approved', period_start: '2026-01-01T00:00:00.000Z', period_end: '2027-01-01T00:00:00.000Z' })
    expect(high.status).toBe('draft')
    expect(base.components.map((c: Json) => c.component_id).sort()).toEqual([id('Field measurements/Vendor A'), id('Forecast/Model run 1')].sort())
    expect(high.components.map((c: Json) => c.component_id).sort()).toEqual([id('Field measurements/Vendor A'), id('Forecast/Model run 2')].sort())
    expect(base.approved_by).not.toBe(base.submitted_by)
    expect(base.submitted_by).toBe(base.created_by)

    const logs = (await get(`/scenarios/${base.id}/logs`)).data as Json[]
    expect(logs.map((l) => l.progress)).toEqual([100, 90, 80, 40, 0])
    expect(logs[1]).toMatchObject({ level: 'warning' })
    const approved = (await get(`/events?type=scenario.approved&entity_id=${base.id}`)).data as Json[]
    expect(approved).toHaveLength(1)
    expect(approved[0]!.actor).toBe(base.approved_by)
  })

  it("lets the reviewer sign in with the password shown once", async () => {
    const password = passwordIn(first.find((r) => r.module === 'sources')!.notes, 'reviewer@stratum.example')
    expect((await logIn(t.app, 'reviewer@stratum.example', password)).statusCode).toBe(200)
  })

  it("serves Well-12's daily series per component: run 2 wetter and lower in oil than run 1, Vendor A around run 1", async () => {
    const components = await componentsByName()
    const run1 = await seriesOf(components.get('Forecast/Model run 1')!.id)
    const run2 = await seriesOf(components.get('Forecast/Model run 2')!.id)
    const vendor = await seriesOf(components.get('Field measurements/Vendor A')!.id)
    expect(Object.keys(run2).sort()).toEqual(['oil_rate', 'water_cut'])
    expect(run2.oil_rate!.series).toMatchObject({ entity: 'Well-12', object_type: 'Well', component_id: components.get('Forecast/Model run 2')!.id })
    expect(run2.water_cut!.series.unit).toBeNull()
    for (const s of [run1, run2]) for (const p of ['oil_rate', 'water_cut']) expect(s[p]!.values).toHaveLength(365)
    expect(vendor.oil_rate!.values).toHaveLength(181)

    expect(run2.water_cut!.values[0]).toBeCloseTo(run1.water_cut!.values[0]!, 9)
    expect(run2.water_cut!.values.at(-1)).toBeCloseTo(0.65, 2)
    expect(run1.water_cut!.values.at(-1)).toBeCloseTo(0.4, 2)
    expect(run2.oil_rate!.values.at(-1)!).toBeLessThan(run1.oil_rate!.values.at(-1)! * 0.7)
    for (const [i, v] of vendor.oil_rate!.values.entries()) expect(Math.abs(v / run1.oil_rate!.values[i]! - 1)).toBeLessThanOrEqual(0.0501)
    for (const v of [...run1.water_cut!.values, ...vendor.water_cut!.values]) expect(v).toBeGreaterThanOrEqual(0)
  })
})
