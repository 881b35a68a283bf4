// The units API as a user sees it: signed up through the API, real authentication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { OIL_FIELD, unitIdOf, unitSystemIdOf } from './units.catalog.ts'

let t: Awaited<ReturnType<typeof testApp>>
let user: SignedUp

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  user = await signUp(t.app)
})
afterAll(() => t.close())

const get = (url: string) => t.app.inject({ method: 'GET', url, headers: user.headers })
const convert = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/units/convert', headers: user.headers, payload })

interface Unit {
  id: string
  external_id: string
  symbol: string
  unit_type: string
  unit_type_id: string
  is_base: boolean
}

async function all<T>(url: string): Promise<T[]> {
  const out: T[] = []
  let cursor: string | null = null
  do {
    const sep = url.includes('?') ? '&' : '?'
    const res = await get(`${url}${sep}limit=50${cursor ? `&cursor=${cursor}` : ''}`)
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json() as { data: T[]; next_cursor: string | null }
    out.push(...body.data)
    cursor = body.next_cursor
  } while (cursor)
  return out
}

describe('the catalog', () => {
  it('holds the Cognite catalog plus a base unit for the three quantities it gives none', async () => {
    expect(await all('/api/v1/unit-types')).toHaveLength(62)
    const units = await all<Unit & { source: string }>('/api/v1/units')
    expect(units).toHaveLength(400)
    expect(units.filter((u) => u.source === 'cognite')).toHaveLength(397)
    expect(new Set(units.map((u) => u.id)).size).toBe(400)
  })

  it('has exactly one base unit per type', async () => {
    const bases = await all<Unit>('/api/v1/units?is_base=true')
    expect(bases).toHaveLength(62)
    expect(new Set(bases.map((u) => u.unit_type_id)).size).toBe(62)
    expect(bases.find((u) => u.unit_type === 'Pressure')?.external_id).toBe('pressure:pa')
    expect(bases.find((u) => u.unit_type === 'Temperature')?.external_id).toBe('temperature:k')
  })

  it('gives catalog rows the same id on every install', async () => {
    const res = await get('/api/v1/units/pressure:psi')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ id: unitIdOf('pressure:psi'), symbol: 'psi', unit_type: 'Pressure', organization_id: null, conversion: { scale: 6894.757293168362, offset: 0 } })
    expect((await get(`/api/v1/units/${unitIdOf('pressure:psi')}`)).json().external_id).toBe('pressure:psi')
    expect((await get('/api/v1/units/PRESSURE:PSI')).statusCode).toBe(200)
  })

  it('answers 404 for a unit, type, system or category it does not have', async () => {
    const id = '0190b2a4-0000-7000-8000-000000000000'
    for (const url of [`/api/v1/units/${id}`, '/api/v1/units/pressure:furlong', `/api/v1/unit-types/${id}`, `/api/v1/unit-systems/${id}`, `/api/v1/unit-systems/${id}/defaults`, `/api/v1/unit-categories/${id}`]) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(404)
    }
  })

  it('lists the systems, with the Oil Field defaults', async () => {
    const systems = await all<{ id: string; name: string }>('/api/v1/unit-systems')
    expect(systems.map((s) => s.name).sort()).toEqual(['Default', 'Imperial', OIL_FIELD, 'SI'])
    const res = await get(`/api/v1/unit-systems/${unitSystemIdOf(OIL_FIELD)}/defaults`)
    expect(res.statusCode).toBe(200)
    const defaults = res.json().data as { unit_category: { name: string; unit_type: string }; unit: Unit }[]
    const of = (category: string) => defaults.find((d) => d.unit_category.name === category)?.unit.symbol
    expect(of('Pressure')).toBe('psi')
    expect(of('Tubing Head Pressure')).toBe('psi')
    expect(of('Temperature')).toBe('°F')
    expect(of('Volume')).toBe('bbl')
    expect(of('Oil Rate')).toBe('bbl/day')
    expect(of('Gas Rate')).toBe('kft³/day')
    expect(of('Gas Oil Ratio')).toBe('scf/STB')
    expect(of('Dynamic Viscosity')).toBe('cP')
    expect(of('Density')).toBe('lbm/ft³')
    expect(of('Pressure Gradient')).toBe('psi/ft')
    expect(of('Length')).toBe('ft')
    for (const d of defaults) expect(d.unit.unit_type).toBe(d.unit_category.unit_type)
  })

  it('gives every category a default in every system that has one for its type', async () => {
    const categories = await all<{ id: string; unit_type: string }>('/api/v1/unit-categories')
    expect(categories.length).toBe(80)
    for (const system of ['Default', OIL_FIELD]) {
      const res = await get(`/api/v1/unit-systems/${unitSystemIdOf(system)}/defaults`)
      expect(res.json().data, system).toHaveLength(categories.length)
    }
    const si = (await get(`/api/v1/unit-systems/${unitSystemIdOf('SI')}/defaults?type=Pressure`)).json().data as { unit_category: { name: string }; unit: Unit }[]
    expect(si.length).toBe(6)
    expect(new Set(si.map((d) => d.unit.symbol))).toEqual(new Set(['Pa']))
  })
})

describe('lists', () => {
  it('filters by type (id, external id or name) and searches name, symbol and aliases', async () => {
    const pressure = await all<Unit>('/api/v1/units?type=Pressure')
    expect(pressure).toHaveLength(27)
    expect(pressure.every((u) => u.unit_type === 'Pressure')).toBe(true)
    expect(await all<Unit>(`/api/v1/units?type=pressure`)).toHaveLength(27)
    expect(await all<Unit>(`/api/v1/units?type=${pressure[0]!.unit_type_id}`)).toHaveLength(27)
    const psi = await all<Unit>('/api/v1/units?type=pressure&q=psi')
    expect(psi.map((u) => u.external_id)).toEqual(expect.arrayContaining(['pressure:psi', 'pressure:psig', 'pressure:kilolb_f-per-in2']))
    // "psia" is only an alias of psi
    const byAlias = await all<Unit>('/api/v1/units?q=psia')
    expect(byAlias.map((u) => u.external_id)).toContain('pressure:psi')
    expect(await all('/api/v1/units?type=no-such-type')).toEqual([])
    const gas = await all<{ name: string }>('/api/v1/unit-categories?type=Volume%20Flow%20Rate')
    expect(gas.map((c) => c.name).sort()).toEqual(['Gas Rate', 'Liquid Rate', 'Oil Rate', 'Volume Flow Rate', 'Water Rate'])
  })

  it('pages with cursors, each row once', async () => {
    const first = (await get('/api/v1/units?type=Pressure&limit=10')).json()
    expect(first.data).toHaveLength(10)
    expect(first.next_cursor).toEqual(expect.any(String))
    const ids = (await all<Unit>('/api/v1/units?type=Pressure')).map((u) => u.id)
    expect(new Set(ids).size).toBe(27)
    expect((await get('/api/v1/units?cursor=not-a-cursor')).statusCode).toBe(400)
  })
})

describe('POST /units/convert', () => {
  it('converts one value, naming both units in the answer', async () => {
    const res = await convert({ from: 'psi', to: 'bar', value: 1000 })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body.value).toBeCloseTo(68.94757293168, 10)
    expect(body.from.external_id).toBe('pressure:psi')
    expect(body.to.external_id).toBe('pressure:bar')
  })

  it('converts many values, the units named by external id, symbol or alias', async () => {
    const res = await convert({ from: 'temperature:deg_f', to: '°C', values: [32, 212, -40] })
    expect(res.statusCode, res.body).toBe(200)
    const [a, b, c] = res.json().values as number[]
    expect(a).toBeCloseTo(0, 12)
    expect(b).toBeCloseTo(100, 12)
    expect(c).toBeCloseTo(-40, 12)
    expect((await convert({ from: 'pound force per square inch', to: unitIdOf('pressure:pa'), value: 1 })).json().value).toBeCloseTo(6894.757293168, 9)
    expect((await convert({ from: 'PRESSURE:PSI', to: 'pa', value: 1 })).json().value).toBeCloseTo(6894.757293168, 9)
    expect((await convert({ from: 'bbl', to: 'm³', value: 1 })).json().value).toBe(0.158987294928)
    expect((await convert({ from: 'cP', to: 'Pa⋅s', value: 1 })).json().value).toBeCloseTo(0.001, 15)
  })

  it('converts 100,000 values in one request', async () => {
    const values = Array.from({ length: 100_000 }, (_, i) => i / 10)
    const res = await convert({ from: 'psi', to: 'kPa', values })
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200)
    const out = res.json().values as number[]
    expect(out).toHaveLength(100_000)
    expect(out[10]).toBeCloseTo(6.894757293168, 10)
  })

  it('refuses units of different types, naming both types', async () => {
    const res = await convert({ from: 'psi', to: '°F', value: 1 })
    expect(res.statusCode).toBe(422)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json().detail).toMatch(/Pressure.*Temperature/)
    expect(res.json().errors).toEqual([{ path: '/to', message: 'is a unit of Temperature, not of Pressure' }])
  })

  it('refuses an unknown unit, naming the field', async () => {
    const res = await convert({ from: 'furlong per fortnight', to: 'm/s', value: 1 })
    expect(res.statusCode).toBe(422)
    expect(res.json().errors[0].path).toBe('/from')
    expect((await convert({ from: 'psi', to: 'no such unit', values: [1] })).json().errors[0].path).toBe('/to')
  })

  it('refuses an ambiguous symbol, listing the candidates, unless the other unit decides', async () => {
    const res = await convert({ from: 'kg/m³', to: 'kg/m³', value: 1 })
    expect(res.statusCode).toBe(422)
    expect(res.json().detail).toContain('density:kilogm-per-m3')
    expect(res.json().detail).toContain('mass_concentration:kilogm-per-m3')
    expect(res.json().candidates.map((c: { external_id: string }) => c.external_id).sort()).toEqual(['density:kilogm-per-m3', 'mass_concentration:kilogm-per-m3'])
    const decided = await convert({ from: 'kg/m³', to: 'lbm/ft³', value: 16.018463373960138 })
    expect(decided.statusCode, decided.body).toBe(200)
    expect(decided.json().value).toBeCloseTo(1, 12)
    expect(decided.json().from.external_id).toBe('density:kilogm-per-m3')
  })

  it('matches a symbol exactly before ignoring case (mPa is not MPa)', async () => {
    expect((await convert({ from: 'mPa', to: 'Pa', value: 1 })).json().value).toBe(0.001)
    expect((await convert({ from: 'MPa', to: 'Pa', value: 1 })).json().value).toBe(1e6)
    const res = await convert({ from: 'mpa', to: 'Pa', value: 1 })
    expect(res.statusCode).toBe(422)
    expect(res.json().detail).toMatch(/ambiguous/)
  })

  it('wants value or values, not both, and numbers only', async () => {
    expect((await convert({ from: 'psi', to: 'bar', value: 1, values: [1] })).statusCode).toBe(422)
    expect((await convert({ from: 'psi', to: 'bar' })).statusCode).toBe(422)
    expect((await convert({ from: 'psi', to: 'bar', values: [1, 'x'] })).statusCode).toBe(422)
    expect((await convert({ from: 'psi', to: 'bar', value: null })).statusCode).toBe(422)
  })

  it('needs credentials', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/units/convert', payload: { from: 'psi', to: 'bar', value: 1 } })
    expect(res.statusCode).toBe(401)
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/units' })).statusCode).toBe(401)
  })
})
