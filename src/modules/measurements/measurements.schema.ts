// Measurements: seed 000's MainClass (a value at date_time for type / instance / property,
// optionally of a component) and seed 001's `sensor.reading` events are points of series. A
// series is (instance, property, component or none) and knows its unit and value type; a point is
// (series, ts) with a number or a text value (the seed stores strings), its tag and description,
// and extra fields of a reading. The plan and its measurements: docs/design/measurements.md.
//
// `points` breaks one house rule on purpose: it carries no organization_id (16 bytes a row, +19 %:
// 84 against 100 bytes measured on 1M rows) and no foreign key (a per-row trigger on the hot
// path). A point is only ever reached through its series, which the service resolves within the
// caller's organisation. The migration makes `points` range-partitioned by month on `ts` on both
// engines (no slower on PGlite, measured), with partitions made on demand before a write.
import { sql } from 'drizzle-orm'
import { bigint, boolean, check, doublePrecision, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { idColumn, statusColumns, tenantColumn, timestamps } from '../../core/behaviours/columns.ts'
import { entities, objectTypeProperties } from '../assets/assets.schema.ts'
import { components } from '../sources/sources.schema.ts'
import { unitDefinitions } from '../units/units.schema.ts'

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const VALUE_TYPES = ['number', 'text'] as const
export type ValueType = (typeof VALUE_TYPES)[number]

/**
 * A series: the seed's (object_type, object_instance, object_type_property, component) tuple
 * once, instead of on every value. The database enforces the seed's rules: the instance is of the
 * type and the property belongs to the type (composite foreign keys). `key` is the compact id
 * points carry; `id` is the public one.
 */
export const series = pgTable(
  'series',
  {
    ...idColumn(),
    key: bigint('key', { mode: 'number' }).generatedAlwaysAsIdentity(),
    ...tenantColumn(),
    objectTypeId: uuid('object_type_id').notNull(),
    entityId: uuid('entity_id').notNull(),
    propertyId: uuid('property_id').notNull(),
    /** Seed 000 DataSourceComponent: the component (and so the data source) the values came from. */
    componentId: uuid('component_id'),
    valueType: text('value_type').$type<ValueType>().notNull(),
    /** The unit points are stored in: the property's (base) unit; null for text or unitless series. */
    unitId: uuid('unit_id'),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    unique('series_key_key').on(t.key),
    unique('series_org_id_key').on(t.organizationId, t.id),
    unique('series_natural_key').on(t.organizationId, t.entityId, t.propertyId, t.componentId).nullsNotDistinct(),
    foreignKey({ name: 'series_entity_fk', columns: [t.organizationId, t.entityId, t.objectTypeId], foreignColumns: [entities.organizationId, entities.id, entities.objectTypeId] }).onDelete('restrict'),
    foreignKey({ name: 'series_property_fk', columns: [t.organizationId, t.objectTypeId, t.propertyId], foreignColumns: [objectTypeProperties.organizationId, objectTypeProperties.objectTypeId, objectTypeProperties.id] }).onDelete('restrict'),
    foreignKey({ name: 'series_unit_fk', columns: [t.unitId], foreignColumns: [unitDefinitions.id] }).onDelete('restrict'),
    foreignKey({ name: 'series_component_fk', columns: [t.organizationId, t.componentId], foreignColumns: [components.organizationId, components.id] }).onDelete('restrict'),
    check('series_value_type_check', sql`${t.valueType} in ('number', 'text')`),
    // The seed's access paths: by (type, property), by component, and by instance.
    index('series_type_property_idx').on(t.organizationId, t.objectTypeId, t.propertyId),
    index('series_component_idx').on(t.organizationId, t.componentId).where(sql`${t.componentId} is not null`),
    index('series_entity_idx').on(t.organizationId, t.entityId, t.propertyId),
    index('series_created_idx').on(t.organizationId, t.createdAt, t.id),
  ],
)

/** Points: at most 8 columns, so the null bitmap fits in the tuple header (nulls cost nothing). */
export const points = pgTable(
  'points',
  {
    seriesId: bigint('series_id', { mode: 'number' }).notNull(),
    ts: tstz('ts').notNull(),
    value: doublePrecision('value'),
    valueText: text('value_text'),
    tag: text('tag'),
    description: text('description'),
    /** Fields of a seed-001 reading beyond sensorType/value/unit/timestamp (quality, batteryLevel...). */
    extra: jsonb('extra').$type<Record<string, unknown>>(),
  },
  (t) => [primaryKey({ name: 'points_pkey', columns: [t.seriesId, t.ts] }), check('points_one_value_check', sql`num_nonnulls(${t.value}, ${t.valueText}) = 1`)],
)

export type SeriesRow = typeof series.$inferSelect

/**
 * Threshold rules (seed 001 device `config.alertThresholds`): on one series, or on every series
 * of a property of a type. Bounds are in the property's unit (converted when the rule is saved);
 * `for_seconds` is how long a value must stay outside before the alert triggers, `hysteresis`
 * how far back inside it must come before it resolves.
 */
export const alertRules = pgTable(
  'alert_rules',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    seriesId: uuid('series_id'),
    objectTypeId: uuid('object_type_id'),
    propertyId: uuid('property_id'),
    min: doublePrecision('min'),
    max: doublePrecision('max'),
    forSeconds: integer('for_seconds').notNull().default(0),
    hysteresis: doublePrecision('hysteresis').notNull().default(0),
    severity: text('severity').notNull().default('warning'),
    isActive: boolean('is_active').notNull().default(true),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    foreignKey({ name: 'alert_rules_series_fk', columns: [t.organizationId, t.seriesId], foreignColumns: [series.organizationId, series.id] }).onDelete('cascade'),
    check('alert_rules_target_check', sql`(${t.seriesId} is not null) <> (${t.objectTypeId} is not null and ${t.propertyId} is not null)`),
    check('alert_rules_bounds_check', sql`num_nonnulls(${t.min}, ${t.max}) >= 1 and (${t.min} is null or ${t.max} is null or ${t.min} < ${t.max})`),
    check('alert_rules_for_check', sql`${t.forSeconds} >= 0 and ${t.hysteresis} >= 0`),
    check('alert_rules_severity_check', sql`${t.severity} in ('info', 'warning', 'critical')`),
    index('alert_rules_series_idx').on(t.organizationId, t.seriesId),
    index('alert_rules_type_idx').on(t.organizationId, t.objectTypeId, t.propertyId),
  ],
)

/** Where each (rule, series) stands: one row each, so an alert cannot be raised twice while active. */
export const alertStates = pgTable(
  'alert_states',
  {
    ...tenantColumn(),
    ruleId: uuid('rule_id').notNull(),
    seriesId: uuid('series_id').notNull(),
    state: text('state').$type<'ok' | 'pending' | 'active'>().notNull(),
    since: tstz('since').notNull(),
    /** The newest point time evaluated: older late points do not move the state back. */
    evaluatedTs: tstz('evaluated_ts').notNull(),
    alertId: uuid('alert_id'),
  },
  (t) => [
    primaryKey({ name: 'alert_states_pkey', columns: [t.ruleId, t.seriesId] }),
    foreignKey({ name: 'alert_states_rule_fk', columns: [t.ruleId], foreignColumns: [alertRules.id] }).onDelete('cascade'),
    check('alert_states_state_check', sql`${t.state} in ('ok', 'pending', 'active')`),
  ],
)

/** Alerts raised (seed 001 `alert.triggered`); active while resolved_at is null. */
export const alerts = pgTable(
  'alerts',
  {
    ...idColumn(),
    ...tenantColumn(),
    ruleId: uuid('rule_id').notNull(),
    seriesId: uuid('series_id').notNull(),
    severity: text('severity').notNull(),
    triggeredAt: tstz('triggered_at').notNull(),
    triggerValue: doublePrecision('trigger_value').notNull(),
    resolvedAt: tstz('resolved_at'),
    resolveValue: doublePrecision('resolve_value'),
  },
  (t) => [
    foreignKey({ name: 'alerts_rule_fk', columns: [t.ruleId], foreignColumns: [alertRules.id] }).onDelete('cascade'),
    uniqueIndex('alerts_one_active_key').on(t.ruleId, t.seriesId).where(sql`${t.resolvedAt} is null`),
    index('alerts_org_idx').on(t.organizationId, t.triggeredAt, t.id),
  ],
)

export type AlertRuleRow = typeof alertRules.$inferSelect

export const COMMAND_STATUSES = ['queued', 'delivered', 'acknowledged', 'failed', 'expired', 'cancelled'] as const
export type CommandStatus = (typeof COMMAND_STATUSES)[number]

/**
 * Commands for a device (seed 001 `command.sent`): queued by a user, fetched by the device with
 * its key (delivered), then acknowledged or failed by it; a command not fetched before
 * `expires_at` expires, and a queued or delivered one can be cancelled.
 */
export const deviceCommands = pgTable(
  'device_commands',
  {
    ...idColumn(),
    ...tenantColumn(),
    deviceId: uuid('device_id').notNull(),
    command: text('command').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    ...statusColumns<CommandStatus>('queued'),
    result: jsonb('result'),
    expiresAt: tstz('expires_at'),
    deliveredAt: tstz('delivered_at'),
    finishedAt: tstz('finished_at'),
    deliveries: integer('deliveries').notNull().default(0),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    foreignKey({ name: 'device_commands_device_fk', columns: [t.organizationId, t.deviceId], foreignColumns: [entities.organizationId, entities.id] }).onDelete('cascade'),
    check('device_commands_status_check', sql`${t.status} in ('queued', 'delivered', 'acknowledged', 'failed', 'expired', 'cancelled')`),
    index('device_commands_pending_idx').on(t.organizationId, t.deviceId, t.createdAt).where(sql`${t.status} in ('queued', 'delivered')`),
    index('device_commands_device_idx').on(t.organizationId, t.deviceId, t.createdAt, t.id),
  ],
)

export type DeviceCommandRow = typeof deviceCommands.$inferSelect

/**
 * How long raw points are kept: for every series of a type, or for one series (which wins).
 * Applied daily by the `measurements.retention` job of the organisation.
 */
export const retentionPolicies = pgTable(
  'retention_policies',
  {
    ...idColumn(),
    ...tenantColumn(),
    objectTypeId: uuid('object_type_id'),
    seriesId: uuid('series_id'),
    rawDays: integer('raw_days').notNull(),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    foreignKey({ name: 'retention_policies_series_fk', columns: [t.organizationId, t.seriesId], foreignColumns: [series.organizationId, series.id] }).onDelete('cascade'),
    check('retention_policies_target_check', sql`num_nonnulls(${t.objectTypeId}, ${t.seriesId}) = 1`),
    check('retention_policies_days_check', sql`${t.rawDays} >= 1`),
    uniqueIndex('retention_policies_type_key').on(t.organizationId, t.objectTypeId).where(sql`${t.objectTypeId} is not null`),
    uniqueIndex('retention_policies_series_key').on(t.organizationId, t.seriesId).where(sql`${t.seriesId} is not null`),
  ],
)

export type RetentionPolicyRow = typeof retentionPolicies.$inferSelect

/**
 * Stale rollups: a queue of (series, first UTC hour, last UTC hour) ranges, one row per series
 * per write (ingest, overwrite, delete by range), in the writing transaction. Append-only, so a
 * writer never waits and the maintainer only ever takes committed rows: a range committed after
 * it started a round is simply taken in the next. Queries read the hours of queued ranges from
 * raw points, so answers never lag. (One row per series and hour cost 20-30 % of ingest: a
 * request backfilling 25 hours of 100 series wrote 2,500 of them.)
 */
export const rollupDirty = pgTable(
  'rollup_dirty',
  {
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
    seriesId: bigint('series_id', { mode: 'number' }).notNull(),
    firstHour: tstz('first_hour').notNull(),
    lastHour: tstz('last_hour').notNull(),
  },
  (t) => [index('rollup_dirty_series_idx').on(t.seriesId, t.firstHour), check('rollup_dirty_range_check', sql`${t.firstHour} <= ${t.lastHour}`)],
)

/**
 * One pre-aggregated bucket of a series, in UTC: count, sum, min, max, the sum of squared
 * deviations from the bucket's mean (m2: combines exactly and without the cancellation of a sum
 * of squares), and the first and last point (number or text). Text series fill n, first and last.
 */
const rollupTable = <N extends string>(name: N) =>
  pgTable(
    name,
    {
      seriesId: bigint('series_id', { mode: 'number' }).notNull(),
      bucket: tstz('bucket').notNull(),
      n: integer('n').notNull(),
      sum: doublePrecision('sum'),
      min: doublePrecision('min'),
      max: doublePrecision('max'),
      m2: doublePrecision('m2'),
      firstTs: tstz('first_ts').notNull(),
      firstValue: doublePrecision('first_value'),
      firstText: text('first_text'),
      lastTs: tstz('last_ts').notNull(),
      lastValue: doublePrecision('last_value'),
      lastText: text('last_text'),
    },
    (t) => [primaryKey({ name: `${name}_pkey`, columns: [t.seriesId, t.bucket] })],
  )

/** Minute buckets, kept only for hours with more than 60 points (else raw is as small). */
export const rollups1m = rollupTable('rollups_1m')
export const rollups1h = rollupTable('rollups_1h')
export const rollups1d = rollupTable('rollups_1d')
