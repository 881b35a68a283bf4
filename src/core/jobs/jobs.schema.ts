// Seed 003 `Job` (type, status, params, result, priority, scheduled_at) plus what a durable
// queue needs: attempts, leases, progress, cancellation and an idempotency key.
import { sql } from 'drizzle-orm'
import { check, index, integer, jsonb, pgTable, smallint, text, timestamp, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { newId } from '../behaviours/columns.ts'

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().$defaultFn(newId),
    // null for system jobs (partition upkeep): those are visible to no organisation.
    organizationId: uuid('organization_id'),
    type: text('type').notNull(),
    status: text('status').$type<JobStatus>().notNull().default('pending'),
    statusChangedAt: tstz('status_changed_at').notNull().defaultNow(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    result: jsonb('result'),
    error: jsonb('error').$type<{ message: string; name?: string; errors?: { path: string; message: string }[] } | null>(),
    priority: integer('priority').notNull().default(0),
    scheduledAt: tstz('scheduled_at').notNull().defaultNow(),
    runAfter: tstz('run_after').notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(5),
    lockedBy: text('locked_by'),
    lockedUntil: tstz('locked_until'),
    progress: smallint('progress').notNull().default(0),
    progressMessage: text('progress_message'),
    cancelRequestedAt: tstz('cancel_requested_at'),
    idempotencyKey: text('idempotency_key'),
    // The trace of the request that enqueued the job: its events join that trace.
    traceId: varchar('trace_id', { length: 32 }),
    createdBy: text('created_by'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
    startedAt: tstz('started_at'),
    finishedAt: tstz('finished_at'),
  },
  (t) => [
    // One job per idempotency key and organisation (system jobs share the nil organisation).
    uniqueIndex('jobs_idempotency_key')
      .on(sql`coalesce(${t.organizationId}, '00000000-0000-0000-0000-000000000000'::uuid)`, t.idempotencyKey)
      .where(sql`idempotency_key is not null`),
    // The claim query walks this index: pending jobs by priority, then due time.
    index('jobs_claim_idx').on(t.priority.desc(), t.runAfter, t.id).where(sql`status = 'pending'`),
    index('jobs_lease_idx').on(t.lockedUntil).where(sql`status = 'running'`),
    index('jobs_org_idx').on(t.organizationId, t.createdAt, t.id),
    check('jobs_status_check', sql`status in ('pending', 'running', 'completed', 'failed', 'cancelled')`),
    check('jobs_progress_check', sql`progress between 0 and 100`),
    check('jobs_attempts_check', sql`max_attempts >= 1 and attempts >= 0`),
  ],
)
