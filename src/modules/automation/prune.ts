// Run-history retention: the `automation.prune` job deletes an organisation's finished executions
// (with their step runs) older than their automation's retention_days, and beyond its
// retention_count newest. Running, waiting and queued executions are never touched, nor an
// execution a running parent still waits for.
//
// Scheduling: setting a retention on an automation schedules the organisation's next run within
// the hour; each run schedules the next one an hour on while any automation there keeps a
// retention. `POST /automations/{id}/prune` runs it now for one automation.
import { sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import type { JobHandler } from '../../core/jobs/worker.ts'

export const PRUNE_JOB = 'automation.prune'
const HOUR_MS = 3_600_000
/** Executions deleted per transaction. */
const CHUNK = 1000

const hour = (d: Date) => d.toISOString().slice(0, 13)

/** The organisation's next run (within the hour), once per hour whoever asks. */
export const schedulePrune = (tx: Executor, ctx: RequestContext, at: Date = new Date(Date.now() + HOUR_MS)) =>
  enqueueJob(tx, ctx, { type: PRUNE_JOB, runAt: at, idempotencyKey: `${PRUNE_JOB}:${hour(at)}`, maxAttempts: 5 })

export function createPruning({ database, events }: { database: Database; events: EventLog }) {
  const db = database.db

  const handler: JobHandler<{ automation_id?: string }> = {
    type: PRUNE_JOB,
    timeoutMs: 6 * HOUR_MS,
    async run(job) {
      const ctx = job.ctx
      const targets = await rows<{ id: string; slug: string; days: number | null; keep: number | null }>(
        db,
        sql`select id, slug, retention_days as days, retention_count as keep from automations
            where organization_id = ${ctx.organizationId} and (retention_days is not null or retention_count is not null)
            ${job.params.automation_id ? sql`and id = ${job.params.automation_id}` : sql``} order by created_at, id`,
      )
      let deleted = 0
      for (const [i, a] of targets.entries()) {
        let gone = 0
        for (;;) {
          const n = await database.transaction(async (tx) => {
            const [r] = await rows<{ n: number }>(
              tx,
              sql`with finished as (
                    select id, ended_at, row_number() over (order by created_at desc, id desc) as rank
                    from executions where automation_id = ${a.id} and status in ('succeeded', 'failed', 'cancelled')
                  ), doomed as (
                    select f.id from finished f
                    where ((${a.days}::int is not null and f.ended_at < now() - make_interval(days => ${a.days}::int))
                        or (${a.keep}::int is not null and f.rank > ${a.keep}::int))
                      and not exists (select 1 from executions p where p.id = (select parent_execution_id from executions c where c.id = f.id) and p.status not in ('succeeded', 'failed', 'cancelled'))
                    limit ${CHUNK}
                  ), d as (delete from executions where id in (select id from doomed) returning 1)
                  select count(*)::int as n from d`,
            )
            return r!.n
          })
          gone += n
          if (n < CHUNK) break
          await job.heartbeat()
        }
        if (gone > 0) {
          await database.transaction((tx) =>
            events.appendEvent(tx, ctx, { type: 'automation.executions_pruned', entityType: 'automation', entityId: a.id, data: { deleted: gone, retention_days: a.days, retention_count: a.keep } }),
          )
        }
        deleted += gone
        await job.progress(Math.floor(((i + 1) / targets.length) * 100), `${i + 1} of ${targets.length} automations, ${deleted} executions deleted`)
      }
      // The hourly run carries on while the organisation keeps any retention (a run for one automation does not schedule).
      if (!job.params.automation_id) {
        await database.transaction(async (tx) => {
          const [left] = await rows<{ n: number }>(tx, sql`select count(*)::int as n from automations where organization_id = ${ctx.organizationId} and (retention_days is not null or retention_count is not null)`)
          if (left!.n > 0) await schedulePrune(tx, ctx)
        })
      }
      return { automations: targets.length, deleted }
    },
  }
  return { handler }
}
