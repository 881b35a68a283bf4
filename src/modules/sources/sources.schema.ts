// Data sources, their components and scenarios (seed 000 DataSource, DataSourceComponent,
// ScenarioClass, ScenarioLog, ScenarioComponentLink). The seed's rules are constraints here:
// a link is unique per (scenario, component), and a scenario links at most one component of a
// data source: the link carries the component's data source (checked by a composite foreign key
// against the component) under a unique (scenario, data source) index, so two concurrent links
// cannot both pass.
import { sql } from 'drizzle-orm'
import { boolean, check, foreignKey, index, integer, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { auditColumns, idColumn, statusColumns, tenantColumn, timestamps } from '../../core/behaviours/columns.ts'
import { files } from '../../core/files/files.schema.ts'

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const DATA_SOURCE_TYPES = ['INPUT', 'OUTPUT', 'PROCESS'] as const
export type DataSourceType = (typeof DATA_SOURCE_TYPES)[number]

export const dataSources = pgTable(
  'data_sources',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    type: text('type').$type<DataSourceType>().notNull(),
    description: text('description'),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [
    unique('data_sources_org_id_key').on(t.organizationId, t.id),
    uniqueIndex('data_sources_name_key').on(t.organizationId, sql`lower(${t.name})`),
    check('data_sources_type_check', sql`${t.type} in ('INPUT', 'OUTPUT', 'PROCESS')`),
    index('data_sources_created_idx').on(t.organizationId, t.createdAt, t.id),
  ],
)

/** A component of a data source: a vendor's delivery, a model run... with an optional file. */
export const components = pgTable(
  'components',
  {
    ...idColumn(),
    ...tenantColumn(),
    dataSourceId: uuid('data_source_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    /** The current file; earlier ones are in component_files. */
    fileId: uuid('file_id'),
    isActive: boolean('is_active').notNull().default(true),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [
    unique('components_org_id_key').on(t.organizationId, t.id),
    unique('components_org_id_source_key').on(t.organizationId, t.id, t.dataSourceId),
    uniqueIndex('components_name_key').on(t.organizationId, t.dataSourceId, sql`lower(${t.name})`),
    foreignKey({ name: 'components_data_source_fk', columns: [t.organizationId, t.dataSourceId], foreignColumns: [dataSources.organizationId, dataSources.id] }).onDelete('restrict'),
    foreignKey({ name: 'components_file_fk', columns: [t.fileId], foreignColumns: [files.id] }).onDelete('restrict'),
    // The seed orders components by -created_date.
    index('components_created_idx').on(t.organizationId, t.dataSourceId, t.createdAt, t.id),
  ],
)

/** Every file a component has had, newest version highest. */
export const componentFiles = pgTable(
  'component_files',
  {
    ...tenantColumn(),
    componentId: uuid('component_id').notNull(),
    version: integer('version').notNull(),
    fileId: uuid('file_id').notNull(),
    createdBy: text('created_by'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'component_files_pkey', columns: [t.componentId, t.version] }),
    foreignKey({ name: 'component_files_component_fk', columns: [t.organizationId, t.componentId], foreignColumns: [components.organizationId, components.id] }).onDelete('cascade'),
    foreignKey({ name: 'component_files_file_fk', columns: [t.fileId], foreignColumns: [files.id] }).onDelete('restrict'),
  ],
)

export const SCENARIO_STATUSES = ['draft', 'submitted', 'approved', 'rejected', 'running', 'completed', 'failed', 'archived'] as const
export type ScenarioStatus = (typeof SCENARIO_STATUSES)[number]

export const scenarios = pgTable(
  'scenarios',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    description: text('description'),
    ...statusColumns<ScenarioStatus>('draft'),
    /** The period the scenario covers: its data queries are limited to [period_start, period_end). */
    periodStart: tstz('period_start'),
    periodEnd: tstz('period_end'),
    submittedBy: text('submitted_by'),
    submittedAt: tstz('submitted_at'),
    approvedBy: text('approved_by'),
    approvedAt: tstz('approved_at'),
    rejectedBy: text('rejected_by'),
    rejectedAt: tstz('rejected_at'),
    rejectionReason: text('rejection_reason'),
    /** The scenario this one was cloned from. */
    clonedFrom: uuid('cloned_from'),
    /** The user id of the creator (created_by holds the label), for the four-eyes rule. */
    creatorId: text('creator_id'),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [
    unique('scenarios_org_id_key').on(t.organizationId, t.id),
    uniqueIndex('scenarios_name_key').on(t.organizationId, sql`lower(${t.name})`),
    check('scenarios_status_check', sql`${t.status} in ('draft', 'submitted', 'approved', 'rejected', 'running', 'completed', 'failed', 'archived')`),
    check('scenarios_period_check', sql`${t.periodStart} is null or ${t.periodEnd} is null or ${t.periodStart} < ${t.periodEnd}`),
    index('scenarios_created_idx').on(t.organizationId, t.createdAt, t.id),
    index('scenarios_status_idx').on(t.organizationId, t.status),
  ],
)

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const scenarioLogs = pgTable(
  'scenario_logs',
  {
    ...idColumn(),
    ...tenantColumn(),
    scenarioId: uuid('scenario_id').notNull(),
    ts: tstz('ts').notNull().defaultNow(),
    level: text('level').$type<LogLevel>().notNull().default('info'),
    message: text('message').notNull(),
    progress: integer('progress'),
    /** Who wrote it: a user, an API key, a job or a workflow run (actor label). */
    createdBy: text('created_by'),
    jobId: uuid('job_id'),
  },
  (t) => [
    foreignKey({ name: 'scenario_logs_scenario_fk', columns: [t.organizationId, t.scenarioId], foreignColumns: [scenarios.organizationId, scenarios.id] }).onDelete('cascade'),
    check('scenario_logs_level_check', sql`${t.level} in ('debug', 'info', 'warning', 'error')`),
    check('scenario_logs_progress_check', sql`${t.progress} is null or (${t.progress} between 0 and 100)`),
    // Newest first, as the seed orders them.
    index('scenario_logs_scenario_idx').on(t.organizationId, t.scenarioId, t.ts, t.id),
  ],
)

/** Seed 000 ScenarioComponentLink, with the component's data source carried and checked. */
export const scenarioComponents = pgTable(
  'scenario_components',
  {
    ...tenantColumn(),
    scenarioId: uuid('scenario_id').notNull(),
    componentId: uuid('component_id').notNull(),
    dataSourceId: uuid('data_source_id').notNull(),
    createdBy: text('created_by'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'scenario_components_pkey', columns: [t.scenarioId, t.componentId] }),
    unique('scenario_components_one_per_source_key').on(t.scenarioId, t.dataSourceId),
    foreignKey({ name: 'scenario_components_scenario_fk', columns: [t.organizationId, t.scenarioId], foreignColumns: [scenarios.organizationId, scenarios.id] }).onDelete('cascade'),
    foreignKey({ name: 'scenario_components_component_fk', columns: [t.organizationId, t.componentId, t.dataSourceId], foreignColumns: [components.organizationId, components.id, components.dataSourceId] }).onDelete('restrict'),
    index('scenario_components_component_idx').on(t.organizationId, t.componentId),
  ],
)

export type DataSourceRow = typeof dataSources.$inferSelect
export type ComponentRow = typeof components.$inferSelect
export type ScenarioRow = typeof scenarios.$inferSelect
export type ScenarioLogRow = typeof scenarioLogs.$inferSelect
