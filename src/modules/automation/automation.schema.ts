// The automation engine's tables (seed 003 Automation, Workflow, Execution, StepRun; seed 001
// processes and process_instances; seed 000 WorkflowRun). One engine serves all three: a process
// is an automation with a process_type, a process instance is an execution with a batch id,
// parameters (input) and results (output).
// The seed's rule "one live workflow version per automation" is a partial unique index, so two
// concurrent publishes cannot both win; an execution keeps the version it started on.
import { sql } from 'drizzle-orm'
import { bigint, boolean, check, foreignKey, index, integer, jsonb, pgTable, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { components } from '../sources/sources.schema.ts'
import { auditColumns, idColumn, metadataColumn, slugColumn, statusColumns, tenantColumn, timestamps } from '../../core/behaviours/columns.ts'

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })
type Json = Record<string, unknown>

export const automations = pgTable(
  'automations',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    ...slugColumn(),
    description: text('description'),
    enabled: boolean('enabled').notNull().default(true),
    config: jsonb('config').$type<Json>().notNull().default({}),
    /** Set for a seed-001 process (a recipe, a test procedure...): the kind of process it is. */
    processType: text('process_type'),
    /** Executions of this automation running at once; null: no limit. */
    maxConcurrency: integer('max_concurrency'),
    /** Executions running at once per concurrency key (a device, a well); null: no limit. */
    maxConcurrencyPerKey: integer('max_concurrency_per_key'),
    /** Finished executions are pruned after this many days / beyond this many (newest kept). */
    retentionDays: integer('retention_days'),
    retentionCount: integer('retention_count'),
    /** A seed-000 notebook workflow belongs to one data-source component (one-to-one). */
    componentId: uuid('component_id'),
    /** The notebook's exports in the file store (seed 000 Workflow code_file and ipynb_file), from the live version. */
    codeFileId: uuid('code_file_id'),
    ipynbFileId: uuid('ipynb_file_id'),
    ...metadataColumn(),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [
    unique('automations_org_id_key').on(t.organizationId, t.id),
    uniqueIndex('automations_slug_key').on(t.organizationId, t.slug),
    check('automations_limits_check', sql`coalesce(${t.maxConcurrency}, 1) > 0 and coalesce(${t.maxConcurrencyPerKey}, 1) > 0 and coalesce(${t.retentionDays}, 1) > 0 and coalesce(${t.retentionCount}, 1) > 0`),
    index('automations_created_idx').on(t.organizationId, t.createdAt, t.id),
    uniqueIndex('automations_component_key').on(t.componentId).where(sql`${t.componentId} is not null`),
    foreignKey({ name: 'automations_component_fk', columns: [t.organizationId, t.componentId], foreignColumns: [components.organizationId, components.id] }),
  ],
)

/** A version of an automation's workflow graph; `plan` is what compile() made of it. */
export const workflowVersions = pgTable(
  'workflow_versions',
  {
    ...idColumn(),
    ...tenantColumn(),
    automationId: uuid('automation_id').notNull(),
    version: integer('version').notNull(),
    graph: jsonb('graph').$type<Json>().notNull(),
    plan: jsonb('plan').$type<Json>().notNull(),
    isLive: boolean('is_live').notNull().default(false),
    note: text('note'),
    publishedAt: tstz('published_at'),
    publishedBy: text('published_by'),
    createdBy: text('created_by'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('workflow_versions_org_id_key').on(t.organizationId, t.id),
    unique('workflow_versions_version_key').on(t.automationId, t.version),
    // At most one live version per automation, whatever runs concurrently.
    uniqueIndex('workflow_versions_one_live_key').on(t.automationId).where(sql`${t.isLive}`),
    foreignKey({ name: 'workflow_versions_automation_fk', columns: [t.organizationId, t.automationId], foreignColumns: [automations.organizationId, automations.id] }).onDelete('cascade'),
  ],
)

export const TRIGGER_TYPES = ['manual', 'cron', 'event', 'webhook'] as const
export type TriggerType = (typeof TRIGGER_TYPES)[number]

/** What starts an automation (seed 003 Trigger; a seed-000 WorkflowScheduler is a cron trigger). */
export const triggers = pgTable(
  'triggers',
  {
    ...idColumn(),
    ...tenantColumn(),
    automationId: uuid('automation_id').notNull(),
    type: text('type').$type<TriggerType>().notNull(),
    name: text('name'),
    enabled: boolean('enabled').notNull().default(true),
    config: jsonb('config').$type<Json>().notNull().default({}),
    /** Event triggers: conditions on the event (dotted path -> value, all must hold). */
    filters: jsonb('filters').$type<Json>().notNull().default({}),
    /** Webhook triggers: the URL's unguessable part, and the Standard Webhooks signing secret (when set). */
    webhookToken: text('webhook_token'),
    secret: text('secret'),
    /** Cron triggers: the next due time (UTC) and the last fire. */
    nextRunAt: tstz('next_run_at'),
    lastRunAt: tstz('last_run_at'),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [
    unique('triggers_org_id_key').on(t.organizationId, t.id),
    uniqueIndex('triggers_webhook_token_key').on(t.webhookToken),
    foreignKey({ name: 'triggers_automation_fk', columns: [t.organizationId, t.automationId], foreignColumns: [automations.organizationId, automations.id] }).onDelete('cascade'),
    check('triggers_type_check', sql`${t.type} in ('manual', 'cron', 'event', 'webhook')`),
    index('triggers_automation_idx').on(t.organizationId, t.automationId, t.createdAt, t.id),
    index('triggers_org_created_idx').on(t.organizationId, t.createdAt, t.id),
    index('triggers_due_idx').on(t.nextRunAt).where(sql`${t.type} = 'cron' and ${t.enabled}`),
  ],
)

export const SCHEDULE_LOG_STATUSES = ['fired', 'skipped', 'error'] as const
export type ScheduleLogStatus = (typeof SCHEDULE_LOG_STATUSES)[number]

/** Every fire, skip and error of a cron trigger (seed 000 WorkflowSchedulerLog). */
export const scheduleLogs = pgTable(
  'schedule_logs',
  {
    ...idColumn(),
    ...tenantColumn(),
    triggerId: uuid('trigger_id').notNull(),
    ts: tstz('ts').notNull().defaultNow(),
    /** The time the schedule said (the fire may be later: the delay is ts - scheduled_for). */
    scheduledFor: tstz('scheduled_for').notNull(),
    status: text('status').$type<ScheduleLogStatus>().notNull(),
    message: text('message').notNull(),
    executionId: uuid('execution_id'),
  },
  (t) => [
    foreignKey({ name: 'schedule_logs_trigger_fk', columns: [t.organizationId, t.triggerId], foreignColumns: [triggers.organizationId, triggers.id] }).onDelete('cascade'),
    check('schedule_logs_status_check', sql`${t.status} in ('fired', 'skipped', 'error')`),
    index('schedule_logs_trigger_idx').on(t.organizationId, t.triggerId, t.ts, t.id),
  ],
)

export const EXECUTION_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'] as const
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number]
export const FINISHED: readonly ExecutionStatus[] = ['succeeded', 'failed', 'cancelled']

export const executions = pgTable(
  'executions',
  {
    ...idColumn(),
    ...tenantColumn(),
    automationId: uuid('automation_id').notNull(),
    versionId: uuid('version_id').notNull(),
    /** The trigger that started it (manual starts have none), and the event it reacted to. */
    triggerId: uuid('trigger_id'),
    triggerType: text('trigger_type').notNull().default('manual'),
    eventId: bigint('event_id', { mode: 'number' }),
    ...statusColumns<ExecutionStatus>('queued'),
    /** Seed 001 process_instance.parameters. */
    input: jsonb('input').$type<unknown>().notNull().default({}),
    /** What every step sees besides the step outputs: the trigger, the event, the execution. */
    context: jsonb('context').$type<Json>().notNull().default({}),
    /** Seed 001 process_instance.results. */
    output: jsonb('output').$type<unknown>(),
    error: jsonb('error').$type<Json>(),
    idempotencyKey: text('idempotency_key'),
    concurrencyKey: text('concurrency_key'),
    /** Seed 001 process_instance.batch_id. */
    batchId: text('batch_id'),
    traceId: text('trace_id').notNull(),
    /** The job that runs (or will next continue) it. */
    jobId: uuid('job_id'),
    /** Which job attempt is running it now: a run whose lease was lost stops at its next write. */
    runner: text('runner'),
    /** Re-runs and resumptions name what they came from. */
    retryOf: uuid('retry_of'),
    /** A sub_workflow step's execution names the execution and step waiting for it. */
    parentExecutionId: uuid('parent_execution_id'),
    parentStepId: text('parent_step_id'),
    cancelRequestedAt: tstz('cancel_requested_at'),
    startedAt: tstz('started_at'),
    endedAt: tstz('ended_at'),
    createdBy: text('created_by'),
    ...timestamps(),
  },
  (t) => [
    unique('executions_org_id_key').on(t.organizationId, t.id),
    foreignKey({ name: 'executions_automation_fk', columns: [t.organizationId, t.automationId], foreignColumns: [automations.organizationId, automations.id] }).onDelete('cascade'),
    foreignKey({ name: 'executions_version_fk', columns: [t.organizationId, t.versionId], foreignColumns: [workflowVersions.organizationId, workflowVersions.id] }).onDelete('cascade'),
    check('executions_status_check', sql`${t.status} in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')`),
    // A duplicate start with the same key finds the first execution.
    uniqueIndex('executions_idempotency_key').on(t.organizationId, t.automationId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
    index('executions_created_idx').on(t.organizationId, t.automationId, t.createdAt, t.id),
    index('executions_org_created_idx').on(t.organizationId, t.createdAt, t.id),
    index('executions_parent_idx').on(t.parentExecutionId).where(sql`${t.parentExecutionId} is not null`),
    index('executions_active_idx').on(t.automationId, t.status).where(sql`${t.status} in ('queued', 'running', 'waiting')`),
  ],
)

export const STEP_STATUSES = ['running', 'succeeded', 'failed', 'skipped', 'waiting', 'cancelled'] as const
export type StepStatus = (typeof STEP_STATUSES)[number]

/** One attempt of one step of an execution (seed 003 StepRun). */
export const stepRuns = pgTable(
  'step_runs',
  {
    ...idColumn(),
    ...tenantColumn(),
    executionId: uuid('execution_id').notNull(),
    stepId: text('step_id').notNull(),
    stepType: text('step_type').notNull(),
    attempt: integer('attempt').notNull(),
    status: text('status').$type<StepStatus>().notNull(),
    input: jsonb('input').$type<unknown>(),
    output: jsonb('output').$type<unknown>(),
    error: jsonb('error').$type<Json>(),
    /** Lines the step wrote (console output of a code step, an http step's request line...). */
    logs: jsonb('logs').$type<{ ts: string; level: string; message: string }[]>().notNull().default([]),
    durationMs: integer('duration_ms'),
    /** A waiting step (delay, approval) wakes at this time. */
    wakeAt: tstz('wake_at'),
    startedAt: tstz('started_at').notNull(),
    endedAt: tstz('ended_at'),
  },
  (t) => [
    unique('step_runs_attempt_key').on(t.executionId, t.stepId, t.attempt),
    foreignKey({ name: 'step_runs_execution_fk', columns: [t.organizationId, t.executionId], foreignColumns: [executions.organizationId, executions.id] }).onDelete('cascade'),
    check('step_runs_status_check', sql`${t.status} in ('running', 'succeeded', 'failed', 'skipped', 'waiting', 'cancelled')`),
  ],
)

export type AutomationRow = typeof automations.$inferSelect
export type VersionRow = typeof workflowVersions.$inferSelect
export type ExecutionRow = typeof executions.$inferSelect
export type StepRunRow = typeof stepRuns.$inferSelect
export type TriggerRow = typeof triggers.$inferSelect
export type ScheduleLogRow = typeof scheduleLogs.$inferSelect
