// Importing a unit catalog (Cognite JSON or Energistics JSON) into an organisation's own units.
// The global catalog is never written: what the file adds lands in the caller's organisation.
//
// Merge rules (docs/data-model.md, "Importing a catalog"):
// - A quantity is an existing type (global or the organisation's) when the names are equal
//   ignoring case, or when QUANTITY_SYNONYMS names the pair; otherwise it becomes a new type of
//   the organisation, whose base is the file's first unit equal to its base (value_in_base = x).
// - A file states factors against its own base for the quantity, which need not be the existing
//   type's base. The two are related through one anchor: the file's base unit found by symbol in
//   the type, or else the type's base unit found by symbol in the file. Every file unit is then
//   re-expressed against the type's base (composition of two (a*x + b)/(c*x + d) maps). A
//   quantity with no anchor is skipped whole, with the reason.
// - A unit is "matched" when a unit of the type has one of its symbols (symbol, or the
//   Energistics display symbol) as symbol or alias and gives the same value in the base at a few
//   sample points (relative 1e-9); "skipped" when such a unit exists but the values differ (or
//   its name is taken in the type); "added" otherwise, never as base of an existing type.
// - All or nothing: one transaction, with the units.imported event. A file that is not a catalog
//   is a 422 and nothing is written.
import { eq, isNull, or, sql } from 'drizzle-orm'
import { newId } from '../../core/behaviours/columns.ts'
import type { RequestContext } from '../../core/context.ts'
import type { Database } from '../../core/db/database.ts'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { orgOf } from '../../core/tenancy.ts'
import { toBase, type UnitConversion } from './units.convert.ts'
import { unitDefinitions, unitTypes } from './units.schema.ts'

export const IMPORT_FORMATS = ['cognite', 'energistics'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]

/**
 * Energistics quantity names (lower case) that are a Cognite quantity under another name, with the
 * same SI base. Only pairs that are the same physical quantity; the anchor rule still checks them.
 */
export const QUANTITY_SYNONYMS: Record<string, string> = {
  'thermodynamic temperature': 'temperature',
  'plane angle': 'angle',
  'linear acceleration': 'acceleration',
  'length per time': 'velocity',
  'volume per time': 'volume flow rate',
  'mass per volume': 'density',
  'mass per time': 'mass flow rate',
  'mass per length': 'linear density',
  'mass per area': 'areal density',
  'moment of force': 'torque',
  'electric potential difference': 'electric potential',
  'electric resistance': 'resistance',
  'electrical resistivity': 'resistivity',
  'magnetic permeability': 'permeability',
  'reciprocal length': 'inverse length',
  'activity [of radioactivity]': 'radioactivity',
  'force per length': 'surface tension',
  'amount of substance per volume': 'amount of substance per unit volume',
  'volume per volume': 'volume fraction',
  '(volume per time) per pressure': 'volume per time per pressure',
}

interface Factors {
  a: number
  b: number
  c: number
  d: number
}

export interface ParsedUnit extends Factors {
  name: string
  longName: string | null
  symbol: string
  /** The symbols it may be matched by: the symbol, and the Energistics display symbol. */
  symbols: string[]
  aliases: string[]
  externalId: string | null
  /** Cognite units keep scale/offset (the catalog's own formula); null for Energistics. */
  scale: number | null
  offset: number | null
}

export interface ParsedCatalog {
  quantities: { name: string; units: ParsedUnit[] }[]
}

export interface ImportReport {
  id: string
  format: ImportFormat
  added: number
  matched: number
  types_added: number
  skipped: { symbol: string; quantity: string; reason: string }[]
}

// --- parsing -------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== ''
const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

function notACatalog(format: ImportFormat, errors: FieldError[]): ValidationError {
  const what = format === 'cognite' ? 'a Cognite catalog (an array of units with externalId, quantity, symbol and conversion {multiplier, offset})' : 'an Energistics catalog (an object with quantities [{name, units}] and units [{name, symbol, a, b, c, d}])'
  const first = errors[0] ? `: ${errors[0].path} ${errors[0].message}` : ''
  return new ValidationError(`the file is not ${what}${first}`, errors.slice(0, 20))
}

function checkFactors(f: Factors, path: string, errors: FieldError[]) {
  for (const k of ['a', 'b', 'c', 'd'] as const) if (!isFinite(f[k])) errors.push({ path: `${path}/${k}`, message: 'must be a finite number' })
  if (errors.length === 0 && f.a * f.d - f.b * f.c === 0) errors.push({ path, message: 'is not invertible (a*d - b*c = 0)' })
}

function parseCognite(json: unknown): ParsedCatalog {
  const P = '/catalog'
  if (!Array.isArray(json)) throw notACatalog('cognite', [{ path: P, message: 'must be an array of units' }])
  if (json.length === 0) throw notACatalog('cognite', [{ path: P, message: 'has no units' }])
  const errors: FieldError[] = []
  const byQuantity = new Map<string, ParsedUnit[]>()
  json.forEach((u, i) => {
    const p = `${P}/${i}`
    if (!isObject(u)) return void errors.push({ path: p, message: 'must be an object' })
    for (const k of ['externalId', 'name', 'symbol', 'quantity'] as const) if (!isText(u[k])) errors.push({ path: `${p}/${k}`, message: 'must be a non-empty string' })
    const conv = u.conversion
    if (!isObject(conv) || !isFinite(conv.multiplier) || conv.multiplier === 0 || !isFinite(conv.offset ?? 0)) return void errors.push({ path: `${p}/conversion`, message: 'must be {multiplier (finite, not 0), offset (finite)}' })
    if (errors.length) return
    const scale = conv.multiplier
    const offset = (conv.offset as number | undefined) ?? 0
    const aliases = Array.isArray(u.aliasNames) ? u.aliasNames.filter(isText) : []
    const unit: ParsedUnit = {
      name: u.name as string,
      longName: isText(u.longName) ? u.longName : null,
      symbol: u.symbol as string,
      symbols: [u.symbol as string],
      aliases: [...new Set(aliases)],
      externalId: u.externalId as string,
      a: scale,
      b: offset * scale,
      c: 0,
      d: 1,
      scale,
      offset,
    }
    const q = u.quantity as string
    byQuantity.set(q, [...(byQuantity.get(q) ?? []), unit])
  })
  if (errors.length) throw notACatalog('cognite', errors)
  return { quantities: [...byQuantity].map(([name, units]) => ({ name, units })) }
}

function parseEnergistics(json: unknown): ParsedCatalog {
  const P = '/catalog'
  if (!isObject(json) || !Array.isArray(json.units) || !Array.isArray(json.quantities)) throw notACatalog('energistics', [{ path: P, message: 'must be an object with arrays quantities and units' }])
  const errors: FieldError[] = []
  const units = new Map<string, ParsedUnit>()
  json.units.forEach((u, i) => {
    const p = `${P}/units/${i}`
    if (!isObject(u) || !isText(u.name) || !isText(u.symbol)) return void errors.push({ path: p, message: 'must be an object with a name and a symbol' })
    const f = { a: u.a, b: u.b, c: u.c, d: u.d } as Factors
    const before = errors.length
    checkFactors(f, p, errors)
    if (errors.length > before) return
    const display = isText(u.displaySymbol) && u.displaySymbol !== u.symbol ? [u.displaySymbol] : []
    units.set(u.name, { name: u.name, longName: u.name, symbol: u.symbol, symbols: [u.symbol, ...display], aliases: display, externalId: null, ...f, scale: null, offset: null })
  })
  const quantities: ParsedCatalog['quantities'] = []
  json.quantities.forEach((q, i) => {
    const p = `${P}/quantities/${i}`
    if (!isObject(q) || !isText(q.name) || !Array.isArray(q.units)) return void errors.push({ path: p, message: 'must be an object with a name and a units array' })
    const list: ParsedUnit[] = []
    q.units.forEach((name, j) => {
      const unit = typeof name === 'string' ? units.get(name) : undefined
      if (unit) list.push(unit)
      else errors.push({ path: `${p}/units/${j}`, message: `names no unit of the file (${JSON.stringify(name)})` })
    })
    if (list.length) quantities.push({ name: q.name, units: list })
  })
  if (errors.length) throw notACatalog('energistics', errors)
  if (quantities.length === 0) throw notACatalog('energistics', [{ path: `${P}/quantities`, message: 'has no quantity with units' }])
  return { quantities }
}

/** The file's units grouped by quantity; a 422 listing what is wrong when it is not a catalog. */
export function parseCatalog(format: ImportFormat, json: unknown): ParsedCatalog {
  return format === 'cognite' ? parseCognite(json) : parseEnergistics(json)
}

// --- merging -------------------------------------------------------------------------------

/** f∘g for value_in_base = (a*x + b) / (c*x + d) maps (2x2 matrix product). */
const compose = (f: Factors, g: Factors): Factors => ({ a: f.a * g.a + f.b * g.c, b: f.a * g.b + f.b * g.d, c: f.c * g.a + f.d * g.c, d: f.c * g.b + f.d * g.d })
const inverse = (f: Factors): Factors => ({ a: f.d, b: -f.b, c: -f.c, d: f.a })
const isIdentity = (f: Factors) => f.b === 0 && f.c === 0 && f.a === f.d && f.a !== 0
const rational = (f: Factors): UnitConversion => ({ a: f.a, b: f.b, c: f.c, d: f.d, scale: null, offset: null })

const SAMPLES = [1, 2.5, 10, 1000, -7.25]

/** The same value in the base at every sample point where both are defined, within 1e-9 relative. */
export function sameFactors(x: UnitConversion, y: UnitConversion): boolean {
  let compared = 0
  for (const s of SAMPLES) {
    const [u, v] = [toBase(x, s), toBase(y, s)]
    if (!Number.isFinite(u) && !Number.isFinite(v)) continue
    if (!Number.isFinite(u) || !Number.isFinite(v)) return false
    if (Math.abs(u - v) > 1e-9 * Math.max(Math.abs(u), Math.abs(v))) return false
    compared++
  }
  return compared > 0
}

interface PoolUnit extends UnitConversion {
  name: string
  symbols: string[]
  externalId: string | null
  isBase: boolean
  own: boolean
}
interface KnownType {
  id: string
  name: string
  isNew: boolean
  units: PoolUnit[]
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '') || 'unit'

/** External ids are stored lower case (as the units API stores them), unique among those visible. */
function uniqueKey(taken: Set<string>, wantedAnyCase: string): string {
  const wanted = wantedAnyCase.toLowerCase()
  let key = wanted
  for (let n = 2; taken.has(key.toLowerCase()); n++) key = `${wanted}-${n}`
  taken.add(key.toLowerCase())
  return key
}

type NewType = typeof unitTypes.$inferInsert
type NewUnit = typeof unitDefinitions.$inferInsert

export function createUnitImports({ database, events }: { database: Database; events: EventLog }) {
  return {
    async importCatalog(ctx: RequestContext, format: ImportFormat, json: unknown): Promise<ImportReport> {
      const org = orgOf(ctx)
      const catalog = parseCatalog(format, json)
      return database.transaction(async (tx) => {
        // One import (or unit change) per organisation at a time: a second waits here and then
        // sees the first one's units as matched, instead of colliding on the unique indexes.
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'units.import:' + org}))`)
        const visible = (column: typeof unitTypes.organizationId | typeof unitDefinitions.organizationId) => or(isNull(column), eq(column, org))
        // Global types first: a name the catalog has is the catalog's type, as in look-ups.
        const typeRows = (await tx.select().from(unitTypes).where(visible(unitTypes.organizationId))).sort((x, y) => Number(x.organizationId !== null) - Number(y.organizationId !== null))
        const unitRows = await tx.select().from(unitDefinitions).where(visible(unitDefinitions.organizationId))
        const types = new Map<string, KnownType>()
        const typeExternalIds = new Set(typeRows.flatMap((t) => (t.externalId ? [t.externalId.toLowerCase()] : [])))
        const typeExternalIdOf = new Map(typeRows.map((t) => [t.id, t.externalId ?? slug(t.name)]))
        const unitExternalIds = new Set(unitRows.flatMap((u) => (u.externalId ? [u.externalId.toLowerCase()] : [])))
        // An alias that already names a unit is not given to another: it would make that name ambiguous.
        const names = new Set(unitRows.flatMap((u) => [u.symbol, ...u.aliases]))
        for (const t of typeRows) if (!types.has(t.name.toLowerCase())) types.set(t.name.toLowerCase(), { id: t.id, name: t.name, isNew: false, units: [] })
        const typeById = new Map([...types.values()].map((t) => [t.id, t]))
        for (const u of unitRows) {
          typeById.get(u.unitTypeId)?.units.push({ ...u, symbols: [u.symbol, ...u.aliases], own: u.organizationId !== null })
        }

        const report: ImportReport = { id: newId(), format, added: 0, matched: 0, types_added: 0, skipped: [] }
        const newTypes: NewType[] = []
        const newUnits: NewUnit[] = []
        const source = format

        for (const q of catalog.quantities) {
          const lower = q.name.toLowerCase()
          const found = types.get(lower) ?? types.get(QUANTITY_SYNONYMS[lower] ?? '')
          const type: KnownType = found ?? { id: newId(), name: q.name, isNew: true, units: [] }
          let toTypeBase: Factors = { a: 1, b: 0, c: 0, d: 1 }
          const fileBase = q.units.find((u) => isIdentity(u))
          if (!found) {
            const externalId = uniqueKey(typeExternalIds, slug(q.name))
            types.set(lower, type)
            typeExternalIdOf.set(type.id, externalId)
            newTypes.push({ id: type.id, organizationId: org, name: q.name, externalId, source })
            report.types_added++
          } else {
            const shares = (u: ParsedUnit, p: PoolUnit) => u.symbols.some((s) => p.symbols.includes(s))
            // Same base already when a unit both name by symbol converts the same without re-basing.
            const sameBase = q.units.some((u) => type.units.some((p) => shares(u, p) && sameFactors(p, rational(u))))
            const anchorInType = fileBase && type.units.find((p) => shares(fileBase, p))
            const typeBase = type.units.find((p) => p.isBase)
            const anchorInFile = typeBase && q.units.find((u) => shares(u, typeBase))
            if (sameBase) toTypeBase = { a: 1, b: 0, c: 0, d: 1 }
            else if (anchorInType) toTypeBase = { a: anchorInType.a, b: anchorInType.b, c: anchorInType.c, d: anchorInType.d }
            else if (anchorInFile) toTypeBase = inverse(anchorInFile)
            else {
              for (const u of q.units) report.skipped.push({ symbol: u.symbol, quantity: q.name, reason: `no unit of the file's ${q.name} has a symbol of the existing type ${type.name}, so its factors cannot be related to that type's base` })
              continue
            }
          }
          const rebase = !isIdentity(toTypeBase)
          for (const u of q.units) {
            // Re-expressed against the type's base; a Cognite unit keeps its scale/offset when no re-basing is needed.
            const f = rebase ? compose(toTypeBase, u) : u
            const conv: UnitConversion = rebase || u.scale === null ? rational(f) : { a: u.a, b: u.b, c: u.c, d: u.d, scale: u.scale, offset: u.offset }
            const same = type.units.filter((p) => u.symbols.some((s) => p.symbols.includes(s)))
            if (same.some((p) => sameFactors(p, conv))) {
              report.matched++
              continue
            }
            if (same.length) {
              const other = same[0]!
              report.skipped.push({ symbol: u.symbol, quantity: q.name, reason: `${type.name} already has a unit with symbol ${u.symbol} (${other.externalId ?? other.name}) with different conversion factors` })
              continue
            }
            if (type.units.some((p) => p.own && p.name === u.name)) {
              report.skipped.push({ symbol: u.symbol, quantity: q.name, reason: `${type.name} already has a unit named ${u.name} with another symbol` })
              continue
            }
            const isBase = type.isNew && u === fileBase
            const base: Factors = isBase ? { a: 1, b: 0, c: 0, d: 1 } : { a: f.a, b: f.b, c: f.c, d: f.d }
            const externalId = uniqueKey(unitExternalIds, u.externalId ?? `${typeExternalIdOf.get(type.id)}:${slug(u.name)}`)
            const aliases = u.aliases.filter((a) => a !== u.symbol && !names.has(a))
            for (const n of [u.symbol, ...aliases]) names.add(n)
            const row: NewUnit = {
              id: newId(),
              organizationId: org,
              unitTypeId: type.id,
              externalId,
              name: u.name,
              longName: u.longName,
              symbol: u.symbol,
              aliases,
              ...base,
              scale: isBase ? null : conv.scale,
              offset: isBase ? null : conv.offset,
              isBase,
              source,
              sourceReference: `imported from a ${format === 'cognite' ? 'Cognite' : 'Energistics'} catalog${rebase ? `; factors re-expressed against the base of ${type.name}` : ''}`,
            }
            newUnits.push(row)
            type.units.push({ ...base, scale: row.scale ?? null, offset: row.offset ?? null, name: u.name, symbols: [u.symbol, ...aliases], externalId, isBase, own: true })
            report.added++
          }
        }

        if (newTypes.length) await tx.insert(unitTypes).values(newTypes)
        // 17 parameters a unit: 500 a statement stays far below PostgreSQL's 65,535.
        for (let i = 0; i < newUnits.length; i += 500) await tx.insert(unitDefinitions).values(newUnits.slice(i, i + 500))
        await events.appendEvent(tx, ctx, {
          type: 'units.imported',
          entityType: 'unit_import',
          entityId: report.id,
          data: { format, added: report.added, matched: report.matched, skipped: report.skipped.length, types_added: report.types_added },
        })
        return report
      })
    },
  }
}

export type UnitImports = ReturnType<typeof createUnitImports>
