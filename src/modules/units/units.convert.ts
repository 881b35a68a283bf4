// Conversion between units of one type, through the type's base unit, in double precision.
// Pure functions: no database, so measurements, exports and the CLI convert with the same code.
//
// A unit says how a value x in it becomes a value in the base unit:
//   value_in_base = (a*x + b) / (c*x + d)          (Energistics form; covers every unit)
//   value_in_base = (x + offset) * scale           (scale/offset form, when the unit has one)
// and back: x = (d*y - b) / (a - c*y), or x = y / scale - offset.
// Units defined by a scale/offset catalog (Cognite) convert with that catalog's own formula, so
// a result is bit-for-bit what the catalog itself computes; the rational form of the same unit
// (a = scale, b = offset*scale) can differ in the last bit (98.6 degF -> 310.15 vs 310.15000000000003).
import { ValidationError } from '../../core/errors.ts'

export interface UnitConversion {
  a: number
  b: number
  c: number
  d: number
  scale: number | null
  offset: number | null
}

export interface ConvertibleUnit extends UnitConversion {
  id: string
  symbol: string
  unitTypeId: string
  /** For messages: "psi (Pressure)". */
  unitTypeName: string
}

export type Values = Float64Array | number[]

const describe = (u: ConvertibleUnit) => `${u.symbol || u.id} (${u.unitTypeName})`

export function toBase(u: UnitConversion, x: number): number {
  if (u.scale !== null && u.offset !== null) return (x + u.offset) * u.scale
  return (u.a * x + u.b) / (u.c * x + u.d)
}

export function fromBase(u: UnitConversion, y: number): number {
  if (u.scale !== null && u.offset !== null) return y / u.scale - u.offset
  return (u.d * y - u.b) / (u.a - u.c * y)
}

/** Refuses to convert between two types; the 422 names both. */
export function assertSameType(from: ConvertibleUnit, to: ConvertibleUnit): void {
  if (from.unitTypeId === to.unitTypeId) return
  throw new ValidationError(`cannot convert ${describe(from)} to ${describe(to)}: ${from.unitTypeName} and ${to.unitTypeName} are different unit types`, [
    { path: '/to', message: `is a unit of ${to.unitTypeName}, not of ${from.unitTypeName}` },
  ])
}

const notFinite = (path: string, what: string) => new ValidationError(`${what} must be a finite number`, [{ path, message: 'must be a finite number' }])

/** One value from `from` to `to`. */
export function convert(value: number, from: ConvertibleUnit, to: ConvertibleUnit, path = '/value'): number {
  assertSameType(from, to)
  if (!Number.isFinite(value)) throw notFinite(path, 'the value')
  if (from.id === to.id) return value
  const out = fromBase(to, toBase(from, value))
  if (!Number.isFinite(out)) throw new ValidationError(`${value} ${from.symbol} has no finite value in ${to.symbol}`, [{ path, message: `has no finite value in ${to.symbol}` }])
  return out
}

/**
 * Many values at once, into a new array of the same kind. The loops are specialised per form
 * (no closure per value) so that a Float64Array converts at close to the speed of a plain
 * multiply-add loop; each value is computed exactly as `convert` computes it.
 */
export function convertValues<T extends Values>(values: T, from: ConvertibleUnit, to: ConvertibleUnit, path = '/values'): T {
  assertSameType(from, to)
  const n = values.length
  const out = (values instanceof Float64Array ? new Float64Array(n) : new Array<number>(n)) as T
  if (from.id === to.id) {
    for (let i = 0; i < n; i++) out[i] = values[i]!
  } else if (from.scale !== null && from.offset !== null && to.scale !== null && to.offset !== null) {
    const o1 = from.offset
    const s1 = from.scale
    const s2 = to.scale
    const o2 = to.offset
    for (let i = 0; i < n; i++) out[i] = ((values[i]! + o1) * s1) / s2 - o2
  } else {
    for (let i = 0; i < n; i++) out[i] = fromBase(to, toBase(from, values[i]!))
  }
  // One pass to find bad values, after the fact: a non-finite input gives a non-finite output
  // in every form, so checking the output covers both and keeps the hot loop branch-free.
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) {
      if (!Number.isFinite(values[i]!)) throw notFinite(`${path}/${i}`, `value ${i}`)
      throw new ValidationError(`value ${i} (${values[i]} ${from.symbol}) has no finite value in ${to.symbol}`, [{ path: `${path}/${i}`, message: `has no finite value in ${to.symbol}` }])
    }
  }
  return out
}
