// Conversion against hand-checked references (exact definitions: 1 lbm = 0.45359237 kg,
// g = 9.80665 m/s2, 1 in = 0.0254 m, 1 bbl = 42 US gal = 0.158987294928 m3), on the catalog as
// shipped, without a database.
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../core/errors.ts'
import { buildCatalog } from './units.catalog.ts'
import { convert, convertValues, fromBase, toBase, type ConvertibleUnit } from './units.convert.ts'

const catalog = buildCatalog()
const typeName = new Map(catalog.types.map((t) => [t.id, t.name]))
const byExternalId = new Map<string, ConvertibleUnit & { isBase: boolean }>(catalog.units.map((u) => [u.externalId, { ...u, unitTypeName: typeName.get(u.unitTypeId)! }]))
const unit = (externalId: string) => {
  const u = byExternalId.get(externalId)
  if (!u) throw new Error(`no unit ${externalId}`)
  return u
}
const cv = (value: number, from: string, to: string) => convert(value, unit(from), unit(to))

/** Equal to within `digits` significant digits (relative), for references given to that many. */
function expectClose(actual: number, expected: number, relative = 1e-12) {
  const scale = Math.max(Math.abs(expected), Number.MIN_VALUE)
  expect(Math.abs(actual - expected) / scale, `${actual} vs ${expected}`).toBeLessThanOrEqual(relative)
}

describe('conversion references', () => {
  it.each([
    [1, 'pressure:psi', 'pressure:pa', 6894.757293168],
    [1, 'volume:bbl_us', 'volume:m3', 0.158987294928],
    [32, 'temperature:deg_f', 'temperature:k', 273.15],
    [212, 'temperature:deg_f', 'temperature:k', 373.15],
    [1, 'dynamic_viscosity:centipoise', 'dynamic_viscosity:pa-sec', 0.001],
    [1, 'dynamic_viscosity:centipoise', 'dynamic_viscosity:millipa-sec', 1],
    [100, 'temperature:deg_c', 'temperature:deg_f', 212],
    [0, 'temperature:deg_c', 'temperature:deg_f', 32],
    [-40, 'temperature:deg_c', 'temperature:deg_f', -40],
    [98.6, 'temperature:deg_f', 'temperature:deg_c', 37],
    [491.67, 'temperature:deg_r', 'temperature:k', 273.15],
    [0, 'temperature:k', 'temperature:deg_c', -273.15],
    [1, 'pressure:bar', 'pressure:psi', 14.50377377302092],
    [1000, 'pressure:psi', 'pressure:bar', 68.94757293168],
    [1, 'pressure:atm', 'pressure:pa', 101325],
    [1, 'pressure:atm', 'pressure:psi', 14.695948775513449],
    [1, 'pressure:kilolb_f-per-in2', 'pressure:psi', 1000],
    [1, 'pressure:megapa', 'pressure:kilopa', 1000],
    [1, 'pressure_gradient:psi-per-ft', 'pressure_gradient:pa-per-m', 22620.594793859455],
    [1, 'length:ft', 'length:m', 0.3048],
    [1, 'length:mi', 'length:ft', 5280],
    [1, 'volume:bbl_us', 'volume:ft3', 5.614583333333333],
    [1, 'volume_flow_rate:bbl_us-per-day', 'volume_flow_rate:m3-per-sec', 1.8401307283333333e-6],
    [1, 'volume_flow_rate:bbl_us-per-day', 'volume_flow_rate:m3-per-day', 0.158987294928],
    [1, 'volume_flow_rate:kilo-ft3-per-day', 'volume_flow_rate:m3-per-day', 28.316846592],
    [1, 'volume_flow_rate:kilo-ft3-per-day', 'volume_flow_rate:ft3-per-day', 1000],
    [1, 'density:lb-per-ft3', 'density:kilogm-per-m3', 16.018463373960138],
    [1, 'density:gm-per-centim3', 'density:kilogm-per-m3', 1000],
    [1, 'mass:lb', 'mass:kilogm', 0.45359237],
    [1, 'force:lb_f', 'force:n', 4.4482216152605],
    [1, 'time:day', 'time:sec', 86400],
    [1, 'angle:rev', 'angle:deg', 360],
    [1, 'energy:kilow-hr', 'energy:j', 3.6e6],
    [1, 'power:kilow', 'power:w', 1000],
    [1, 'kinematic_viscosity:centist', 'kinematic_viscosity:m2-per-sec', 1e-6],
    [1, 'gas_liquid_ratio:scf-per-stb', 'gas_liquid_ratio:sm3-per-sm3', 0.17810760667903525],
    [1000, 'liquid_gas_ratio:stb-per-mmscf', 'liquid_gas_ratio:sm3-per-sm3', 0.005614583333333334],
    [1, 'reservoir_volume_flow_rate:rb-per-day', 'reservoir_volume_flow_rate:rm3-per-sec', 1.8401307283333333e-6],
    [1, 'volume_per_time_per_pressure:bbl_us-per-day-per-psi', 'volume_per_time_per_pressure:m3-per-day-per-bar', 2.305915758420269],
    [1, 'power:hp', 'power:w', 745.6998715822702],
    [1, 'angular_acceleration:rev-per-sec2', 'angular_acceleration:rad-per-sec2', 2 * Math.PI],
  ])('%s %s = %s %s', (value, from, to, expected) => {
    expectClose(cv(value, from, to), expected)
  })

  it('reproduces the gauge-pressure offsets the catalog defines', () => {
    expectClose(cv(0, 'pressure:barg', 'pressure:bar'), 1.01325)
    expectClose(cv(0, 'pressure:kilopag', 'pressure:kilopa'), 101.325)
    expectClose(cv(0, 'pressure:millibarg', 'pressure:millibar'), 1013.25)
    expectClose(cv(0, 'pressure:psig', 'pressure:psi'), 14.6959475034)
    expectClose(cv(100, 'pressure:psig', 'pressure:psi'), 114.6959475034)
    expectClose(cv(1, 'pressure:bar', 'pressure:barg'), -0.01325, 1e-9)
    expectClose(cv(1, 'pressure:barg', 'pressure:kilopag'), 100)
  })

  it("gives bit-for-bit what the catalog's own formula gives", () => {
    const f = unit('temperature:deg_f')
    for (const x of [32, 98.6, -40, 451, 1e6]) expect(toBase(f, x)).toBe((x + 459.67) * 0.5555555555555556)
    expect(cv(98.6, 'temperature:deg_f', 'temperature:k')).toBe(310.15)
  })

  it('converts a value to itself unchanged', () => {
    expect(cv(0.1 + 0.2, 'temperature:deg_f', 'temperature:deg_f')).toBe(0.1 + 0.2)
  })

  it('takes every catalog unit to its base and back', () => {
    for (const u of byExternalId.values()) {
      for (const x of [0, 1, -2.5, 1234.5678]) expectClose(fromBase(u, toBase(u, x)), x, x === 0 ? Infinity : 1e-12)
      if (u.isBase) expect(toBase(u, 1234.5678)).toBe(1234.5678)
      expect(Math.abs(fromBase(u, toBase(u, 0)))).toBeLessThan(1e-9)
    }
  })

  it('converts in the rational form too (units without scale/offset, as imports bring)', () => {
    // Energistics: degF = (5x + 2298.35) / 9 K; psi = 4.4482216152605 x / 0.00064516 Pa.
    const k = unit('temperature:k')
    const degF: ConvertibleUnit = { ...k, id: 'degF', symbol: 'degF', isBase: false, a: 5, b: 2298.35, c: 0, d: 9, scale: null, offset: null } as ConvertibleUnit
    expect(convert(32, degF, k)).toBe(273.15)
    expectClose(convert(373.15, k, degF), 212)
    expectClose(convert(212, degF, unit('temperature:deg_c')), 100)
    const pa = unit('pressure:pa')
    const psi: ConvertibleUnit = { ...pa, id: 'psi', symbol: 'psi', a: 4.4482216152605, b: 0, c: 0, d: 0.00064516, scale: null, offset: null }
    expectClose(convert(1, psi, pa), 6894.757293168)
    expectClose(convert(1, psi, unit('pressure:psi')), 1)
    // A reciprocal unit (c != 0): x -> 1/x, e.g. slowness and velocity.
    const perX: ConvertibleUnit = { ...pa, id: 'inverse', symbol: '1/Pa', a: 0, b: 1, c: 1, d: 0, scale: null, offset: null }
    expectClose(convert(4, perX, pa), 0.25)
    expectClose(convert(0.25, pa, perX), 4)
  })
})

describe('bad input', () => {
  it('refuses to convert between types, naming both', () => {
    const err = (() => {
      try {
        cv(1, 'pressure:psi', 'temperature:deg_f')
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).status).toBe(422)
    expect((err as ValidationError).message).toContain('Pressure')
    expect((err as ValidationError).message).toContain('Temperature')
    expect(() => convertValues([1], unit('pressure:psi'), unit('temperature:deg_f'))).toThrow(/Pressure.*Temperature/)
  })

  it.each([NaN, Infinity, -Infinity])('refuses %d', (x) => {
    expect(() => cv(x, 'pressure:psi', 'pressure:bar')).toThrow(ValidationError)
    expect(() => cv(x, 'pressure:psi', 'pressure:psi')).toThrow(/finite/)
  })

  it('names the index of a bad value in a batch', () => {
    try {
      convertValues([1, 2, NaN, 4], unit('pressure:psi'), unit('pressure:bar'))
      expect.unreachable()
    } catch (e) {
      expect((e as ValidationError).errors).toEqual([{ path: '/values/2', message: 'must be a finite number' }])
    }
    expect(() => convertValues(new Float64Array([1, Infinity]), unit('pressure:psi'), unit('pressure:psi'))).toThrow(/value 1/)
    // An overflow of a finite input is refused too, not answered as Infinity.
    expect(() => convertValues([1e308], unit('pressure:megabar'), unit('pressure:micropa'))).toThrow(/no finite value/)
  })
})

describe('batch conversion', () => {
  it('gives what one-at-a-time conversion gives, in the kind of array it was given', () => {
    const values = [0, 1, -40, 98.6, 1e-9, 123456.789]
    for (const [from, to] of [
      ['temperature:deg_f', 'temperature:deg_c'],
      ['pressure:psig', 'pressure:bar'],
      ['volume:bbl_us', 'volume:m3'],
    ] as const) {
      const expected = values.map((v) => cv(v, from, to))
      const asArray = convertValues(values, unit(from), unit(to))
      expect(Array.isArray(asArray)).toBe(true)
      expect(asArray).toEqual(expected)
      const asTyped = convertValues(Float64Array.from(values), unit(from), unit(to))
      expect(asTyped).toBeInstanceOf(Float64Array)
      expect(Array.from(asTyped)).toEqual(expected)
    }
    expect(convertValues([], unit('pressure:psi'), unit('pressure:bar'))).toEqual([])
  })
})
