// Retention: how many days of raw points to keep, per type or per series (the series' own policy
// wins). The `measurements.retention` job applies an organisation's policies: it deletes older
// points series by series, in chunks of one transaction each (progress, cancellable), and
// schedules itself for the next day while the organisation has policies. Setting a policy
// schedules a run at once. Rollups are kept: queries over expired time are answered from them.
import { and, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import type { JobHandler } from '../../core/jobs/worker.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import type { Assets } from '../assets/index.ts'
import { retentionPolicies, type RetentionPolicyRow } from './measurements.schema.ts'
import { retentionHorizon } from './insertPoints.ts'
import type { Series } from './series.service.ts'

export const RETENTION_JOB = 'measurements.retention'
const DAY_MS = 86_400_000

export const toPolicyView = (p: RetentionPolicyRow) => ({ id: p.id, object_type_id: p.objectTypeId, series_id: p.seriesId, raw_days: p.rawDays, created_by: p.createdBy, created_at: p.createdAt.toISOString(), updated_at: p.updatedAt.toISOString() })

export function createRetention({ database, events, assets, series, clock }: { database: Database; events: EventLog; assets: Pick<Assets, 'types'>; series: Series; clock: () => Date }) {
  const db = database.db
  const day = (d: Date) => d.toISOString().slice(0, 10)

  /**
   * The organisation's run at `at` (now when absent), once per day whoever asks. Runs are
   * scheduled by the wall clock the job queue uses; the horizon of a run comes from `clock`.
   */
  const schedule = (tx: Executor, ctx: RequestContext, at?: Date) => enqueueJob(tx, ctx, { type: RETENTION_JOB, ...(at ? { runAt: at } : {}), idempotencyKey: `${RETENTION_JOB}:${day(at ?? new Date())}`, maxAttempts: 5 })

  const handler: JobHandler<Record<string, never>> = {
    type: RETENTION_JOB,
    timeoutMs: 6 * 60 * 60 * 1000,
    async run(job) {
      const ctx = job.ctx
      const now = clock().getTime()
      // Each series with its horizon: its own policy, else its type's.
      const targets = await rows<{ key: number | string; id: string; raw_days: number }>(
        db,
        sql`select s.key, s.id, coalesce(own.raw_days, typ.raw_days) as raw_days from series s
            left join retention_policies own on own.organization_id = s.organization_id and own.series_id = s.id
            left join retention_policies typ on typ.organization_id = s.organization_id and typ.object_type_id = s.object_type_id
            where s.organization_id = ${ctx.organizationId} and (own.id is not null or typ.id is not null)`,
      )
      let deleted = 0
      for (const [i, t] of targets.entries()) {
        // Down to the whole hour, so an hour is either expired or kept whole, and its rollup (which
        // retention never touches) stays right; ingest refuses points before this horizon.
        const horizon = new Date(retentionHorizon(now, t.raw_days)).toISOString()
        for (;;) {
          // Bounded chunks, so a long backlog never holds one long transaction.
          const n = await database.transaction(async (tx) => {
            const [r] = await rows<{ n: number }>(
              tx,
              sql`with d as (delete from points where series_id = ${Number(t.key)} and ts in (select ts from points where series_id = ${Number(t.key)} and ts < ${horizon}::timestamptz order by ts limit 50000) returning 1) select count(*)::int as n from d`,
            )
            if (r!.n > 0) await events.appendEvent(tx, ctx, { type: 'datapoints.deleted', entityType: 'series', entityId: t.id, data: { points: r!.n, before: horizon, reason: 'retention' } })
            return r!.n
          })
          deleted += n
          if (n < 50000) break
          await job.heartbeat()
        }
        await job.progress(Math.floor(((i + 1) / targets.length) * 100), `${i + 1} of ${targets.length} series, ${deleted} points deleted`)
      }
      await database.transaction(async (tx) => {
        const [left] = await tx.select({ n: sql<number>`count(*)::int` }).from(retentionPolicies).where(inOrg(retentionPolicies, ctx))
        if (left!.n > 0) await schedule(tx, ctx, new Date(Date.now() + DAY_MS))
      })
      return { series: targets.length, deleted }
    },
  }

  return {
    handler,

    /** Sets the policy of a type or a series (replacing its previous one) and schedules a run now. */
    async set(ctx: RequestContext, input: { object_type?: string | undefined; series_id?: string | undefined; raw_days: number }) {
      if (!input.object_type === !input.series_id) throw new ValidationError('a policy is for an object type or for one series', [{ path: '/body/object_type', message: 'give object_type or series_id, not both' }])
      let target: { objectTypeId: string | null; seriesId: string | null }
      if (input.series_id) {
        const s = (await series.resolve(db, ctx, [input.series_id])).get(input.series_id)
        if (!s) throw new ValidationError(`series ${input.series_id} is not a series of this organisation`, [{ path: '/body/series_id', message: 'is not a series of this organisation' }])
        target = { objectTypeId: null, seriesId: s.id }
      } else {
        const type = await assets.types.findType(db, ctx, input.object_type!).catch((err) => {
          if (err instanceof NotFoundError) throw new ValidationError(`no object type is named ${input.object_type}`, [{ path: '/body/object_type', message: 'is not an object type of this organisation' }])
          throw err
        })
        target = { objectTypeId: type.id, seriesId: null }
      }
      return database.transaction(async (tx) => {
        const match = target.seriesId ? eq(retentionPolicies.seriesId, target.seriesId) : eq(retentionPolicies.objectTypeId, target.objectTypeId!)
        const [existing] = await tx.select().from(retentionPolicies).where(and(inOrg(retentionPolicies, ctx), match)).for('update')
        const [row] = existing
          ? await tx.update(retentionPolicies).set({ rawDays: input.raw_days }).where(eq(retentionPolicies.id, existing.id)).returning()
          : await tx.insert(retentionPolicies).values({ organizationId: orgOf(ctx), ...target, rawDays: input.raw_days, createdBy: actorLabel(ctx.actor) }).returning()
        await events.appendEvent(tx, ctx, { type: existing ? 'retention_policy.updated' : 'retention_policy.created', entityType: 'retention_policy', entityId: row!.id, data: { raw_days: row!.rawDays, object_type_id: row!.objectTypeId, series_id: row!.seriesId } })
        const job = await schedule(tx, ctx)
        return { ...toPolicyView(row!), job_id: job.id }
      })
    },

    async list(ctx: RequestContext) {
      const found = await db.select().from(retentionPolicies).where(inOrg(retentionPolicies, ctx)).orderBy(desc(retentionPolicies.createdAt))
      return { data: found.map(toPolicyView), next_cursor: null }
    },

    async remove(ctx: RequestContext, id: string) {
      if (!UUID.test(id)) throw new NotFoundError(`retention policy ${id} not found`)
      await database.transaction(async (tx) => {
        const [gone] = await tx.delete(retentionPolicies).where(and(inOrg(retentionPolicies, ctx), eq(retentionPolicies.id, id))).returning()
        if (!gone) throw new NotFoundError(`retention policy ${id} not found`)
        await events.appendEvent(tx, ctx, { type: 'retention_policy.deleted', entityType: 'retention_policy', entityId: id, data: { object_type_id: gone.objectTypeId, series_id: gone.seriesId } })
      })
    },
  }
}

export type Retention = ReturnType<typeof createRetention>
