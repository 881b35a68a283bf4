// The queue's hot SQL, one statement per verb. A claim takes as many jobs as the worker has
// free slots; a completion is one statement per job. The statements a worker runs on every job
// (claim, complete, renew, progress) are prepared once per connection: re-parsing and planning
// them each time cost PostgreSQL about a third of its CPU per job (docs/benchmarks.md).
import { sql } from 'drizzle-orm'
import { rows, type Database, type Executor } from '../db/database.ts'

export interface ClaimedJob {
  id: string
  type: string
  params: Record<string, unknown>
  attempts: number
  max_attempts: number
  organization_id: string | null
  created_by: string | null
  trace_id: string | null
}

/** Locks up to `limit` due jobs of the given types for `workerId`, skipping rows others hold. */
export function claimJobs(database: Database, workerId: string, types: string[], limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  return database.prepared<ClaimedJob>(
    'stratum_claim_jobs',
    `with next as (
       select id from jobs
       where status = 'pending' and run_after <= now() and type = any($1::text[])
       -- NULLS LAST as in jobs_claim_idx: with the default NULLS FIRST the planner cannot use
       -- the index order and sorts every pending job on each claim (measured: 8.5-12 ms per
       -- claim with 20,000 pending, against 0.07 ms).
       order by priority desc nulls last, run_after, id
       limit $2
       for update skip locked)
     update jobs j set status = 'running', status_changed_at = now(), attempts = j.attempts + 1,
       locked_by = $3, locked_until = now() + $4 * interval '1 millisecond',
       started_at = coalesce(j.started_at, now()), updated_at = now()
     from next where j.id = next.id
     returning j.id, j.type, j.params, j.attempts, j.max_attempts, j.organization_id, j.created_by, j.trace_id`,
    [types, limit, workerId, leaseMs],
  )
}

/** Marks a job completed, if this worker still holds it. Returns false when the lease was lost. */
/**
 * What completing a running job sets besides its result: shared with a handler that completes
 * its job in a statement of its own (RunningJob.completedHere, the automation engine's end).
 */
export const JOB_COMPLETED_SET = `status = 'completed', status_changed_at = now(), progress = 100, locked_by = null, locked_until = null, finished_at = now(), updated_at = now()`

export async function completeJob(database: Database, workerId: string, id: string, result: unknown): Promise<boolean> {
  const done = await database.prepared<{ id: string }>(
    'stratum_complete_job',
    `update jobs set ${JOB_COMPLETED_SET}, result = $3::jsonb where id = $1 and locked_by = $2 and status = 'running' returning id`,
    [id, workerId, JSON.stringify(result ?? null)],
  )
  return done.length === 1
}

/**
 * Ends a failed attempt: back to pending after `retryInMs` while attempts remain, else failed.
 * Returns the new status, or null when the lease was lost.
 */
export async function failJob(
  db: Executor,
  workerId: string,
  id: string,
  error: { message: string; name?: string },
  retryInMs: number,
): Promise<'pending' | 'failed' | null> {
  const [row] = await rows<{ status: 'pending' | 'failed' }>(
    db,
    sql`update jobs set
          status = case when attempts >= max_attempts then 'failed' else 'pending' end,
          status_changed_at = now(), error = ${JSON.stringify(error)}::jsonb,
          run_after = now() + ${retryInMs} * interval '1 millisecond',
          finished_at = case when attempts >= max_attempts then now() end,
          locked_by = null, locked_until = null, updated_at = now()
        where id = ${id} and locked_by = ${workerId} and status = 'running'
        returning status`,
  )
  return row?.status ?? null
}

export async function cancelRunningJob(db: Executor, workerId: string, id: string): Promise<boolean> {
  const done = await rows<{ id: string }>(
    db,
    sql`update jobs set status = 'cancelled', status_changed_at = now(), finished_at = now(),
          error = '{"message":"cancelled"}'::jsonb, locked_by = null, locked_until = null, updated_at = now()
        where id = ${id} and locked_by = ${workerId} and status = 'running'
        returning id`,
  )
  return done.length === 1
}

/** Gives a job back without spending an attempt (worker shutting down). */
export async function releaseJob(db: Executor, workerId: string, id: string): Promise<void> {
  await db.execute(sql`update jobs set status = 'pending', status_changed_at = now(), attempts = greatest(attempts - 1, 0),
      locked_by = null, locked_until = null, run_after = now(), updated_at = now()
    where id = ${id} and locked_by = ${workerId} and status = 'running'`)
}

/** Renews the lease of running jobs; returns those still held, with their cancel flag. */
export function renewLeases(database: Database, workerId: string, ids: string[], leaseMs: number): Promise<{ id: string; cancel: boolean }[]> {
  return database.prepared(
    'stratum_renew_leases',
    `update jobs set locked_until = now() + $3 * interval '1 millisecond'
     where id = any($1::uuid[]) and locked_by = $2 and status = 'running'
     returning id, cancel_requested_at is not null as cancel`,
    [ids, workerId, leaseMs],
  )
}

export function reportProgress(database: Database, workerId: string, id: string, percent: number, message: string | null, leaseMs: number) {
  return database.prepared<{ cancel: boolean }>(
    'stratum_report_progress',
    `update jobs set progress = $3, progress_message = $4,
       locked_until = now() + $5 * interval '1 millisecond', updated_at = now()
     where id = $1 and locked_by = $2 and status = 'running'
     returning cancel_requested_at is not null as cancel`,
    [id, workerId, percent, message, leaseMs],
  )
}

/**
 * Jobs whose worker died (lease expired): retried if attempts remain, else failed; a job whose
 * cancellation was requested is cancelled.
 */
export function reapExpiredJobs(db: Executor): Promise<{ id: string; type: string; status: string; organization_id: string | null; trace_id: string | null }[]> {
  return rows(
    db,
    sql`update jobs set
          status = case when cancel_requested_at is not null then 'cancelled'
                        when attempts >= max_attempts then 'failed' else 'pending' end,
          status_changed_at = now(),
          error = '{"message":"the worker running this job stopped answering (lease expired)","name":"LeaseExpired"}'::jsonb,
          finished_at = case when cancel_requested_at is not null or attempts >= max_attempts then now() end,
          locked_by = null, locked_until = null, run_after = now(), updated_at = now()
        where status = 'running' and locked_until < now()
        returning id, type, status, organization_id, trace_id`,
  )
}
