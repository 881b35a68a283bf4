// Scenario data through the API: a scenario's facts are those of the components it links, within
// its period, with data_source and sub_data_source derived; compare puts two scenarios side by
// side with differences from the first, in a unit, as JSON or CSV; unknown or ambiguous series
// are refused by field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let base: Json
let high: Json

async function api(method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { ...a.headers, ...headers }, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (String(res.headers['content-type']).includes('json') ? res.json() : res.body) as Json }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}

const DAY = 86_400_000
const JAN1 = Date.parse('2026-01-01T00:00:00Z')
const days = 90 // January to March
const run1 = (d: number) => 1000 - d * 2 // in the property's unit, m³/s (the base unit of Oil Rate)
const run2 = (d: number) => run1(d) * 0.8

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Scenario Data' })
  ok(await api('POST', '/object-types', { name: 'Well', properties: [{ name: 'oil_rate', data_type: 'number', time_varying: true, unit_category: 'Oil Rate' }] }), 201)
  ok(await api('POST', '/entities', { type: 'Well', name: 'Well-12' }), 201)
  const field = ok(await api('POST', '/data-sources', { name: 'Field measurements', type: 'INPUT' }), 201)
  const forecast = ok(await api('POST', '/data-sources', { name: 'Forecast', type: 'OUTPUT' }), 201)
  const vendor = ok(await api('POST', `/data-sources/${field.id}/components`, { name: 'Vendor A' }), 201)
  const m1 = ok(await api('POST', `/data-sources/${forecast.id}/components`, { name: 'Model run 1' }), 201)
  const m2 = ok(await api('POST', `/data-sources/${forecast.id}/components`, { name: 'Model run 2' }), 201)
  const period = { period_start: '2026-01-01T00:00:00Z', period_end: '2026-04-01T00:00:00Z' }
  base = ok(await api('POST', '/scenarios', { name: 'Base Case', ...period }), 201)
  high = ok(await api('POST', '/scenarios', { name: 'High Water Cut', ...period }), 201)
  for (const [s, c] of [[base, vendor], [base, m1], [high, vendor], [high, m2]] as const) ok(await api('POST', `/scenarios/${s.id}/components`, { component_id: c.id }), 201)
  const fact = (component: string, d: number, value: number) => ({ object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', component, date_time: new Date(JAN1 + d * DAY).toISOString(), value })
  const items = []
  for (let d = 0; d < days; d++) items.push(fact('Forecast/Model run 1', d, run1(d)), fact('Forecast/Model run 2', d, run2(d)), fact('Field measurements/Vendor A', d, run1(d) + (d % 3) - 1))
  // Outside both periods: never part of the scenarios' data.
  items.push(fact('Forecast/Model run 1', -10, 5000), fact('Forecast/Model run 1', 100, 5000))
  ok(await api('POST', '/facts', { items }))
})
afterAll(() => t.close())

describe('scenario data', () => {
  it("lists the facts of the scenario's components within its period, deriving data_source and sub_data_source, in pages", async () => {
    const first = ok(await api('GET', `/scenarios/${base.id}/facts?object_instance=Well-12&data_source=Forecast&limit=50`))
    expect(first.data).toHaveLength(50)
    expect(first.data[0]).toMatchObject({ object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', component: 'Model run 1', data_source: 'Forecast', sub_data_source: 'Oil Rate', date_time: '2026-01-01T00:00:00.000Z', value: 1000 })
    const second = ok(await api('GET', `/scenarios/${base.id}/facts?object_instance=Well-12&data_source=Forecast&limit=50&cursor=${first.next_cursor}`))
    expect(second.data).toHaveLength(days - 50)
    expect(second.next_cursor).toBeNull()
    expect([...first.data, ...second.data].every((f: Json) => f.value !== 5000)).toBe(true)
    const all = ok(await api('GET', `/scenarios/${high.id}/facts?limit=1000`)).data as Json[]
    expect(new Set(all.map((f) => f.component))).toEqual(new Set(['Vendor A', 'Model run 2']))
    expect(all).toHaveLength(2 * days)
  })

  it('compares scenarios month by month in a unit, with differences from the first, and totals', async () => {
    const c = ok(await api('POST', '/scenarios/compare', { scenario_ids: [base.id, high.id], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate', data_source: 'Forecast' }], granularity: '1mo', aggregate: 'avg', time_zone: 'UTC', unit: 'm3/s' }))
    expect(c.scenarios.map((s: Json) => s.name)).toEqual(['Base Case', 'High Water Cut'])
    const s = c.series[0]
    expect(s.unit).toBe('m³/s')
    expect(s.sources.map((x: Json) => x.component)).toEqual(['Model run 1', 'Model run 2'])
    expect(s.rows.map((r: Json) => r.timestamp)).toEqual(['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'])
    const janMean = Array.from({ length: 31 }, (_, d) => run1(d)).reduce((x, y) => x + y, 0) / 31
    expect(s.rows[0].values[0]).toBeCloseTo(janMean, 6)
    expect(s.rows[0].values[1]).toBeCloseTo(janMean * 0.8, 6)
    expect(s.rows[0].differences[0]).toBeNull()
    expect(s.rows[0].differences[1].absolute).toBeCloseTo(-janMean * 0.2, 6)
    expect(s.rows[0].differences[1].relative).toBeCloseTo(-0.2, 9)
    expect(s.summary[0]).toMatchObject({ count: days })
    expect(s.summary[1].differences.sum.relative).toBeCloseTo(-0.2, 9)
    // The same in another unit: the relative difference does not change, the values do.
    const bbl = ok(await api('POST', '/scenarios/compare', { scenario_ids: [base.id, high.id], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate', data_source: 'Forecast' }], granularity: '1mo', time_zone: 'UTC', unit: 'bbl/d' }))
    expect(bbl.series[0].unit).toBe('bbl/day')
    expect(bbl.series[0].rows[0].values[0] / (janMean * 86_400 * 6.289810770432105)).toBeCloseTo(1, 9)
    expect(bbl.series[0].rows[0].differences[1].relative).toBeCloseTo(-0.2, 9)
  })

  it('exports the comparison as CSV, a column per scenario and per difference', async () => {
    const res = await api('POST', '/scenarios/compare', { scenario_ids: [base.id, high.id], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate', data_source: 'Forecast' }], granularity: '1mo', time_zone: 'UTC' }, { accept: 'text/csv' })
    expect(res.status).toBe(200)
    const lines = String(res.body).trim().split('\n')
    expect(lines[0]).toBe('object_type,object_instance,object_type_property,unit,timestamp,Base Case,High Water Cut,High Water Cut - Base Case,High Water Cut vs Base Case (relative)')
    expect(lines).toHaveLength(4)
    expect(Number(lines[1]!.split(',').at(-1))).toBeCloseTo(-0.2, 9)
  })

  it('refuses series that do not exist, and names the data sources of an ambiguous one', async () => {
    const ambiguous = await api('POST', '/scenarios/compare', { scenario_ids: [base.id, high.id], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate' }] })
    expect(ambiguous.status).toBe(422)
    expect(ambiguous.body.errors[0]).toMatchObject({ path: '/body/series/0/data_source' })
    expect(ambiguous.body.errors[0].message).toMatch(/Field measurements and Forecast|Forecast and Field measurements/)
    const missing = await api('POST', '/scenarios/compare', { scenario_ids: [base.id, high.id], series: [{ object_instance: 'Well-99', object_type_property: 'oil_rate', data_source: 'Forecast' }] })
    expect(missing.status).toBe(422)
    expect(missing.body.errors[0].path).toBe('/body/series/0')
    const unknown = await api('POST', '/scenarios/compare', { scenario_ids: [base.id, '01900000-0000-7000-8000-000000000000'], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate' }] })
    expect(unknown.status).toBe(422)
    expect(unknown.body.errors[0].path).toBe('/body/scenario_ids/1')
  })
})
