// The one job API: enqueue (inside the caller's transaction), read, list and cancel.
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { Executor } from '../db/database.ts'
import { actorLabel, type RequestContext } from '../context.ts'
import { IllegalTransitionError, NotFoundError } from '../errors.ts'
import { inOrg, orgOf } from '../tenancy.ts'
import { listNewestFirst } from '../http/pagination.ts'
import type { EventLog } from '../events/events.service.ts'
import { jobs, type JobStatus } from './jobs.schema.ts'

export interface NewJob {
  type: string
  params?: Record<string, unknown>
  priority?: number
  /** When the job may run first; now when absent. */
  runAt?: Date
  maxAttempts?: number
  idempotencyKey?: string
}

export type JobRow = typeof jobs.$inferSelect

export interface JobView {
  id: string
  organization_id: string | null
  type: string
  status: JobStatus
  status_changed_at: string
  params: Record<string, unknown>
  result: unknown
  error: { message: string; name?: string } | null
  priority: number
  scheduled_at: string
  run_after: string
  attempts: number
  max_attempts: number
  progress: number
  progress_message: string | null
  cancel_requested: boolean
  locked_by: string | null
  locked_until: string | null
  idempotency_key: string | null
  trace_id: string | null
  created_by: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export function toJobView(j: JobRow): JobView {
  return {
    id: j.id,
    organization_id: j.organizationId,
    type: j.type,
    status: j.status,
    status_changed_at: j.statusChangedAt.toISOString(),
    params: j.params,
    result: j.result ?? null,
    error: j.error ?? null,
    priority: j.priority,
    scheduled_at: j.scheduledAt.toISOString(),
    run_after: j.runAfter.toISOString(),
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    progress: j.progress,
    progress_message: j.progressMessage,
    cancel_requested: j.cancelRequestedAt !== null,
    locked_by: j.lockedBy,
    locked_until: iso(j.lockedUntil),
    idempotency_key: j.idempotencyKey,
    trace_id: j.traceId,
    created_by: j.createdBy,
    created_at: j.createdAt.toISOString(),
    updated_at: j.updatedAt.toISOString(),
    started_at: iso(j.startedAt),
    finished_at: iso(j.finishedAt),
  }
}

const ENQUEUE_CHUNK = 2000

/**
 * Enqueues jobs in the caller's transaction: they exist only if it commits. A job whose
 * idempotency key the organisation has used before is not added again; the earlier one is returned.
 */
export async function enqueueJobs(tx: Executor, ctx: RequestContext, items: NewJob[]): Promise<JobRow[]> {
  if (items.length === 0) return []
  const values = items.map((j) => ({
    organizationId: ctx.organizationId,
    type: j.type,
    params: j.params ?? {},
    priority: j.priority ?? 0,
    scheduledAt: j.runAt ?? new Date(),
    runAfter: j.runAt ?? new Date(),
    maxAttempts: j.maxAttempts ?? 5,
    idempotencyKey: j.idempotencyKey ?? null,
    traceId: ctx.traceId,
    createdBy: actorLabel(ctx.actor),
  }))
  // PostgreSQL takes at most 65,535 parameters per statement: insert in chunks.
  const inserted: JobRow[] = []
  for (let i = 0; i < values.length; i += ENQUEUE_CHUNK) {
    inserted.push(...(await tx.insert(jobs).values(values.slice(i, i + ENQUEUE_CHUNK)).onConflictDoNothing().returning()))
  }
  if (inserted.length === items.length) return inserted
  const byKey = new Map(inserted.map((r) => [r.idempotencyKey, r]))
  const out: JobRow[] = []
  for (const v of values) {
    const row =
      byKey.get(v.idempotencyKey) ??
      (await tx
        .select()
        .from(jobs)
        .where(
          and(
            sql`coalesce(${jobs.organizationId}, '00000000-0000-0000-0000-000000000000'::uuid) = coalesce(${v.organizationId}::uuid, '00000000-0000-0000-0000-000000000000'::uuid)`,
            eq(jobs.idempotencyKey, v.idempotencyKey!),
          ),
        ))[0]
    if (row) out.push(row)
  }
  return out
}

export async function enqueueJob(tx: Executor, ctx: RequestContext, job: NewJob): Promise<JobRow> {
  const [row] = await enqueueJobs(tx, ctx, [job])
  return row!
}

export async function getJob(db: Executor, ctx: RequestContext, id: string): Promise<JobRow> {
  const [row] = await db.select().from(jobs).where(and(eq(jobs.id, id), inOrg(jobs, ctx)))
  if (!row) throw new NotFoundError(`job ${id} not found`)
  return row
}

export interface JobFilter {
  status?: JobStatus
  type?: string
  limit: number
  cursor?: string
}

export async function listJobs(db: Executor, ctx: RequestContext, f: JobFilter) {
  const where: (SQL | undefined)[] = [inOrg(jobs, ctx)]
  if (f.status) where.push(eq(jobs.status, f.status))
  if (f.type) where.push(eq(jobs.type, f.type))
  return listNewestFirst(db, jobs, where, f)
}

/**
 * Pending -> cancelled at once. Running -> cancel requested; the handler sees it at its next
 * heartbeat or progress call and the job then ends cancelled. Finished jobs cannot be cancelled.
 */
export async function cancelJob(tx: Executor, ctx: RequestContext, events: EventLog, id: string): Promise<JobRow> {
  orgOf(ctx)
  const [job] = await tx.select().from(jobs).where(and(eq(jobs.id, id), inOrg(jobs, ctx))).for('update')
  if (!job) throw new NotFoundError(`job ${id} not found`)
  if (job.status === 'pending') {
    const [row] = await tx
      .update(jobs)
      .set({ status: 'cancelled', statusChangedAt: sql`now()`, finishedAt: sql`now()`, cancelRequestedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(jobs.id, id))
      .returning()
    await events.appendEvent(tx, ctx, { type: 'job.cancelled', entityType: 'job', entityId: id, data: { job_type: job.type, was: 'pending' } })
    return row!
  }
  if (job.status === 'running') {
    if (job.cancelRequestedAt) return job
    const [row] = await tx
      .update(jobs)
      .set({ cancelRequestedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(jobs.id, id))
      .returning()
    await events.appendEvent(tx, ctx, { type: 'job.cancel_requested', entityType: 'job', entityId: id, data: { job_type: job.type } })
    return row!
  }
  throw new IllegalTransitionError('job', job.status, 'cancelled')
}
