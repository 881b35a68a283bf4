// An organisation's own units through the HTTP API with real authentication: two organisations,
// a viewer, the read-only catalog, and the conflicts the seed's rules make.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'
import { OIL_FIELD, unitIdOf, unitSystemIdOf } from './units.catalog.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let viewer: Record<string, string>

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']) }
}
const asA = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(a.headers, method, url, payload)
const asB = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(b.headers, method, url, payload)

function expectProblem(res: { status: number; body: Json; type: string }, status: number, detail?: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  if (detail) expect(res.body.detail).toMatch(detail)
}

async function created(res: { status: number; body: Json }) {
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body
}

const eventsOf = async (type: string) => (await asA('GET', `/events?type=${type}`)).body.data as Json[]

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Units' })
  b = await signUp(t.app, { organization: 'Beta Units' })
  const inv = await asA('POST', '/invitations', { email: uniqueEmail('viewer'), role: 'viewer' })
  const accepted = await api({}, 'POST', '/auth/accept-invitation', { token: inv.body.token, password: 'a long enough passphrase' })
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
  viewer = bearer(accepted.body.token)
})
afterAll(() => t.close())

describe('units of a catalog type', () => {
  let mbbl: Json

  it('adds Mbbl = 1000 bbl to Volume, converts with it, and records the event', async () => {
    mbbl = await created(await asA('POST', '/units', { type: 'volume', name: 'Thousand barrels (ours)', symbol: 'Mbbl', aliases: ['MSTB'], external_id: 'Volume:Alpha-Mbbl', scale: 158.987294928 }))
    expect(mbbl).toMatchObject({ symbol: 'Mbbl', unit_type: 'Volume', is_base: false, external_id: 'volume:alpha-mbbl', organization_id: a.organization.id, source: 'user', conversion: { scale: 158.987294928, offset: 0, a: 158.987294928, b: 0, c: 0, d: 1 } })
    const res = await asA('POST', '/units/convert', { from: 'Mbbl', to: 'bbl', value: 2.5 })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.value).toBeCloseTo(2500, 9)
    expect((await asA('POST', '/units/convert', { from: 'bbl', to: 'volume:alpha-mbbl', values: [1000, 500] })).body.values.map((v: number) => Math.round(v * 1e9) / 1e9)).toEqual([1, 0.5])
    expect((await asA('POST', '/units/convert', { from: 'MSTB', to: 'm3', value: 1 })).body.value).toBeCloseTo(158.987294928, 9)
    expect((await asA('GET', `/units/${mbbl.id}`)).body.symbol).toBe('Mbbl')
    const [event] = await eventsOf('unit.created')
    expect(event).toMatchObject({ entity_type: 'unit', entity_id: mbbl.id, data: { symbol: 'Mbbl', unit_type: 'Volume', is_base: false } })
  })

  it('is invisible to another organisation: 422 unknown unit, 404 by id, absent from lists', async () => {
    const res = await asB('POST', '/units/convert', { from: 'Mbbl', to: 'bbl', value: 1 })
    expectProblem(res, 422, /no unit is named 'Mbbl'/)
    expectProblem(await asB('POST', '/units/convert', { from: mbbl.id, to: 'bbl', value: 1 }), 422)
    expectProblem(await asB('GET', `/units/${mbbl.id}`), 404)
    expect((await asB('GET', '/units?q=Mbbl')).body.data).toEqual([])
    expect((await asA('GET', '/units?q=Mbbl')).body.data.map((u: Json) => u.id)).toEqual([mbbl.id])
  })

  it('refuses a base unit for a catalog type (409 naming the type) and a unit without a conversion (422)', async () => {
    expectProblem(await asA('POST', '/units', { type: 'Volume', name: 'Other base', symbol: 'ob', is_base: true, scale: 1 }), 409, /Volume/)
    const res = await asA('POST', '/units', { type: 'Volume', name: 'No factor', symbol: 'nf' })
    expectProblem(res, 422)
    expect(res.body.errors[0].path).toBe('/body/scale')
    expectProblem(await asA('POST', '/units', { type: 'Volume', name: 'Zero', symbol: 'z', scale: 0 }), 422, /invert/)
    expectProblem(await asA('POST', '/units', { type: 'Volume', name: 'Both', symbol: 'bo', scale: 2, a: 2 }), 422)
    const unknown = await asA('POST', '/units', { type: 'no such type', name: 'x', symbol: 'x', scale: 1 })
    expectProblem(unknown, 422)
    expect(unknown.body.errors[0].path).toBe('/body/type')
  })

  it('refuses a name clash within the type (409) and an external id of the catalog (409)', async () => {
    expectProblem(await asA('POST', '/units', { type: 'Volume', name: 'Thousand barrels (ours)', symbol: 'Mbbl2', scale: 158.987294928 }), 409, /already has a unit named/)
    expectProblem(await asA('POST', '/units', { type: 'Volume', name: 'Shadow', symbol: 'sh', external_id: 'volume:bbl_us', scale: 1 }), 409, /catalog/)
    // Another organisation may use the same name.
    await created(await asB('POST', '/units', { type: 'Volume', name: 'Thousand barrels (ours)', symbol: 'Mbbl', scale: 158.987294928 }))
  })

  it('updates its own unit and records the change', async () => {
    const res = await asA('PATCH', `/units/${mbbl.id}`, { long_name: 'Thousand US barrels', aliases: ['MSTB', 'Mbbls'] })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toMatchObject({ long_name: 'Thousand US barrels', aliases: ['MSTB', 'Mbbls'] })
    expect((await asA('PATCH', '/units/volume:alpha-mbbl', { scale: 158.987294928 })).status).toBe(200)
    expect((await eventsOf('unit.updated')).length).toBe(2)
  })
})

describe('the catalog is read-only', () => {
  it('answers 403 to changing or deleting catalog rows, naming the catalog', async () => {
    const psi = unitIdOf('pressure:psi')
    expectProblem(await asA('PATCH', `/units/${psi}`, { symbol: 'PSI' }), 403, /catalog.*read-only/)
    expectProblem(await asA('PATCH', '/units/pressure:psi', { symbol: 'PSI' }), 403, /read-only/)
    expectProblem(await asA('DELETE', `/units/${psi}`), 403, /read-only/)
    expectProblem(await asA('PATCH', '/unit-types/pressure', { name: 'Pressure!' }), 403, /read-only/)
    expectProblem(await asA('DELETE', '/unit-types/pressure'), 403)
    const oil = unitSystemIdOf(OIL_FIELD)
    expectProblem(await asA('PATCH', `/unit-systems/${oil}`, { name: 'Mine' }), 403)
    expectProblem(await asA('DELETE', `/unit-systems/${oil}`), 403)
    const category = (await asA('GET', '/unit-categories?q=Tubing%20Head')).body.data[0]
    expectProblem(await asA('PATCH', `/unit-categories/${category.id}`, { name: 'THP' }), 403)
    expectProblem(await asA('DELETE', `/unit-categories/${category.id}`), 403)
    expectProblem(await asA('PUT', `/unit-systems/${oil}/defaults/${category.id}`, { unit: 'bar' }), 403)
    expectProblem(await asA('DELETE', `/unit-systems/${oil}/defaults/${category.id}`), 403)
    expect((await asA('GET', `/units/${psi}`)).body.symbol).toBe('psi')
  })

  it('gives a viewer 403 on every write, naming the scope', async () => {
    const res = await api(viewer, 'POST', '/units', { type: 'Volume', name: 'Viewer unit', symbol: 'vu', scale: 1 })
    expectProblem(res, 403)
    expect(JSON.stringify(res.body)).toContain('units:write')
    expectProblem(await api(viewer, 'POST', '/unit-types', { name: 'Viewer type' }), 403)
    expectProblem(await api(viewer, 'POST', '/unit-systems', { name: 'Viewer system' }), 403)
    expectProblem(await api(viewer, 'POST', '/unit-categories', { name: 'Viewer category', type: 'Pressure' }), 403)
    expect((await api(viewer, 'GET', '/units?q=Mbbl')).status).toBe(200)
  })
})

describe("an organisation's own type, categories and system", () => {
  let type: Json
  let base: Json
  let other: Json
  let category: Json
  let system: Json

  it('makes the first unit of its own type the base, and refuses a second base (409 naming the type)', async () => {
    type = await created(await asA('POST', '/unit-types', { name: 'Sand Rate', external_id: 'sand_rate', description: 'Produced sand' }))
    expect(type).toMatchObject({ name: 'Sand Rate', external_id: 'sand_rate', organization_id: a.organization.id })
    expectProblem(await asA('POST', '/unit-types', { name: 'Sand Rate' }), 409, /Sand Rate/)
    expectProblem(await asA('POST', '/unit-types', { name: 'Pressure 2', external_id: 'pressure' }), 409, /catalog/)
    expectProblem(await asA('POST', '/units', { type: 'sand_rate', name: 'gram per second', symbol: 'g/s', is_base: false, scale: 1 }), 422)
    expectProblem(await asA('POST', '/units', { type: 'sand_rate', name: 'gram per second', symbol: 'g/s', scale: 2 }), 422, /identity/)
    base = await created(await asA('POST', '/units', { type: 'sand_rate', name: 'gram per second', symbol: 'g/s', external_id: 'sand_rate:g-per-s' }))
    expect(base).toMatchObject({ is_base: true, unit_type_id: type.id, conversion: { a: 1, b: 0, c: 0, d: 1 } })
    expectProblem(await asA('POST', '/units', { type: type.id, name: 'kilogram per second', symbol: 'kg/s', is_base: true }), 409, /Sand Rate already has a base unit/)
    other = await created(await asA('POST', '/units', { type: type.id, name: 'pound per day', symbol: 'lb/d', external_id: 'sand_rate:lb-per-d', scale: 453.59237 / 86400 }))
    expect(other.is_base).toBe(false)
    const res = await asA('POST', '/units/convert', { from: 'sand_rate:lb-per-d', to: 'g/s', value: 86400 })
    expect(res.body.value).toBeCloseTo(453.59237, 9)
    expectProblem(await asA('POST', '/units/convert', { from: 'lb/d', to: 'psi', value: 1 }), 422, /Sand Rate/)
    expectProblem(await asA('PATCH', `/units/${base.id}`, { scale: 3 }), 422)
    expect((await eventsOf('unit_type.created'))[0]).toMatchObject({ entity_id: type.id, data: { name: 'Sand Rate' } })
  })

  it('adds a category, a system and a default; the unit must be of the category\'s type (422 naming /body/unit)', async () => {
    category = await created(await asA('POST', '/unit-categories', { name: 'Sand Production', type: 'Sand Rate' }))
    expect(category).toMatchObject({ unit_type_id: type.id, unit_type: 'Sand Rate', organization_id: a.organization.id })
    expectProblem(await asA('POST', '/unit-categories', { name: 'Sand Production', type: type.id }), 409)
    system = await created(await asA('POST', '/unit-systems', { name: 'Alpha Field', description: 'Our reporting units' }))
    expectProblem(await asA('POST', '/unit-systems', { name: 'Alpha Field' }), 409)
    // Another organisation may reuse the name, and the catalog's names.
    await created(await asB('POST', '/unit-systems', { name: 'Alpha Field' }))
    await created(await asA('POST', '/unit-systems', { name: OIL_FIELD }))

    const wrong = await asA('PUT', `/unit-systems/${system.id}/defaults/${category.id}`, { unit: 'psi' })
    expectProblem(wrong, 422, /Pressure/)
    expect(wrong.body.errors[0].path).toBe('/body/unit')
    const unknown = await asA('PUT', `/unit-systems/${system.id}/defaults/${category.id}`, { unit: 'no-such-unit' })
    expectProblem(unknown, 422)
    expect(unknown.body.errors[0].path).toBe('/body/unit')

    const set = await asA('PUT', `/unit-systems/${system.id}/defaults/${category.id}`, { unit: 'sand_rate:lb-per-d' })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body).toMatchObject({ unit_system: { id: system.id }, unit_category: { id: category.id }, unit: { id: other.id } })
    // A catalog category in one's own system, by symbol.
    const thp = (await asA('GET', '/unit-categories?q=Tubing%20Head')).body.data[0]
    expect((await asA('PUT', `/unit-systems/${system.id}/defaults/${thp.id}`, { unit: 'bar' })).status).toBe(200)
    expect((await asA('PUT', `/unit-systems/${system.id}/defaults/${thp.id}`, { unit: 'pressure:psi' })).body.unit.symbol).toBe('psi')
    const defaults = (await asA('GET', `/unit-systems/${system.id}/defaults`)).body.data as Json[]
    expect(defaults.map((d) => [d.unit_category.name, d.unit.symbol])).toEqual([
      ['Tubing Head Pressure', 'psi'],
      ['Sand Production', 'lb/d'],
    ])
    expect((await eventsOf('unit_system.default_set')).length).toBe(3)
  })

  it('answers 404 to another organisation for every own row, and B cannot use A\'s type', async () => {
    for (const [method, url] of [
      ['PATCH', `/unit-types/${type.id}`],
      ['DELETE', `/unit-types/${type.id}`],
      ['PATCH', '/unit-types/sand_rate'],
      ['PATCH', `/units/${other.id}`],
      ['DELETE', `/units/${other.id}`],
      ['PATCH', `/unit-categories/${category.id}`],
      ['DELETE', `/unit-categories/${category.id}`],
      ['PATCH', `/unit-systems/${system.id}`],
      ['DELETE', `/unit-systems/${system.id}`],
      ['DELETE', `/unit-systems/${system.id}/defaults/${category.id}`],
    ] as const) {
      expectProblem(await asB(method, url, method === 'PATCH' ? {} : undefined), 404)
    }
    expectProblem(await asB('PUT', `/unit-systems/${system.id}/defaults/${category.id}`, { unit: 'psi' }), 404)
    const bSystem = (await asB('GET', '/unit-systems')).body.data.find((s: Json) => s.name === 'Alpha Field')
    expectProblem(await asB('PUT', `/unit-systems/${bSystem.id}/defaults/${category.id}`, { unit: 'psi' }), 404)
    expectProblem(await asB('POST', '/units', { type: type.id, name: 'x', symbol: 'x', scale: 1 }), 422)
    expectProblem(await asB('POST', '/unit-categories', { name: 'x', type: 'Sand Rate' }), 422)
    expectProblem(await asB('POST', '/units/convert', { from: 'sand_rate:lb-per-d', to: 'sand_rate:g-per-s', value: 1 }), 422, /no unit is named/)
  })

  it('refuses to delete what is in use (409 naming where), then deletes in order', async () => {
    const unitInUse = await asA('DELETE', `/units/${other.id}`)
    expectProblem(unitInUse, 409, /Alpha Field \/ Sand Production/)
    expect(unitInUse.body.used_by).toEqual([{ unit_system_id: system.id, unit_system: 'Alpha Field', unit_category_id: category.id, unit_category: 'Sand Production' }])
    expectProblem(await asA('DELETE', `/units/${base.id}`), 409, /base unit of Sand Rate/)
    expectProblem(await asA('DELETE', `/unit-categories/${category.id}`), 409, /Alpha Field/)
    expectProblem(await asA('DELETE', `/unit-types/${type.id}`), 409, /2 unit\(s\) and 1 category/)

    expect((await asA('DELETE', `/unit-systems/${system.id}/defaults/${category.id}`)).status).toBe(204)
    expectProblem(await asA('DELETE', `/unit-systems/${system.id}/defaults/${category.id}`), 404)
    expect((await asA('DELETE', `/units/${other.id}`)).status).toBe(204)
    expect((await asA('DELETE', `/units/${base.id}`)).status).toBe(204)
    expect((await asA('DELETE', `/unit-categories/${category.id}`)).status).toBe(204)
    expect((await asA('DELETE', '/unit-types/sand_rate')).status).toBe(204)
    expectProblem(await asA('GET', `/unit-types/${type.id}`), 404)

    // A system goes with its defaults.
    expect((await asA('DELETE', `/unit-systems/${system.id}`)).status).toBe(204)
    expectProblem(await asA('GET', `/unit-systems/${system.id}`), 404)
    const [deleted] = await eventsOf('unit_system.deleted')
    expect(deleted).toMatchObject({ entity_id: system.id, data: { name: 'Alpha Field', defaults_removed: 1 } })
    for (const type of ['unit.deleted', 'unit_type.deleted', 'unit_category.deleted', 'unit_system.default_removed']) expect((await eventsOf(type)).length, type).toBeGreaterThan(0)
  })

  it('renames its own rows, refusing a clash (409)', async () => {
    const s = await created(await asA('POST', '/unit-systems', { name: 'Renamed later' }))
    const res = await asA('PATCH', `/unit-systems/${s.id}`, { name: 'Renamed', description: null })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'Renamed', description: null })
    expectProblem(await asA('PATCH', `/unit-systems/${s.id}`, { name: OIL_FIELD }), 409)
    const tt = await created(await asA('POST', '/unit-types', { name: 'Rename Me' }))
    expect((await asA('PATCH', `/unit-types/${tt.id}`, { name: 'Renamed Type', external_id: 'renamed' })).body).toMatchObject({ name: 'Renamed Type', external_id: 'renamed' })
    const c = await created(await asA('POST', '/unit-categories', { name: 'Casing Pressure (ours)', type: 'Pressure' }))
    expect((await asA('PATCH', `/unit-categories/${c.id}`, { name: 'Annulus Pressure' })).body.name).toBe('Annulus Pressure')
    // The catalog's names are free for an organisation's own rows.
    expect((await asA('PATCH', `/unit-categories/${c.id}`, { name: 'Casing Pressure' })).status).toBe(200)
  })
})
