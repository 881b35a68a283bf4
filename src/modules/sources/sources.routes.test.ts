// Data sources and components through the API: names, types, newest-first lists, a component's
// file streamed up and down with its earlier versions kept, the size limit (nothing stored),
// facts carrying a component, and what may not be deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
const LIMIT = 64 * 1024

async function api(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { ...a.headers, ...headers }, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body && String(res.headers['content-type']).includes('json') ? res.json() : res.body) as Json, raw: res.rawPayload, headers: res.headers }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}

beforeAll(async () => {
  t = await testApp({ FILE_MAX_BYTES: String(LIMIT) }, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Sources' })
})
afterAll(() => t.close())

describe('data sources', () => {
  it('are named once per organisation, typed INPUT, OUTPUT or PROCESS, listed newest first', async () => {
    const field = ok(await api('POST', '/data-sources', { name: 'Field measurements', type: 'INPUT', description: 'Vendor deliveries' }), 201)
    expect(field).toMatchObject({ name: 'Field measurements', type: 'INPUT', created_by: expect.any(String) })
    ok(await api('POST', '/data-sources', { name: 'Forecast', type: 'OUTPUT' }), 201)
    const dup = await api('POST', '/data-sources', { name: 'field MEASUREMENTS', type: 'OUTPUT' })
    expect(dup.status).toBe(409)
    const bad = await api('POST', '/data-sources', { name: 'X', type: 'SIDEWAYS' })
    expect(bad.status).toBe(422)
    expect(bad.body.errors[0].path).toBe('/body/type')
    const list = ok(await api('GET', '/data-sources'))
    expect(list.data.map((d: Json) => d.name)).toEqual(['Forecast', 'Field measurements'])
    expect(ok(await api('GET', '/data-sources?type=INPUT')).data.map((d: Json) => d.name)).toEqual(['Field measurements'])
    expect(ok(await api('PATCH', `/data-sources/${field.id}`, { description: 'Two vendors' }))).toMatchObject({ description: 'Two vendors', modified_by: expect.any(String) })
  })
})

describe('components', () => {
  let source: Json
  let vendor: Json
  beforeAll(async () => {
    source = ok(await api('POST', '/data-sources', { name: 'Lab results', type: 'INPUT' }), 201)
  })

  it('belong to a data source, named once in it, listed newest first', async () => {
    vendor = ok(await api('POST', `/data-sources/${source.id}/components`, { name: 'Vendor A' }), 201)
    const b = ok(await api('POST', `/data-sources/${source.id}/components`, { name: 'Vendor B', description: 'second lab' }), 201)
    expect(b).toMatchObject({ data_source_id: source.id, is_active: true, file_id: null })
    expect((await api('POST', `/data-sources/${source.id}/components`, { name: 'vendor a' })).status).toBe(409)
    expect((await api('POST', '/data-sources/01900000-0000-7000-8000-000000000000/components', { name: 'X' })).status).toBe(404)
    expect(ok(await api('GET', `/data-sources/${source.id}/components`)).data.map((c: Json) => c.name)).toEqual(['Vendor B', 'Vendor A'])
    ok(await api('PATCH', `/components/${b.id}`, { is_active: false }))
    expect(ok(await api('GET', `/data-sources/${source.id}/components?active=true`)).data.map((c: Json) => c.name)).toEqual(['Vendor A'])
  })

  it("keep their file's earlier versions when it is replaced, and stream each back", async () => {
    const one = ok(await api('PUT', `/components/${vendor.id}/file?name=a.csv`, 'well,rate\nW-12,100\n', { 'content-type': 'text/csv' }))
    expect(one).toMatchObject({ version: 1, file: { name: 'a.csv', content_type: 'text/csv', size: 19 } })
    const two = ok(await api('PUT', `/components/${vendor.id}/file?name=a-v2.csv`, 'well,rate\nW-12,120\n', { 'content-type': 'text/csv' }))
    expect(two.version).toBe(2)
    expect(two.file_id).not.toBe(one.file_id)
    const now = await api('GET', `/components/${vendor.id}/file`)
    expect(now.status).toBe(200)
    expect(now.headers['content-type']).toBe('text/csv')
    expect(now.raw.toString()).toBe('well,rate\nW-12,120\n')
    expect((await api('GET', `/components/${vendor.id}/file?version=1`)).raw.toString()).toBe('well,rate\nW-12,100\n')
    expect(ok(await api('GET', `/components/${vendor.id}/file/versions`)).data.map((v: Json) => [v.version, v.name])).toEqual([
      [2, 'a-v2.csv'],
      [1, 'a.csv'],
    ])
    const replaced = ok(await api('GET', `/events?type=component.file_replaced`)).data
    expect(replaced[0]).toMatchObject({ entity_id: vendor.id, data: { version: 2, previous_file_id: one.file_id } })
  })

  it('refuse a file over the size limit and store nothing', async () => {
    const files = ok(await api('GET', '/files')).data.length
    const big = await api('PUT', `/components/${vendor.id}/file?name=big.bin`, Buffer.alloc(LIMIT + 1, 7), { 'content-type': 'application/octet-stream' })
    expect(big.status).toBe(413)
    expect(ok(await api('GET', `/components/${vendor.id}/file/versions`)).data).toHaveLength(2)
    expect(ok(await api('GET', '/files')).data).toHaveLength(files)
    expect((await api('GET', `/components/${vendor.id}/file`)).raw.toString()).toBe('well,rate\nW-12,120\n')
  })
})

describe('facts with a component', () => {
  it('are traceable to the component (and so its data source), and a data source they come from cannot be deleted', async () => {
    ok(await api('POST', '/object-types', { name: 'Well', properties: [{ name: 'oil_rate', data_type: 'number', time_varying: true, unit_category: 'Oil Rate' }] }), 201)
    ok(await api('POST', '/entities', { type: 'Well', name: 'Well-12' }), 201)
    const source = ok(await api('POST', '/data-sources', { name: 'Allocation', type: 'PROCESS' }), 201)
    const run = ok(await api('POST', `/data-sources/${source.id}/components`, { name: 'Run 1' }), 201)
    const fact = { object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', date_time: '2026-11-01T00:00:00Z', value: '812.5' }
    ok(await api('POST', '/facts', { items: [{ ...fact, component: 'Allocation/Run 1' }, { ...fact, component: run.id, date_time: '2026-11-02T00:00:00Z' }, fact] }))
    const series = ok(await api('GET', `/series?component_id=${run.id}`)).data
    expect(series).toHaveLength(1)
    expect(ok(await api('GET', `/series/${series[0].id}/datapoints`)).data.map((p: Json) => p.value)).toEqual([812.5, 812.5])
    // The seed's access pattern: by component and (type, property) in a time range.
    const listed = ok(await api('GET', `/facts?component=${encodeURIComponent('Allocation/Run 1')}&object_type=Well&object_type_property=oil_rate&from=2026-11-02T00:00:00Z&to=2026-12-01T00:00:00Z`))
    expect(listed.data).toEqual([{ series_id: series[0].id, object_type: 'Well', object_instance: 'Well-12', object_type_property: 'oil_rate', component: 'Run 1', data_source: 'Allocation', sub_data_source: 'Oil Rate', date_time: '2026-11-02T00:00:00.000Z', value: 812.5, tag: null, description: null }])
    const paged = ok(await api('GET', `/facts?object_instance=Well-12&limit=2`))
    expect(paged.data).toHaveLength(2)
    expect(ok(await api('GET', `/facts?object_instance=Well-12&limit=2&cursor=${paged.next_cursor}`)).data).toHaveLength(1)
    const unknown = await api('POST', '/facts', { items: [{ ...fact, component: 'Allocation/Run 9' }] })
    expect(unknown.status).toBe(422)
    expect(unknown.body.errors[0].path).toBe('/body/items/0/component')
    const refused = await api('DELETE', `/data-sources/${source.id}`)
    expect(refused.status).toBe(409)
    expect(refused.body.detail).toMatch(/Allocation/)
  })

  it('refuses to delete a data source whose component a scenario links, naming the scenarios', async () => {
    const src = ok(await api('POST', '/data-sources', { name: 'Reservoir model', type: 'OUTPUT' }), 201)
    const c = ok(await api('POST', `/data-sources/${src.id}/components`, { name: 'History match' }), 201)
    const scenario = ok(await api('POST', '/scenarios', { name: 'Base Case' }), 201)
    ok(await api('POST', `/scenarios/${scenario.id}/components`, { component_id: c.id }), 201)
    const refused = await api('DELETE', `/data-sources/${src.id}`)
    expect(refused.status).toBe(409)
    expect(refused.body.detail).toMatch(/Base Case/)
    expect(refused.body.scenarios).toEqual([{ id: scenario.id, name: 'Base Case' }])
    expect((await api('GET', `/components/${c.id}`)).status).toBe(200)
  })

  it('deletes an unused data source with its components', async () => {
    const spare = ok(await api('POST', '/data-sources', { name: 'Spare', type: 'OUTPUT' }), 201)
    const c = ok(await api('POST', `/data-sources/${spare.id}/components`, { name: 'Draft run' }), 201)
    expect((await api('DELETE', `/data-sources/${spare.id}`)).status).toBe(204)
    expect((await api('GET', `/components/${c.id}`)).status).toBe(404)
    expect((await api('GET', `/data-sources/${spare.id}`)).status).toBe(404)
  })
})
