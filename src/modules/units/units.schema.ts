// Units of measure: seed 000's UnitSystem, UnitType, UnitDefinition, UnitCategory and
// UnitSystemCategoryDefinition. Rows with `organization_id` null are the global catalog (shipped
// by a data migration, read-only); rows with it set are an organisation's own additions. Every
// unique rule therefore keys on coalesce(organization_id, nil uuid), so a global name and an
// organisation's name live side by side while two global (or two same-organisation) rows clash.
// docs/data-model.md maps each table and states the conversion formula.
import { sql, type SQL } from 'drizzle-orm'
import { boolean, check, doublePrecision, foreignKey, index, pgTable, text, unique, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core'
import { idColumn, timestamps } from '../../core/behaviours/columns.ts'

/** The organisation a row belongs to; null: the global catalog. */
const ownerColumn = () => ({ organizationId: uuid('organization_id') })

/** The key unique indexes use for the owner: global rows all share the nil uuid. */
const owner = (column: AnyPgColumn): SQL => sql`coalesce(${column}, '00000000-0000-0000-0000-000000000000'::uuid)`

const finite = (column: AnyPgColumn): SQL => sql`abs(${column}) < 'Infinity'::float8` // false for NaN too

export const unitSystems = pgTable(
  'unit_systems',
  {
    ...idColumn(),
    ...ownerColumn(),
    name: text('name').notNull(),
    description: text('description'),
    /** Where the row came from: `cognite`, `stratum` (our additions to the catalog), `user`. */
    source: text('source').notNull().default('user'),
    ...timestamps(),
  },
  (t) => [uniqueIndex('unit_systems_name_key').on(owner(t.organizationId), t.name), index('unit_systems_org_idx').on(t.organizationId)],
)

/** The quantity a unit measures (Pressure, Temperature, Volume Flow Rate...). */
export const unitTypes = pgTable(
  'unit_types',
  {
    ...idColumn(),
    ...ownerColumn(),
    name: text('name').notNull(),
    /** A stable key (`pressure`), the prefix of its units' external ids. */
    externalId: text('external_id'),
    description: text('description'),
    source: text('source').notNull().default('user'),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('unit_types_name_key').on(owner(t.organizationId), t.name),
    uniqueIndex('unit_types_external_id_key')
      .on(owner(t.organizationId), t.externalId)
      .where(sql`${t.externalId} is not null`),
    index('unit_types_org_idx').on(t.organizationId),
  ],
)

/**
 * A unit. value_in_base = (a*x + b) / (c*x + d), the Energistics form, which covers linear,
 * affine (temperature, gauge pressure) and reciprocal units. Units defined in scale/offset form
 * (the Cognite catalog: value_in_base = (x + offset) * scale) also keep those two numbers, and
 * conversion uses them, because a = scale, b = offset*scale rounds differently from the
 * catalog's own formula in the last bit (98.6 degF: 310.15 vs 310.15000000000003).
 */
export const unitDefinitions = pgTable(
  'unit_definitions',
  {
    ...idColumn(),
    ...ownerColumn(),
    unitTypeId: uuid('unit_type_id')
      .notNull()
      .references(() => unitTypes.id, { onDelete: 'restrict' }),
    /** `pressure:psi`: how clients and catalogs name a unit; unique per owner. */
    externalId: text('external_id'),
    name: text('name').notNull(),
    longName: text('long_name'),
    symbol: text('symbol').notNull(),
    aliases: text('aliases').array().notNull().default(sql`'{}'::text[]`),
    a: doublePrecision('a').notNull(),
    b: doublePrecision('b').notNull(),
    c: doublePrecision('c').notNull(),
    d: doublePrecision('d').notNull(),
    scale: doublePrecision('scale'),
    offset: doublePrecision('offset'),
    isBase: boolean('is_base').notNull().default(false),
    source: text('source').notNull().default('user'),
    sourceReference: text('source_reference'),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('unit_definitions_name_key').on(owner(t.organizationId), t.unitTypeId, t.name),
    uniqueIndex('unit_definitions_external_id_key')
      .on(owner(t.organizationId), t.externalId)
      .where(sql`${t.externalId} is not null`),
    // Seed 000: exactly one base unit per type.
    uniqueIndex('unit_definitions_one_base_per_type').on(t.unitTypeId).where(sql`${t.isBase}`),
    // The target of the composite foreign keys that keep a system default within its category's type.
    unique('unit_definitions_id_type_key').on(t.id, t.unitTypeId),
    index('unit_definitions_type_idx').on(t.unitTypeId),
    index('unit_definitions_symbol_idx').on(t.symbol),
    index('unit_definitions_aliases_idx').using('gin', t.aliases),
    index('unit_definitions_org_idx').on(t.organizationId),
    check('unit_definitions_finite', sql`${finite(t.a)} and ${finite(t.b)} and ${finite(t.c)} and ${finite(t.d)}`),
    // Invertible: otherwise every value maps to one base value and nothing converts back.
    check('unit_definitions_invertible', sql`${t.a} * ${t.d} - ${t.b} * ${t.c} <> 0`),
    check(
      'unit_definitions_scale_offset',
      sql`(${t.scale} is null and ${t.offset} is null) or (${finite(t.scale)} and ${finite(t.offset)} and ${t.a} = ${t.scale} and ${t.b} = ${t.offset} * ${t.scale} and ${t.c} = 0 and ${t.d} = 1)`,
    ),
    // The base unit is the one every other unit of its type is defined against.
    check('unit_definitions_base_is_identity', sql`not ${t.isBase} or (${t.a} = 1 and ${t.b} = 0 and ${t.c} = 0 and ${t.d} = 1)`),
  ],
)

/** Groups properties under a type (Tubing Head Pressure, Casing Pressure under Pressure). */
export const unitCategories = pgTable(
  'unit_categories',
  {
    ...idColumn(),
    ...ownerColumn(),
    unitTypeId: uuid('unit_type_id')
      .notNull()
      .references(() => unitTypes.id, { onDelete: 'restrict' }),
    name: text('name').notNull(),
    description: text('description'),
    source: text('source').notNull().default('user'),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('unit_categories_name_key').on(owner(t.organizationId), t.unitTypeId, t.name),
    unique('unit_categories_id_type_key').on(t.id, t.unitTypeId),
    index('unit_categories_type_idx').on(t.unitTypeId),
    index('unit_categories_org_idx').on(t.organizationId),
  ],
)

/**
 * The default unit of a category in a system. `unit_type_id` is carried so that two composite
 * foreign keys make the database refuse a unit of another type than the category's.
 */
export const unitSystemCategoryDefinitions = pgTable(
  'unit_system_category_definitions',
  {
    ...idColumn(),
    ...ownerColumn(),
    unitSystemId: uuid('unit_system_id')
      .notNull()
      .references(() => unitSystems.id, { onDelete: 'cascade' }),
    unitCategoryId: uuid('unit_category_id').notNull(),
    unitTypeId: uuid('unit_type_id').notNull(),
    unitDefinitionId: uuid('unit_definition_id').notNull(),
    ...timestamps(),
  },
  (t) => [
    // One default per system and category (per owner): stricter than the seed's unique triple,
    // which would allow two defaults and make "the default" ambiguous.
    uniqueIndex('unit_system_category_definitions_key').on(owner(t.organizationId), t.unitSystemId, t.unitCategoryId),
    foreignKey({ name: 'unit_system_category_definitions_category_fk', columns: [t.unitCategoryId, t.unitTypeId], foreignColumns: [unitCategories.id, unitCategories.unitTypeId] }).onDelete('cascade'),
    foreignKey({ name: 'unit_system_category_definitions_unit_fk', columns: [t.unitDefinitionId, t.unitTypeId], foreignColumns: [unitDefinitions.id, unitDefinitions.unitTypeId] }).onDelete('restrict'),
    index('unit_system_category_definitions_unit_idx').on(t.unitDefinitionId),
    index('unit_system_category_definitions_category_idx').on(t.unitCategoryId),
  ],
)

export type UnitSystemRow = typeof unitSystems.$inferSelect
export type UnitTypeRow = typeof unitTypes.$inferSelect
export type UnitDefinitionRow = typeof unitDefinitions.$inferSelect
export type UnitCategoryRow = typeof unitCategories.$inferSelect

/**
 * A preferred unit system: the organisation's (user_id null) or one member's within it. One row
 * per (organisation, user), the organisation-wide row keyed by the nil uuid. No foreign keys to
 * identity's tables (modules own their tables); deleting a system drops the preferences for it,
 * and readers then fall back to the next preference.
 */
export const unitPreferences = pgTable(
  'unit_preferences',
  {
    ...idColumn(),
    organizationId: uuid('organization_id').notNull(),
    userId: uuid('user_id'),
    unitSystemId: uuid('unit_system_id')
      .notNull()
      .references(() => unitSystems.id, { onDelete: 'cascade' }),
    ...timestamps(),
  },
  (t) => [uniqueIndex('unit_preferences_owner_key').on(t.organizationId, owner(t.userId)), index('unit_preferences_system_idx').on(t.unitSystemId)],
)

export type UnitPreferenceRow = typeof unitPreferences.$inferSelect
