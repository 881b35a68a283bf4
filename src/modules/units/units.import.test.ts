// Importing a unit catalog through the API, as a user does: signed up, real authentication, the
// real Energistics dictionary shipped in catalog/.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'
import { UNITS_DATA_DIR } from './units.catalog.ts'

let t: Awaited<ReturnType<typeof testApp>>
let user: SignedUp
let other: SignedUp

const energistics = JSON.parse(readFileSync(join(UNITS_DATA_DIR, 'energistics-uom.json'), 'utf8')) as unknown

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  user = await signUp(t.app)
  other = await signUp(t.app)
})
afterAll(() => t.close())

interface Report {
  id: string
  added: number
  matched: number
  types_added: number
  skipped: { symbol: string; quantity: string; reason: string }[]
}

const importCatalog = (who: SignedUp, payload: unknown) => t.app.inject({ method: 'POST', url: '/api/v1/units/imports', headers: who.headers, payload: payload as Record<string, unknown> })
const convert = (who: SignedUp, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/units/convert', headers: who.headers, payload })
const ownUnitCount = async (who: SignedUp) => {
  let count = 0
  let cursor: string | null = null
  do {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/units?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, headers: who.headers })
    const page = res.json() as { data: { organization_id: string | null }[]; next_cursor: string | null }
    count += page.data.filter((u) => u.organization_id !== null).length
    cursor = page.next_cursor
  } while (cursor)
  return count
}

describe('importing the Energistics dictionary', () => {
  let first: Report

  it('merges it into the organisation: matches the catalog, adds what is missing, says what it skipped', async () => {
    const res = await importCatalog(user, { format: 'energistics', catalog: energistics })
    expect(res.statusCode, res.body).toBe(200)
    first = res.json() as Report
    // 1,450 units, some in several quantities: every (quantity, unit) pair is accounted for once.
    const pairs = (energistics as { quantities: { units: string[] }[] }).quantities.reduce((n, q) => n + q.units.length, 0)
    expect(first.added + first.matched + first.skipped.length).toBe(pairs)
    expect(first.added).toBeGreaterThan(1000)
    expect(first.matched).toBeGreaterThan(50)
    expect(first.types_added).toBeGreaterThan(100)
    expect(first.types_added).toBeLessThan(176)
    for (const s of first.skipped) expect(s.reason).not.toBe('')
  })

  it('matches the pressure units the catalog already has (Pa, kPa, bar, psi...)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/units?type=Pressure&limit=500', headers: user.headers })
    const units = (res.json() as { data: { symbol: string; organization_id: string | null }[] }).data
    // psi and bar were matched, so no organisation copy of them exists.
    for (const symbol of ['Pa', 'kPa', 'bar', 'psi', 'MPa']) expect(units.filter((u) => u.symbol === symbol && u.organization_id !== null), symbol).toEqual([])
    expect(units.some((u) => u.organization_id !== null)).toBe(true) // and some were added
  })

  it('adds permeability: 1 mD = 9.869233e-16 m2 (the base, TD[API], is 1 m2)', async () => {
    const res = await convert(user, { from: 'mD', to: 'TD[API]', value: 1 })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json() as { value: number; from: { unit_type: string; organization_id: string; is_base: boolean }; to: { is_base: boolean } }
    expect(body.value).toBeCloseTo(9.869233e-16, 21)
    expect(body.from).toMatchObject({ unit_type: 'permeability rock', organization_id: user.organization.id, is_base: false })
    expect(body.to.is_base).toBe(true)
    expect((await convert(user, { from: 'D', to: 'mD', value: 2.5 })).json().value).toBeCloseTo(2500, 9)
  })

  it('converts between an imported unit and a catalog unit of a matched type', async () => {
    // Energistics pressure units land in the catalog's Pressure type, against its Pa base.
    const res = await convert(user, { from: 'pressure:pound_force_per_hundred_square_foot', to: 'pressure:psi', value: 1 })
    expect(res.statusCode, res.body).toBe(200)
    expect((res.json() as { value: number }).value).toBeCloseTo(1 / 14400, 15)
    const degF = await convert(user, { from: 'degR', to: 'K', value: 491.67 })
    expect(degF.statusCode, degF.body).toBe(200)
    expect((degF.json() as { value: number }).value).toBeCloseTo(273.15, 9)
  })

  it('is invisible to another organisation', async () => {
    const res = await convert(other, { from: 'mD', to: 'TD[API]', value: 1 })
    expect(res.statusCode).toBe(422)
    expect(res.body).toContain("no unit is named 'mD'")
    expect(await ownUnitCount(other)).toBe(0)
  })

  it('imported again, is all matched (or skipped as before): nothing added', async () => {
    const before = await ownUnitCount(user)
    const res = await importCatalog(user, { format: 'energistics', catalog: energistics })
    expect(res.statusCode, res.body).toBe(200)
    const again = res.json() as Report
    expect(again).toMatchObject({ added: 0, types_added: 0, matched: first.added + first.matched })
    expect(again.skipped).toEqual(first.skipped)
    expect(await ownUnitCount(user)).toBe(before)
  })

  it('records a units.imported event with the counts', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/events?type=units.imported', headers: user.headers })
    const events = (res.json() as { data: { entity_id: string; data: Record<string, unknown> }[] }).data
    expect(events).toHaveLength(2)
    expect(events.find((e) => e.entity_id === first.id)?.data).toEqual({ format: 'energistics', added: first.added, matched: first.matched, skipped: first.skipped.length, types_added: first.types_added })
  })
})

describe('importing a Cognite catalog', () => {
  it('adds a unit to an existing type and a new type with its base', async () => {
    const catalog = [
      { externalId: 'pressure:psi', name: 'PSI', quantity: 'Pressure', symbol: 'psi', aliasNames: [], conversion: { multiplier: 6894.757293168361, offset: 0 } },
      { externalId: 'pressure:inch_h2o', name: 'IN-H2O', quantity: 'Pressure', symbol: 'inH2O(60F)', aliasNames: ['inH2O'], conversion: { multiplier: 248.84, offset: 0 } },
      { externalId: 'pressure:kilopa', name: 'KPA-WRONG', quantity: 'Pressure', symbol: 'kPa', aliasNames: [], conversion: { multiplier: 999, offset: 0 } },
      { externalId: 'sweetness:sv', name: 'SV', quantity: 'Sweetness', symbol: 'SV', aliasNames: [], conversion: { multiplier: 1, offset: 0 } },
      { externalId: 'sweetness:ksv', name: 'KSV', quantity: 'Sweetness', symbol: 'kSV', aliasNames: [], conversion: { multiplier: 1000, offset: 0 } },
    ]
    const res = await importCatalog(other, { format: 'cognite', catalog })
    expect(res.statusCode, res.body).toBe(200)
    const report = res.json() as Report
    expect(report).toMatchObject({ added: 3, matched: 1, types_added: 1 })
    expect(report.skipped).toEqual([{ symbol: 'kPa', quantity: 'Pressure', reason: expect.stringContaining('different conversion factors') }])
    expect((await convert(other, { from: 'inH2O(60F)', to: 'Pa', value: 2 })).json()).toMatchObject({ value: 497.68 })
    // Its alias inH2O already names the catalog's inH₂O, so it was not taken: look-ups stay unambiguous.
    expect((await convert(other, { from: 'inH2O', to: 'Pa', value: 1 })).json()).toMatchObject({ from: { external_id: 'pressure:in_h2o' } })
    expect((await convert(other, { from: 'kSV', to: 'SV', value: 2 })).json()).toMatchObject({ value: 2000, to: { is_base: true, unit_type: 'Sweetness' } })
  })
})

describe('a file that is not a catalog', () => {
  it.each([
    ['energistics', { units: [] }, /not an Energistics catalog/],
    ['energistics', [], /not an Energistics catalog/],
    ['energistics', { quantities: [{ name: 'length', units: ['metre'] }], units: [] }, /names no unit of the file/],
    ['energistics', { quantities: [], units: [{ name: 'metre', symbol: 'm', a: 1, b: 0, c: 0, d: 1 }] }, /no quantity with units/],
    ['energistics', { quantities: [{ name: 'length', units: ['metre'] }], units: [{ name: 'metre', symbol: 'm', a: 1, b: 0, c: 0, d: 'one' }] }, /finite number/],
    ['cognite', [], /has no units/],
    ['cognite', { hello: 'world' }, /not a Cognite catalog/],
    ['cognite', [{ externalId: 'x:y', name: 'Y', quantity: 'X', symbol: 'y', conversion: { multiplier: 0, offset: 0 } }], /multiplier/],
  ])('%s %j is a 422 and writes nothing', async (format, catalog, message) => {
    const before = await ownUnitCount(other)
    const res = await importCatalog(other, { format, catalog })
    expect(res.statusCode, res.body).toBe(422)
    expect((res.json() as { detail: string }).detail).toMatch(message)
    expect(await ownUnitCount(other)).toBe(before)
  })

  it('two imports of one file at the same moment: one adds, the other matches, neither fails', async () => {
    const racer = await signUp(t.app)
    const catalog = [
      { externalId: 'brightness:nit', name: 'NIT', quantity: 'Brightness', symbol: 'nt', aliasNames: [], conversion: { multiplier: 1, offset: 0 } },
      { externalId: 'brightness:knit', name: 'KNIT', quantity: 'Brightness', symbol: 'knt', aliasNames: [], conversion: { multiplier: 1000, offset: 0 } },
    ]
    const answers = await Promise.all([importCatalog(racer, { format: 'cognite', catalog }), importCatalog(racer, { format: 'cognite', catalog })])
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200])
    const reports = answers.map((a) => a.json() as Report).sort((x, y) => y.added - x.added)
    expect(reports.map((r) => [r.added, r.matched])).toEqual([
      [2, 0],
      [0, 2],
    ])
  })

  it('is all or nothing: a good file with one bad unit writes nothing', async () => {
    const before = await ownUnitCount(other)
    const bad = { ...(energistics as { units: unknown[] }), units: [...(energistics as { units: unknown[] }).units, { name: 'broken', symbol: 'brk', a: 1, b: 1, c: 1, d: 1 }] }
    const res = await importCatalog(other, { format: 'energistics', catalog: bad })
    expect(res.statusCode).toBe(422)
    expect(res.body).toContain('not invertible')
    expect(await ownUnitCount(other)).toBe(before)
  })

  it('needs units:write', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/units/imports', payload: { format: 'cognite', catalog: [] } })
    expect(res.statusCode).toBe(401)
  })
})
