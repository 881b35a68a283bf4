// The global unit catalog every install ships: the vendored Cognite catalog (src/modules/units/catalog/) plus
// Stratum's additions (an Oil Field system, oil-field categories, and a base unit for the three
// quantities the catalog gives none). Pure: `buildCatalog` turns the JSON into rows;
// scripts/units-catalog-sql.ts writes them as the data migration drizzle/0003_units_catalog.sql.
// Ids are name-based (UUIDv5-style, SHA-1 of a fixed namespace and a key such as
// `unit:pressure:psi`), so a catalog row has the same id on every install.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const UNITS_DATA_DIR = join(import.meta.dirname, 'catalog')

/** Fixed namespace for catalog ids; changing it would change every catalog id. */
const NAMESPACE = 'bbf909d0-1a76-4544-a800-44b454e7a318'

/** RFC 4122 name-based id (version 5: SHA-1) of `name` in the catalog namespace. */
export function catalogId(name: string): string {
  const ns = Buffer.from(NAMESPACE.replaceAll('-', ''), 'hex')
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const unitIdOf = (externalId: string) => catalogId(`unit:${externalId}`)
export const unitTypeIdOf = (name: string) => catalogId(`unit_type:${name}`)
export const unitSystemIdOf = (name: string) => catalogId(`unit_system:${name}`)
export const unitCategoryIdOf = (typeName: string, name: string) => catalogId(`unit_category:${typeName}/${name}`)

export interface CogniteUnit {
  externalId: string
  name: string
  quantity: string
  longName: string
  aliasNames: string[]
  symbol: string
  conversion: { multiplier: number; offset: number }
  source: string | null
  sourceReference: string | null
}

export interface CogniteUnitSystem {
  name: string
  quantities: { name: string; unitExternalId: string }[]
}

export const OIL_FIELD = 'Oil Field'

/**
 * The Oil Field system: the customary oil-field unit of each quantity that has one in the
 * Cognite catalog; every other quantity takes the Default system's unit. (No millidarcy: the
 * catalog's "Permeability" is magnetic permeability, H/m; mD arrives with the Energistics import.)
 */
export const OIL_FIELD_UNITS: Record<string, string> = {
  Pressure: 'pressure:psi',
  'Pressure Gradient': 'pressure_gradient:psi-per-ft',
  Temperature: 'temperature:deg_f',
  Length: 'length:ft',
  Area: 'area:ft2',
  Volume: 'volume:bbl_us',
  'Volume Flow Rate': 'volume_flow_rate:bbl_us-per-day',
  'Reservoir Volume Flow Rate': 'reservoir_volume_flow_rate:rb-per-day',
  'Standard Volume': 'standard_volume:kilo_scf_1atm_60deg_f',
  'Gas Liquid Ratio': 'gas_liquid_ratio:scf-per-stb',
  'Liquid Gas Ratio': 'liquid_gas_ratio:stb-per-mmscf',
  'Volume per time per pressure': 'volume_per_time_per_pressure:bbl_us-per-day-per-psi',
  'Dynamic Viscosity': 'dynamic_viscosity:centipoise',
  'Kinematic Viscosity': 'kinematic_viscosity:centist',
  Density: 'density:lb-per-ft3',
  'API Gravity': 'api_gravity:degree_api',
  Mass: 'mass:lb',
  'Mass Flow Rate': 'mass_flow_rate:lb-per-day',
  'Linear Density': 'linear_density:lb-per-ft',
  'Areal Density': 'areal_density:lb-per-ft2',
  Velocity: 'velocity:ft-per-sec',
  Acceleration: 'acceleration:ft-per-sec2',
  Force: 'force:lb_f',
  Torque: 'torque:lb_f-ft',
  Energy: 'energy:btu_it',
  Power: 'power:hp',
  Resistivity: 'resistivity:ohm-m',
}

/** Categories beyond the one per type named like it; `defaults` override the system's unit for the type. */
export const OIL_FIELD_CATEGORIES: { type: string; name: string; defaults?: Record<string, string> }[] = [
  { type: 'Pressure', name: 'Tubing Head Pressure' },
  { type: 'Pressure', name: 'Casing Pressure' },
  { type: 'Pressure', name: 'Bottom Hole Pressure' },
  { type: 'Pressure', name: 'Reservoir Pressure' },
  { type: 'Pressure', name: 'Separator Pressure' },
  { type: 'Temperature', name: 'Wellhead Temperature' },
  { type: 'Temperature', name: 'Bottom Hole Temperature' },
  { type: 'Temperature', name: 'Reservoir Temperature' },
  { type: 'Volume Flow Rate', name: 'Oil Rate' },
  { type: 'Volume Flow Rate', name: 'Water Rate' },
  { type: 'Volume Flow Rate', name: 'Liquid Rate' },
  // Gas is reported in thousands of standard cubic feet a day (Mscf/d).
  { type: 'Volume Flow Rate', name: 'Gas Rate', defaults: { [OIL_FIELD]: 'volume_flow_rate:kilo-ft3-per-day' } },
  { type: 'Gas Liquid Ratio', name: 'Gas Oil Ratio' },
  { type: 'Volume per time per pressure', name: 'Productivity Index' },
  { type: 'Length', name: 'Measured Depth' },
  { type: 'Length', name: 'True Vertical Depth' },
  { type: 'Dynamic Viscosity', name: 'Oil Viscosity' },
  { type: 'Density', name: 'Fluid Density' },
]

/**
 * Base units for the quantities whose catalog units are all defined against an SI unit the
 * catalog does not list (rev/s2 = 2*pi rad/s2, and so on).
 */
const ADDED_BASE_UNITS: Omit<CogniteUnit, 'conversion' | 'source' | 'sourceReference'>[] = [
  { externalId: 'angular_acceleration:rad-per-sec2', name: 'RAD-PER-SEC2', quantity: 'Angular Acceleration', longName: 'Radian per Square Second', aliasNames: ['rad/s2', 'radian per square second'], symbol: 'rad/s²' },
  { externalId: 'kinematic_viscosity:m2-per-sec', name: 'M2-PER-SEC', quantity: 'Kinematic Viscosity', longName: 'Square Metre per Second', aliasNames: ['m2/s', 'square metre per second', 'square meter per second'], symbol: 'm²/s' },
  { externalId: 'reservoir_volume_flow_rate:rm3-per-sec', name: 'RM3-PER-SEC', quantity: 'Reservoir Volume Flow Rate', longName: 'Reservoir Cubic Metre per Second', aliasNames: ['rm3/s', 'reservoir cubic metre per second'], symbol: 'rm³/s' },
]

// Exact definitions the corrections below are computed from.
const FT = 0.3048
const IN = 0.0254
const LBF = 4.4482216152605 // 0.45359237 kg * 9.80665 m/s2
const PSI = LBF / (IN * IN) // 6894.757293168...
const BBL = 0.158987294928 // 42 US gal of 231 in3
const FT3 = 0.028316846592
const DAY = 86_400

/**
 * Catalog factors that are rounded forms of exact definitions (1 bbl = 0.1589873 m3 in the
 * catalog, 0.158987294928 by definition; RB/d = 1.84e-06 m3/s, off by 1e-4), replaced by the
 * exact value; the catalog's number is kept in `source_reference`. docs/data-model.md lists them.
 */
export const CATALOG_CORRECTIONS: Record<string, number> = {
  'volume:bbl_us': BBL,
  'volume_flow_rate:bbl_us-per-day': BBL / DAY,
  'volume_flow_rate:bbl_us_pet-per-hr': BBL / 3600,
  'volume_flow_rate:kilo-bbl_us-per-day': (1000 * BBL) / DAY,
  'reservoir_volume_flow_rate:rb-per-day': BBL / DAY,
  'volume_flow_rate:kilo-ft3-per-day': (1000 * FT3) / DAY,
  'volume_flow_rate:mega-ft3-per-day': (1e6 * FT3) / DAY,
  'volume_fraction:bbl_us-per-kilo-ft3': BBL / (1000 * FT3),
  'gas_liquid_ratio:scf-per-stb': FT3 / BBL,
  'liquid_gas_ratio:stb-per-mmscf': BBL / (1e6 * FT3),
  'volume_per_time_per_pressure:bbl_us-per-day-per-psi': BBL / DAY / PSI,
  'volume_per_time_per_pressure:kilo-ft3-per-day-per-psi': (1000 * FT3) / DAY / PSI,
  'volume_per_time_per_pressure:ft3-per-sec-per-psi': FT3 / PSI,
  'volume_per_time_per_pressure:m3-per-day-per-bar': 1 / DAY / 1e5,
  'pressure_gradient:psi-per-ft': PSI / FT,
  'pressure_gradient:psi-per-m': PSI,
  'pressure:lb_f-per-100-ft2': LBF / (FT * FT) / 100,
  'torque:kilo_lb_f-ft': 1000 * LBF * FT,
  'power:hp': 550 * FT * LBF, // mechanical horsepower, 550 ft.lbf/s
  'angle_per_length:deg-per-30m': Math.PI / 180 / 30,
}

export interface CatalogType {
  id: string
  name: string
  externalId: string
  source: string
}
export interface CatalogUnit {
  id: string
  unitTypeId: string
  externalId: string
  name: string
  longName: string
  symbol: string
  aliases: string[]
  a: number
  b: number
  c: number
  d: number
  scale: number
  offset: number
  isBase: boolean
  source: string
  sourceReference: string | null
}
export interface CatalogSystem {
  id: string
  name: string
  description: string
  source: string
}
export interface CatalogCategory {
  id: string
  unitTypeId: string
  name: string
  source: string
}
export interface CatalogDefault {
  id: string
  unitSystemId: string
  unitCategoryId: string
  unitTypeId: string
  unitDefinitionId: string
}
export interface Catalog {
  types: CatalogType[]
  units: CatalogUnit[]
  systems: CatalogSystem[]
  categories: CatalogCategory[]
  defaults: CatalogDefault[]
}

export function readCogniteCatalog(dir = UNITS_DATA_DIR): { units: CogniteUnit[]; systems: CogniteUnitSystem[] } {
  return {
    units: JSON.parse(readFileSync(join(dir, 'cognite-units.json'), 'utf8')) as CogniteUnit[],
    systems: JSON.parse(readFileSync(join(dir, 'cognite-unitSystems.json'), 'utf8')) as CogniteUnitSystem[],
  }
}

const SYSTEM_DESCRIPTIONS: Record<string, string> = {
  Default: 'The Cognite catalog default unit of each quantity',
  SI: 'International System of Units',
  Imperial: 'Imperial and US customary units',
  [OIL_FIELD]: 'Customary oil-field units (psi, bbl, bbl/d, Mscf/d, scf/STB, degF, ft, cP, lbm/ft3, psi/ft...); the Default unit where a quantity has no oil-field custom',
}

function withCorrection(u: CogniteUnit): CogniteUnit {
  const exact = CATALOG_CORRECTIONS[u.externalId]
  if (exact === undefined) return u
  const note = `factor ${exact} by definition; the Cognite catalog has ${u.conversion.multiplier}`
  return { ...u, conversion: { ...u.conversion, multiplier: exact }, sourceReference: [u.sourceReference ?? u.source, note].filter(Boolean).join('; ') }
}

export function buildCatalog(input = readCogniteCatalog()): Catalog {
  const quantities = [...new Set(input.units.map((u) => u.quantity))]
  const systemUnit = new Map(input.systems.map((s) => [s.name, new Map(s.quantities.map((q) => [q.name, q.unitExternalId]))]))
  const si = systemUnit.get('SI')
  const defaultSystem = systemUnit.get('Default')
  if (!si || !defaultSystem) throw new Error('the Cognite catalog has no SI or Default system')

  const types: CatalogType[] = quantities.map((name) => {
    const prefixes = new Set(input.units.filter((u) => u.quantity === name).map((u) => u.externalId.split(':')[0]!))
    if (prefixes.size !== 1) throw new Error(`quantity ${name} has units under several external-id prefixes`)
    return { id: unitTypeIdOf(name), name, externalId: [...prefixes][0]!, source: 'cognite' }
  })

  const all: CogniteUnit[] = [
    ...input.units,
    ...ADDED_BASE_UNITS.map((u) => ({ ...u, conversion: { multiplier: 1, offset: 0 }, source: 'stratum', sourceReference: 'SI coherent unit, added as the base of its quantity' })),
  ]
  const isIdentity = (u: CogniteUnit) => u.conversion.multiplier === 1 && u.conversion.offset === 0
  // Several units may equal the base (Pa, N/m2, kg/(m.s2)); the SI system's unit is preferred.
  const baseOf = new Map<string, string>()
  for (const q of quantities) {
    const identity = all.filter((u) => u.quantity === q && isIdentity(u)).map((u) => u.externalId)
    const base = [si.get(q), defaultSystem.get(q)].find((id) => id && identity.includes(id)) ?? identity[0]
    if (!base) throw new Error(`quantity ${q} has no unit equal to its base`)
    baseOf.set(q, base)
  }
  for (const id of Object.keys(CATALOG_CORRECTIONS)) if (!all.some((u) => u.externalId === id)) throw new Error(`correction for ${id}, which the catalog does not have`)
  const units: CatalogUnit[] = all.map((u) => withCorrection(u)).map((u) => ({
    id: unitIdOf(u.externalId),
    unitTypeId: unitTypeIdOf(u.quantity),
    externalId: u.externalId,
    name: u.name,
    longName: u.longName,
    symbol: u.symbol,
    aliases: [...new Set(u.aliasNames)],
    a: u.conversion.multiplier,
    b: u.conversion.offset * u.conversion.multiplier,
    c: 0,
    d: 1,
    scale: u.conversion.multiplier,
    offset: u.conversion.offset,
    isBase: baseOf.get(u.quantity) === u.externalId,
    source: u.source === 'stratum' ? 'stratum' : 'cognite',
    sourceReference: u.sourceReference ?? u.source ?? null,
  }))
  const unitByExternalId = new Map(units.map((u) => [u.externalId, u]))

  const oilField = new Map(quantities.map((q) => [q, OIL_FIELD_UNITS[q] ?? defaultSystem.get(q)!]))
  for (const [q, id] of Object.entries(OIL_FIELD_UNITS)) {
    if (!quantities.includes(q)) throw new Error(`Oil Field names quantity ${q}, which the catalog does not have`)
    if (unitByExternalId.get(id)?.unitTypeId !== unitTypeIdOf(q)) throw new Error(`Oil Field unit ${id} is not a unit of ${q}`)
  }
  systemUnit.set(OIL_FIELD, oilField)
  const systems: CatalogSystem[] = [...input.systems.map((s) => s.name), OIL_FIELD].map((name) => ({
    id: unitSystemIdOf(name),
    name,
    description: SYSTEM_DESCRIPTIONS[name] ?? '',
    source: name === OIL_FIELD ? 'stratum' : 'cognite',
  }))

  const categoryDefs = [...quantities.map((q) => ({ type: q, name: q, defaults: undefined as Record<string, string> | undefined, source: 'stratum' })), ...OIL_FIELD_CATEGORIES.map((c) => ({ ...c, source: 'stratum' }))]
  const categories: CatalogCategory[] = categoryDefs.map((c) => {
    if (!quantities.includes(c.type)) throw new Error(`category ${c.name} names quantity ${c.type}, which the catalog does not have`)
    return { id: unitCategoryIdOf(c.type, c.name), unitTypeId: unitTypeIdOf(c.type), name: c.name, source: c.source }
  })

  const defaults: CatalogDefault[] = []
  for (const system of systems) {
    for (const c of categoryDefs) {
      const externalId = c.defaults?.[system.name] ?? systemUnit.get(system.name)!.get(c.type)
      if (!externalId) continue
      const unit = unitByExternalId.get(externalId)
      if (!unit || unit.unitTypeId !== unitTypeIdOf(c.type)) throw new Error(`${system.name} default ${externalId} for ${c.name} is not a unit of ${c.type}`)
      defaults.push({
        id: catalogId(`unit_system_category_definition:${system.name}/${c.type}/${c.name}`),
        unitSystemId: system.id,
        unitCategoryId: unitCategoryIdOf(c.type, c.name),
        unitTypeId: unit.unitTypeId,
        unitDefinitionId: unit.id,
      })
    }
  }
  return { types, units, systems, categories, defaults }
}

// SQL for the data migration. Doubles are written as quoted float8 literals in JavaScript's
// shortest round-trip form, which PostgreSQL parses back to the same double.
const text = (s: string | null) => (s === null ? 'null' : `'${s.replaceAll("'", "''")}'`)
const float = (n: number) => {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`)
  return `'${String(n)}'::float8`
}
const uuid = (s: string) => `'${s}'::uuid`
const textArray = (a: string[]) => (a.length === 0 ? `'{}'::text[]` : `array[${a.map(text).join(', ')}]::text[]`)

function insert<T>(table: string, columns: string[], rows: T[], values: (row: T) => string[], chunk = 100): string[] {
  const out: string[] = []
  for (let i = 0; i < rows.length; i += chunk) {
    const body = rows
      .slice(i, i + chunk)
      .map((r) => `  (${values(r).join(', ')})`)
      .join(',\n')
    out.push(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES\n${body};`)
  }
  return out
}

export function renderCatalogSql(catalog: Catalog): string {
  const statements = [
    ...insert('unit_types', ['id', 'name', 'external_id', 'source'], catalog.types, (t) => [uuid(t.id), text(t.name), text(t.externalId), text(t.source)]),
    ...insert(
      'unit_definitions',
      ['id', 'unit_type_id', 'external_id', 'name', 'long_name', 'symbol', 'aliases', 'a', 'b', 'c', 'd', 'scale', 'offset', 'is_base', 'source', 'source_reference'],
      catalog.units,
      (u) => [uuid(u.id), uuid(u.unitTypeId), text(u.externalId), text(u.name), text(u.longName), text(u.symbol), textArray(u.aliases), float(u.a), float(u.b), float(u.c), float(u.d), float(u.scale), float(u.offset), String(u.isBase), text(u.source), text(u.sourceReference)],
    ),
    ...insert('unit_systems', ['id', 'name', 'description', 'source'], catalog.systems, (s) => [uuid(s.id), text(s.name), text(s.description), text(s.source)]),
    ...insert('unit_categories', ['id', 'unit_type_id', 'name', 'source'], catalog.categories, (c) => [uuid(c.id), uuid(c.unitTypeId), text(c.name), text(c.source)]),
    ...insert('unit_system_category_definitions', ['id', 'unit_system_id', 'unit_category_id', 'unit_type_id', 'unit_definition_id'], catalog.defaults, (d) => [
      uuid(d.id),
      uuid(d.unitSystemId),
      uuid(d.unitCategoryId),
      uuid(d.unitTypeId),
      uuid(d.unitDefinitionId),
    ]),
  ]
  const header = [
    '-- The global unit catalog (organization_id null): the Cognite units catalog vendored in src/modules/units/catalog/',
    '-- (Apache-2.0, see src/modules/units/catalog/PROVENANCE.md) plus Stratum additions (source = \'stratum\').',
    '-- Generated by scripts/units-catalog-sql.ts from src/modules/units/catalog/*.json and',
    '-- src/modules/units/units.catalog.ts; do not edit by hand (a test compares it with the generator).',
    `-- ${catalog.types.length} unit types, ${catalog.units.length} units, ${catalog.systems.length} systems, ${catalog.categories.length} categories, ${catalog.defaults.length} system defaults.`,
  ].join('\n')
  return `${header}\n${statements.join('\n--> statement-breakpoint\n')}\n`
}
