// Assets: seed 000's ObjectType / ObjectTypeProperty / ObjectInstance / GapNetworkData and seed
// 001's entity types, `schemas`, `entities` and `relationships`, as one model. An object type
// (seed 001 entity_type) has property definitions; its static properties compile to a versioned
// JSON Schema; an entity (seed 000 ObjectInstance) is validated against its type's current
// schema. Relationships form a temporal graph between entities; networks hold a well's topology.
//
// Every table carries organization_id and keys its foreign keys on (organization_id, id), so a
// row can never point into another organisation (and the tables shard by organisation).
// docs/data-model.md maps each table to its seed entity.
import { sql } from 'drizzle-orm'
import { boolean, check, doublePrecision, foreignKey, index, integer, jsonb, numeric, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { idColumn, tenantColumn, timestamps } from '../../core/behaviours/columns.ts'
import { unitCategories, unitDefinitions } from '../units/units.schema.ts'

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const DATA_TYPES = ['number', 'integer', 'string', 'boolean', 'enum', 'timestamp', 'json'] as const
export type DataType = (typeof DATA_TYPES)[number]

/**
 * Seed 000 ObjectType = seed 001 entity_type. Dotted names form families: `device.esp32` is in
 * the `device` family, and a filter on `device.*` finds both.
 */
export const objectTypes = pgTable(
  'object_types',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    description: text('description'),
    /** Which module keeps the type (`identity` for the user and organization mirrors); null: the organisation's own. */
    managedBy: text('managed_by'),
    /** A JSON Schema the property definitions are merged over (nested structures); null: properties only. */
    rawSchema: jsonb('raw_schema').$type<Record<string, unknown>>(),
    /** The version of the current schema (0 until the first one exists). */
    schemaVersion: integer('schema_version').notNull().default(0),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    unique('object_types_org_id_key').on(t.organizationId, t.id),
    uniqueIndex('object_types_name_key').on(t.organizationId, sql`lower(${t.name})`),
    check('object_types_name_check', sql`${t.name} ~ '^[A-Za-z0-9][A-Za-z0-9_ -]*(\\.[A-Za-z0-9][A-Za-z0-9_ -]*)*$'`),
  ],
)

/**
 * Seed 000 ObjectTypeProperty. A unit category sets `unit_id` to the base unit of the
 * category's type (as the seed's computed `unit` does); `display_unit_id` is how clients see it.
 * Static properties compile into the type's JSON Schema; time-varying ones are series
 * (measurements) and are not part of an entity's `properties`.
 */
export const objectTypeProperties = pgTable(
  'object_type_properties',
  {
    ...idColumn(),
    ...tenantColumn(),
    objectTypeId: uuid('object_type_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    dataType: text('data_type').$type<DataType>().notNull(),
    timeVarying: boolean('time_varying').notNull().default(false),
    unitCategoryId: uuid('unit_category_id'),
    unitId: uuid('unit_id'),
    displayUnitId: uuid('display_unit_id'),
    /** The seed's external tag (an OpenServer address), kept by the seed's name. */
    openserver: text('openserver'),
    required: boolean('required').notNull().default(false),
    /** A range index on the property's numeric value serves `properties.x[gte]=` filters (built by the assets.index_property job). */
    indexed: boolean('indexed').notNull().default(false),
    defaultValue: jsonb('default_value'),
    enumValues: jsonb('enum_values').$type<string[]>(),
    minimum: doublePrecision('minimum'),
    maximum: doublePrecision('maximum'),
    position: integer('position').notNull().default(0),
    ...timestamps(),
  },
  (t) => [
    // For measurements' series: "the property belongs to the type" as a foreign key.
    unique('object_type_properties_org_type_id_key').on(t.organizationId, t.objectTypeId, t.id),
    foreignKey({ name: 'object_type_properties_type_fk', columns: [t.organizationId, t.objectTypeId], foreignColumns: [objectTypes.organizationId, objectTypes.id] }).onDelete('cascade'),
    uniqueIndex('object_type_properties_name_key').on(t.objectTypeId, sql`lower(${t.name})`),
    check('object_type_properties_data_type_check', sql`${t.dataType} in ('number', 'integer', 'string', 'boolean', 'enum', 'timestamp', 'json')`),
    check('object_type_properties_bounds_check', sql`${t.minimum} is null or ${t.maximum} is null or ${t.minimum} <= ${t.maximum}`),
    // The unit catalog is a reference table: a category or unit in use cannot be deleted.
    foreignKey({ name: 'object_type_properties_category_fk', columns: [t.unitCategoryId], foreignColumns: [unitCategories.id] }).onDelete('restrict'),
    foreignKey({ name: 'object_type_properties_unit_fk', columns: [t.unitId], foreignColumns: [unitDefinitions.id] }).onDelete('restrict'),
    foreignKey({ name: 'object_type_properties_display_unit_fk', columns: [t.displayUnitId], foreignColumns: [unitDefinitions.id] }).onDelete('restrict'),
    check('object_type_properties_indexed_check', sql`not ${t.indexed} or (${t.dataType} in ('number', 'integer') and not ${t.timeVarying})`),
    check('object_type_properties_unit_check', sql`${t.unitCategoryId} is null or ${t.unitId} is not null`),
  ],
)

/**
 * Seed 001 `schemas`: one row per version of a type's JSON Schema (2020-12). The current version
 * has valid_to null (at most one per type); each change closes the previous one. The seed's
 * text id (`device.esp32.v1`) is `key`.
 */
export const objectTypeSchemas = pgTable(
  'object_type_schemas',
  {
    ...idColumn(),
    ...tenantColumn(),
    objectTypeId: uuid('object_type_id').notNull(),
    key: text('key').notNull(),
    version: integer('version').notNull(),
    definition: jsonb('definition').$type<Record<string, unknown>>().notNull(),
    description: text('description'),
    /** `properties`: compiled from the property definitions; `raw`: supplied as JSON Schema. */
    source: text('source').$type<'properties' | 'raw'>().notNull(),
    /** How this version relates to the previous: initial, compatible or breaking. */
    change: text('change').$type<'initial' | 'compatible' | 'breaking'>().notNull(),
    changes: jsonb('changes').$type<{ kind: string; path: string; breaking: boolean; message: string }[]>().notNull().default([]),
    validFrom: tstz('valid_from').notNull().defaultNow(),
    validTo: tstz('valid_to'),
    createdBy: text('created_by'),
  },
  (t) => [
    foreignKey({ name: 'object_type_schemas_type_fk', columns: [t.organizationId, t.objectTypeId], foreignColumns: [objectTypes.organizationId, objectTypes.id] }).onDelete('cascade'),
    unique('object_type_schemas_version_key').on(t.objectTypeId, t.version),
    uniqueIndex('object_type_schemas_current_key').on(t.objectTypeId).where(sql`${t.validTo} is null`),
    check('object_type_schemas_validity_check', sql`${t.validTo} is null or ${t.validTo} >= ${t.validFrom}`),
  ],
)

/**
 * Seed 000 ObjectInstance = seed 001 `entities`. `properties` holds the static properties,
 * validated against the type's schema version `schema_version`. `is_active` false is the
 * seed's soft delete (restorable). A mirror of a user or organisation has `managed_by`
 * `identity` and `external_id` `user:<id>` / `organization:<id>`.
 */
export const entities = pgTable(
  'entities',
  {
    ...idColumn(),
    ...tenantColumn(),
    objectTypeId: uuid('object_type_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status').notNull().default('active'),
    isActive: boolean('is_active').notNull().default(true),
    schemaVersion: integer('schema_version'),
    externalId: text('external_id'),
    managedBy: text('managed_by'),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    unique('entities_org_id_key').on(t.organizationId, t.id),
    // For measurements' series: "the instance is of the type" as a foreign key.
    unique('entities_org_id_type_key').on(t.organizationId, t.id, t.objectTypeId),
    foreignKey({ name: 'entities_type_fk', columns: [t.organizationId, t.objectTypeId], foreignColumns: [objectTypes.organizationId, objectTypes.id] }).onDelete('restrict'),
    uniqueIndex('entities_name_key').on(t.organizationId, t.objectTypeId, sql`lower(${t.name})`),
    uniqueIndex('entities_external_id_key').on(t.organizationId, t.externalId).where(sql`${t.externalId} is not null`),
    // Lists: by type (and family), newest first.
    index('entities_type_idx').on(t.organizationId, t.objectTypeId, t.createdAt, t.id),
    index('entities_created_idx').on(t.organizationId, t.createdAt, t.id),
    // properties.x=v filters (containment); numeric ranges use expression indexes made on demand.
    index('entities_properties_idx').using('gin', sql`${t.properties} jsonb_path_ops`),
    // Full-text search on name and description.
    index('entities_search_idx').using('gin', sql`to_tsvector('simple', ${t.name} || ' ' || coalesce(${t.description}, ''))`),
  ],
)

/**
 * Relationship types: the seed's monitors, belongs_to, owns, manages, participates_in, plus
 * part_of for asset trees. Rows with organization_id null are built in (shipped by the
 * migration); an organisation adds its own. A hierarchical type may not form a cycle.
 */
export const relationshipTypes = pgTable(
  'relationship_types',
  {
    ...idColumn(),
    organizationId: uuid('organization_id'),
    name: text('name').notNull(),
    description: text('description'),
    inverseName: text('inverse_name'),
    hierarchical: boolean('hierarchical').notNull().default(false),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('relationship_types_name_key').on(sql`coalesce(${t.organizationId}, '00000000-0000-0000-0000-000000000000'::uuid)`, t.name),
    check('relationship_types_name_check', sql`${t.name} ~ '^[a-z][a-z0-9_]*$'`),
  ],
)

/**
 * Seed 001 `relationships`: a directed, time-bounded edge. Ending one sets valid_to; rows are
 * never deleted, so the graph can be asked what it looked like at any time. Two rows of the
 * same (from, to, type) may not overlap in time (checked by the service under a lock on the
 * source entity: an exclusion constraint would need btree_gist, which PGlite does not load).
 */
export const relationships = pgTable(
  'relationships',
  {
    ...idColumn(),
    ...tenantColumn(),
    fromEntityId: uuid('from_entity_id').notNull(),
    toEntityId: uuid('to_entity_id').notNull(),
    relationshipType: text('relationship_type').notNull(),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    strength: numeric('strength', { precision: 3, scale: 2 }).notNull().default('1.00'),
    validFrom: tstz('valid_from').notNull().defaultNow(),
    validTo: tstz('valid_to'),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    foreignKey({ name: 'relationships_from_fk', columns: [t.organizationId, t.fromEntityId], foreignColumns: [entities.organizationId, entities.id] }).onDelete('restrict'),
    foreignKey({ name: 'relationships_to_fk', columns: [t.organizationId, t.toEntityId], foreignColumns: [entities.organizationId, entities.id] }).onDelete('restrict'),
    check('relationships_strength_check', sql`${t.strength} >= 0 and ${t.strength} <= 1`),
    check('relationships_validity_check', sql`${t.validTo} is null or ${t.validTo} > ${t.validFrom}`),
    check('relationships_not_self_check', sql`${t.fromEntityId} <> ${t.toEntityId}`),
    index('relationships_from_idx').on(t.organizationId, t.fromEntityId, t.relationshipType, t.validFrom),
    index('relationships_to_idx').on(t.organizationId, t.toEntityId, t.relationshipType, t.validFrom),
  ],
)

/**
 * Seed 000 GapNetworkData: a well's network topology (`paths`, `branches`, `trunks`) with its
 * audit timestamp. The JSON shape is checked against NETWORK_SCHEMA (networks.service.ts).
 */
export const networks = pgTable(
  'networks',
  {
    ...idColumn(),
    ...tenantColumn(),
    wellEntityId: uuid('well_entity_id').notNull(),
    paths: jsonb('paths').$type<unknown[]>().notNull().default([]),
    branches: jsonb('branches').$type<unknown[]>().notNull().default([]),
    trunks: jsonb('trunks').$type<unknown[]>().notNull().default([]),
    auditAt: tstz('audit_at').notNull().defaultNow(),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    foreignKey({ name: 'networks_well_fk', columns: [t.organizationId, t.wellEntityId], foreignColumns: [entities.organizationId, entities.id] }).onDelete('restrict'),
    uniqueIndex('networks_well_key').on(t.organizationId, t.wellEntityId),
    index('networks_created_idx').on(t.organizationId, t.createdAt, t.id),
  ],
)

export type ObjectTypeRow = typeof objectTypes.$inferSelect
export type PropertyRow = typeof objectTypeProperties.$inferSelect
export type SchemaRow = typeof objectTypeSchemas.$inferSelect
export type EntityRow = typeof entities.$inferSelect
export type RelationshipRow = typeof relationships.$inferSelect
export type RelationshipTypeRow = typeof relationshipTypes.$inferSelect
export type NetworkRow = typeof networks.$inferSelect
