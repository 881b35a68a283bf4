// Executions (seed 003 Execution + StepRun, seed 001 process_instances, seed 000 WorkflowRun):
// starting one (queued, with the job that runs it, in one transaction), reading it with its
// step runs, cancelling, resuming from a failed step, and re-running from the start.
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm'
import { PgDialect, type PgInsertValue } from 'drizzle-orm/pg-core'
import { newId, UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { ConflictError, ForbiddenError, IllegalTransitionError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { cancelJob, enqueueJob, enqueueJobs, insertJobsSql, type JobRow, type NewJob, type TakenJob } from '../../core/jobs/jobs.service.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { executions, FINISHED, stepRuns, workflowVersions, type AutomationRow, type ExecutionRow, type ExecutionStatus, type StepRunRow, type VersionRow } from './automation.schema.ts'
import type { Automations } from './automations.service.ts'
import type { Plan } from './graph.ts'
import type { Finished } from './engine.ts'
import { executionFromRaw, insertRunsAround, recordsOf, stepRunFromRaw, type StepRecord } from './engine.writes.ts'
import { groupCommit } from '../../core/db/groupCommit.ts'

export const EXECUTE_JOB = 'automation.execute'
/** The NOTIFY channel a cancel is announced on (the engine listens). */
export const CANCEL_CHANNEL = 'stratum_execution_cancel'

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export const toExecutionView = (e: ExecutionRow, version?: number) => ({
  id: e.id,
  automation_id: e.automationId,
  version_id: e.versionId,
  ...(version !== undefined ? { version } : {}),
  trigger_id: e.triggerId,
  trigger_type: e.triggerType,
  event_id: e.eventId,
  status: e.status,
  status_changed_at: e.statusChangedAt.toISOString(),
  input: e.input,
  output: e.output ?? null,
  error: e.error ?? null,
  idempotency_key: e.idempotencyKey,
  concurrency_key: e.concurrencyKey,
  batch_id: e.batchId,
  trace_id: e.traceId,
  job_id: e.jobId,
  retry_of: e.retryOf,
  cancel_requested: e.cancelRequestedAt !== null,
  started_at: iso(e.startedAt),
  ended_at: iso(e.endedAt),
  duration_ms: e.startedAt && e.endedAt ? e.endedAt.getTime() - e.startedAt.getTime() : null,
  created_by: e.createdBy,
  created_at: e.createdAt.toISOString(),
})

export const toStepRunView = (s: StepRunRow) => ({
  id: s.id,
  step_id: s.stepId,
  step_type: s.stepType,
  attempt: s.attempt,
  status: s.status,
  input: s.input ?? null,
  output: s.output ?? null,
  error: s.error ?? null,
  logs: s.logs,
  duration_ms: s.durationMs,
  wake_at: iso(s.wakeAt),
  started_at: s.startedAt.toISOString(),
  ended_at: iso(s.endedAt),
})

/** One execution to start (startMany). */
export interface StartItem {
  a: AutomationRow
  v: VersionRow
  input: StartInput
  origin: TriggerOrigin
  opts?: StartOptions
}

export type ExecutionWithSteps = ReturnType<typeof toExecutionView> & { steps: ReturnType<typeof toStepRunView>[] }

export interface StartInput {
  input?: unknown
  idempotency_key?: string | undefined
  concurrency_key?: string | undefined
  batch_id?: string | undefined
  /** Run this version instead of the live one. */
  version?: number | undefined
}

/** An execution written running, for this process's engine to carry on without reading it back. */
export interface Started {
  execution: ExecutionRow
  plan: Plan
  /** Step records the start wrote with it (the engine's prefix), as committed. */
  runs?: StepRunRow[]
  /** Steps among them the start wrote running, for the engine to run without writing that again. */
  startedSteps?: string[]
}

/** Builds statements' text for `database.prepared`. */
const dialect = new PgDialect()

/** The engine's prefix (createEngine): the records an execution's start can carry, or null. */
export type Prefix = (e: ExecutionRow, plan: Plan) => Promise<{ records: StepRecord[]; started: string[] } | null>

export interface StartResult {
  execution: ExecutionRow
  created: boolean
  job: JobRow | null
  /** Set when the start wrote it running, to run here (StartOptions.claimedBy on a plain automation). */
  started?: Started
}

export interface StartOptions {
  /** The execution this one re-runs. */
  retryOf?: string | null
  /** Queued without a job: started when a running execution of the automation finishes. */
  deferred?: boolean
  /** Added to the execution's context. */
  extra?: Record<string, unknown>
  /** Its job written already claimed by this process's worker, which runs it at once (Worker.reserve). */
  claimedBy?: { workerId: string; leaseMs: number } | undefined
  /** The new execution's id, when the caller names it before the insert (else new). */
  id?: string
  /**
   * The trigger, automation and live version the start was built from, as read earlier (a
   * webhook's cached read): the insert fails (SR001, isStale) when any of them changed since.
   */
  unchanged?: { triggerId: string; versionId: string; stamp: string } | undefined
}

export interface TriggerOrigin {
  triggerId?: string | null
  triggerType: string
  eventId?: number | null
  /** What the trigger adds to the context (the event, the webhook request...). */
  trigger?: Record<string, unknown>
}

/**
 * The organisation's id, if the webhook's trigger, automation and live version are the rows
 * read before (same xmin, migration 0010): else the statement fails with SR001. In the insert's
 * own row, so that no execution is written from a changed definition.
 */
const unchangedOrg = (organizationId: string, u: NonNullable<StartOptions['unchanged']>) =>
  sql`(case when stratum_require(exists (select 1 from triggers t join automations a on a.id = t.automation_id
         join workflow_versions v on v.automation_id = a.id and v.is_live
         where t.id = ${u.triggerId} and v.id = ${u.versionId} and concat_ws(':', t.xmin, a.xmin, v.xmin) = ${u.stamp}), 'the webhook') then ${organizationId}::uuid end)`

/**
 * Wakes a waiting step now (an approval decided, a sub-workflow finished): its record gets
 * `output` when given and wakes at once, and a job continues the execution (unless other
 * branches of it are still running: their runner then sees the wake time when it stops). The job the
 * execution named before (its timeout) then finds it no longer named and does nothing. Returns
 * false when the step is not waiting (it has not started waiting yet, or was woken already).
 */
export async function wakeWaitingStep(tx: Executor, ctx: RequestContext, executionId: string, stepId: string, output?: unknown): Promise<boolean> {
  const [e] = await tx.select().from(executions).where(eq(executions.id, executionId)).for('update')
  // Running: other branches of it still run; its runner reads the wake time when they are done.
  if (!e || (e.status !== 'waiting' && e.status !== 'running')) return false
  const [run] = await tx
    .select()
    .from(stepRuns)
    .where(and(eq(stepRuns.executionId, executionId), eq(stepRuns.stepId, stepId)))
    .orderBy(desc(stepRuns.attempt))
    .limit(1)
  if (!run || run.status !== 'waiting') return false
  await tx
    .update(stepRuns)
    .set({ wakeAt: sql`now()`, ...(output !== undefined ? { output: output as never } : {}) })
    .where(eq(stepRuns.id, run.id))
  if (e.status === 'running') return true
  const job = await enqueueJob(tx, ctx, { type: EXECUTE_JOB, params: { execution_id: e.id }, maxAttempts: 25 })
  await tx.update(executions).set({ jobId: job.id }).where(eq(executions.id, e.id))
  return true
}

const notFound = (id: string) => new NotFoundError(`execution ${id} not found`)

export function createExecutions({ database, events, automations }: { database: Database; events: EventLog; automations: Automations }) {
  const db = database.db
  /** Executions this process's engine finished, by id: a waiting request hears of it at once. */
  const finishedHere = new EventEmitter().setMaxListeners(0)
  /** Executions written running for a job of this process's worker, by job id (handOver). */
  const handedOver = new Map<string, Started>()

  async function find(exec: Executor, ctx: RequestContext, id: string, lock = false): Promise<ExecutionRow> {
    if (!UUID.test(id)) throw notFound(id)
    const q = exec.select().from(executions).where(and(inOrg(executions, ctx), eq(executions.id, id)))
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw notFound(id)
    return row
  }

  /**
   * Inserts a queued execution and the job that runs it. With an idempotency key already used
   * for this automation, nothing is written and the earlier execution is returned.
   */
  async function startIn(tx: Executor, ctx: RequestContext, a: AutomationRow, v: VersionRow, input: StartInput, origin: TriggerOrigin, opts: StartOptions = {}): Promise<StartResult> {
    return (await startMany(tx, ctx, [{ a, v, input, origin, opts }]))[0]!
  }

  /** An execution's row as a start writes it, with its job's id (none when deferred). */
  function prepare(ctx: RequestContext, { a, v, input, origin, opts = {} }: StartItem) {
    const { retryOf = null, deferred = false, extra = {} } = opts
    // Run here at once (claimedBy) with nothing to check first: written running, as the engine
    // would mark it, and handed over in memory (`Started`) so its first round reads nothing back.
    const plainStart = Boolean(opts.claimedBy) && !deferred && a.maxConcurrency === null && (a.maxConcurrencyPerKey === null || !input.concurrency_key)
    // The job's id is chosen here so that the execution names it in its own insert.
    const jobId = deferred ? null : newId()
    const context = {
      automation: { id: a.id, slug: a.slug, name: a.name },
      version: v.version,
      trigger: { type: origin.triggerType, id: origin.triggerId ?? null, ...(origin.trigger ?? {}) },
      trace_id: ctx.traceId,
      ...extra,
    }
    return {
      jobId,
      plainStart,
      row: {
        id: opts.id ?? newId(),
        jobId,
        ...(plainStart ? { status: 'running' as const, runner: `${jobId}:1`, startedAt: sql`now()` } : {}),
        organizationId: opts.unchanged ? unchangedOrg(a.organizationId, opts.unchanged) : a.organizationId,
        automationId: a.id,
        versionId: v.id,
        triggerId: origin.triggerId ?? null,
        triggerType: origin.triggerType,
        eventId: origin.eventId ?? null,
        input: (input.input ?? {}) as never,
        context,
        idempotencyKey: input.idempotency_key ?? null,
        concurrencyKey: input.concurrency_key ?? null,
        batchId: input.batch_id ?? null,
        traceId: ctx.traceId,
        retryOf,
        createdBy: actorLabel(ctx.actor),
      } satisfies PgInsertValue<typeof executions> & { id: string },
    }
  }

  /** The job that runs a started execution. */
  const jobOf = (f: { jobId: string | null; row: { id: string } }, opts: StartOptions = {}): NewJob => ({
    id: f.jobId!,
    type: EXECUTE_JOB,
    params: { execution_id: f.row.id },
    maxAttempts: 25,
    ...(opts.claimedBy ? { claimedBy: opts.claimedBy } : {}),
  })

  /** The events a start writes for an execution. */
  const startEvents = ({ a, v, origin, opts = {} }: StartItem, id: string, plainStart: boolean): NewEvent[] => [
    { type: 'execution.queued', entityType: 'execution', entityId: id, data: { automation_id: a.id, version: v.version, trigger_type: origin.triggerType, retry_of: opts.retryOf ?? null } },
    ...(plainStart ? [{ type: 'execution.started', entityType: 'execution', entityId: id, data: { automation_id: a.id, trigger_type: origin.triggerType } }] : []),
  ]

  /**
   * startIn for many executions of one organisation (`ctx`) in a fixed number of statements: the
   * earlier executions of their idempotency keys, the executions, their jobs and their events,
   * each read or written at once (a scheduler round firing 100 cron triggers).
   */
  async function startMany(tx: Executor, ctx: RequestContext, items: StartItem[]): Promise<StartResult[]> {
    const keyOf = (automationId: string, key: string) => `${automationId}\u0000${key}`
    const keyed = items.filter((i) => i.input.idempotency_key)
    const earlier = new Map<string, ExecutionRow>()
    const readEarlier = async (which: typeof items) => {
      if (which.length === 0) return
      const found = await tx
        .select()
        .from(executions)
        .where(and(eq(executions.organizationId, which[0]!.a.organizationId), inArray(executions.automationId, [...new Set(which.map((i) => i.a.id))]), inArray(executions.idempotencyKey, [...new Set(which.map((i) => i.input.idempotency_key!))])))
      for (const e of found) earlier.set(keyOf(e.automationId, e.idempotencyKey!), e)
    }
    await readEarlier(keyed)
    const results: (StartResult | null)[] = items.map(() => null)
    const fresh: ({ index: number } & ReturnType<typeof prepare>)[] = []
    const claimedKeys = new Set<string>()
    items.forEach((item, index) => {
      const { a, input } = item
      const key = input.idempotency_key ? keyOf(a.id, input.idempotency_key) : null
      if (key && (earlier.has(key) || claimedKeys.has(key))) return // answered below
      if (key) claimedKeys.add(key)
      fresh.push({ index, ...prepare(ctx, item) })
    })
    const inserted = fresh.length ? await tx.insert(executions).values(fresh.map((f) => f.row)).onConflictDoNothing().returning() : []
    const byId = new Map(inserted.map((e) => [e.id, e]))
    // A key given twice in one call: the second is answered with the first's execution.
    for (const e of inserted) if (e.idempotencyKey && !earlier.has(keyOf(e.automationId, e.idempotencyKey))) earlier.set(keyOf(e.automationId, e.idempotencyKey), e)
    // A concurrent start took a key between the read and the insert: answer with its execution.
    await readEarlier(fresh.filter((f) => !byId.has(f.row.id)).map((f) => items[f.index]!))
    const made = fresh.filter((f) => byId.has(f.row.id))
    const jobs = await enqueueJobs(tx, ctx, made.filter((f) => f.jobId !== null).map((f) => jobOf(f, items[f.index]!.opts)))
    const jobById = new Map(jobs.map((j) => [j.id, j]))
    const news: NewEvent[] = []
    for (const f of made) {
      const e = byId.get(f.row.id)!
      news.push(...startEvents(items[f.index]!, e.id, f.plainStart))
      results[f.index] = { execution: e, created: true, job: f.jobId ? (jobById.get(f.jobId) ?? null) : null, ...(f.plainStart ? { started: { execution: e, plan: items[f.index]!.v.plan as unknown as Plan } } : {}) }
    }
    await events.appendEvents(tx, ctx, news)
    return items.map((i, index) => results[index] ?? { execution: earlier.get(keyOf(i.a.id, i.input.idempotency_key!))!, created: false, job: null })
  }

  /**
   * startIn as one statement outside any transaction, the execution, its job and its events in
   * one data-modifying CTE (no BEGIN/COMMIT: docs/benchmarks.md section 10), for a start that
   * has nothing to read first: a webhook delivery. A deferred start, events a reaction must
   * see, or an idempotency key already used (nothing is written then) take startIn's path.
   */
  async function startNow(ctx: RequestContext, item: StartItem): Promise<StartResult> {
    if (item.opts?.deferred) return startGeneral(ctx, item)
    // Run here at once: the engine's first steps are written with the start (one statement less).
    let pre: Awaited<ReturnType<Prefix>> = null
    let f: ReturnType<typeof prepare> | undefined
    if (prefix && item.opts?.claimedBy) {
      f = prepare(ctx, item)
      if (f.plainStart) pre = await prefix(draftOf(f.row, item.a.organizationId), item.v.plan as unknown as Plan)
    }
    return (await startGrouped({ ctx, item, pre, f })) ?? startGeneral(ctx, item)
  }

  /** The execution a start will write, as the engine's prefix reads it (what the insert sets). */
  const draftOf = (row: ReturnType<typeof prepare>['row'], organizationId: string): ExecutionRow =>
    ({ ...row, organizationId, parentExecutionId: null, parentStepId: null, status: 'running', runner: row.runner ?? null, startedAt: new Date() }) as unknown as ExecutionRow
  let prefix: Prefix | null = null

  const startGeneral = async (ctx: RequestContext, item: StartItem) => (await database.transaction((tx) => startMany(tx, ctx, [item])))[0]!

  /** Starts that arrive together, one statement for all; null where nothing was written (a key already used, events a reaction must see). */
  const startGrouped = groupCommit<{ ctx: RequestContext; item: StartItem; pre: Awaited<ReturnType<Prefix>>; f: ReturnType<typeof prepare> | undefined }, StartResult | null>({}, async (starts) => {
    // A start whose prefix ran was prepared for it (the records name its execution id).
    const prepared = starts.map(({ ctx, item, f }) => ({ ctx, item, f: f ?? prepare(ctx, item) }))
    const news = events.insertSql(
      prepared.map(({ ctx, item, f }) => ({ ctx, items: startEvents(item, f.row.id, f.plainStart) })),
      sql`r.id in (select id from e)`,
    )
    if (!news) return starts.map(() => null)
    const jobs = insertJobsSql(
      prepared.map(({ ctx, item, f }) => ({ ctx, items: [jobOf(f, item.opts)] })),
      sql`r.id in (select job_id from e)`,
    )
    const insert = db.insert(executions).values(prepared.map((p) => p.f.row)).onConflictDoNothing().returning()
    // The engine's first records (prefix) with their executions.
    const carried = starts.flatMap(({ pre }, i) => (pre && prepared[i]!.f.plainStart ? [{ executionId: prepared[i]!.f.row.id, records: pre.records }] : []))
    const [before, after] = insertRunsAround('e')
    const runs = carried.length ? sql`, sr as (${sql.raw(before)}${recordsOf(carried, newId)}${sql.raw(after)} returning *)` : sql``
    const query = sql`with e as (${insert.getSQL()}), j as (${jobs.query}), ev as (${news})${runs}
          select e.*, (select row_to_json(j) from j where j.id = e.job_id) as job_taken,
            ${carried.length ? sql`(select json_agg(sr) from sr where sr.execution_id = e.id)` : sql`null::json`} as runs_written
          from e`
    type Row = Record<string, unknown> & { job_taken: TakenJob | null; runs_written: Record<string, unknown>[] | null }
    // Its text is the same for every start of the same shape (a webhook's, one to a few at a
    // time): prepared under a name from the text, PostgreSQL parses and plans it once per
    // connection. Larger groups vary too much to be worth keeping.
    let found: Row[]
    if (starts.length <= 4) {
      const statement = dialect.sqlToQuery(query)
      found = await database.prepared<Row>(`stratum_start_${createHash('sha1').update(statement.sql).digest('hex').slice(0, 24)}`, statement.sql, statement.params)
    } else found = await rows<Row>(db, query)
    const byId = new Map(found.map((r) => [r.id as string, r]))
    return prepared.map(({ item, f }, i) => {
      const row = byId.get(f.row.id)
      if (!row) return null
      const execution = executionFromRaw(row)
      const [job] = row.job_taken ? jobs.rows([row.job_taken]) : []
      const pre = starts[i]!.pre
      const carriedHere = f.plainStart && pre && row.runs_written ? { runs: row.runs_written.map(stepRunFromRaw), startedSteps: pre.started } : {}
      return { execution, created: true, job: job ?? null, ...(f.plainStart ? { started: { execution, plan: item.v.plan as unknown as Plan, ...carriedHere } } : {}) }
    })
  })

  async function versionFor(tx: Executor, ctx: RequestContext, a: AutomationRow, version: number | undefined): Promise<VersionRow> {
    if (version !== undefined) return automations.versionOf(tx, ctx, a.id, version)
    const live = await automations.liveOf(tx, a.id)
    if (!live) throw new ValidationError(`automation ${a.slug} has no live version: publish one, or name the version to run`, [{ path: '/body/version', message: 'is required while no version is live' }])
    return live
  }

  return {
    find,
    startIn,
    startMany,
    startNow,

    /** A manual start (API, CLI, UI); `claimedBy` as in StartOptions. */
    async start(ctx: RequestContext, ref: string, input: StartInput, claimedBy?: StartOptions['claimedBy']) {
      orgOf(ctx)
      return database.transaction(async (tx) => {
        const a = await automations.find(tx, ctx, ref)
        const v = await versionFor(tx, ctx, a, input.version)
        const { execution, created, job, started } = await startIn(tx, ctx, a, v, input, { triggerType: 'manual' }, { claimedBy })
        return { execution: toExecutionView(execution), created, job, ...(started ? { started } : {}) }
      })
    },

    /** The engine's prefix, for starts that run here at once (set once the engine exists). */
    usePrefix(p: Prefix) {
      prefix = p
    },

    /** An execution started running for this process's job `jobId`, for the engine to take (takeStarted). */
    handOver(jobId: string, started: Started) {
      handedOver.set(jobId, started)
    },

    /** What handOver left for the first attempt of job `jobId`, once. */
    takeStarted(jobId: string): Started | undefined {
      const s = handedOver.get(jobId)
      handedOver.delete(jobId)
      return s
    },

    /** Called by this process's engine once an execution's end is committed (with all of it when the engine knows it). */
    announceFinished(id: string, finished?: Finished) {
      if (finishedHere.listenerCount(id) === 0) return
      const steps = finished?.steps.slice().sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      finishedHere.emit(id, finished && steps ? { ...toExecutionView(finished.execution, finished.version), steps: steps.map(toStepRunView) } : undefined)
    },

    /**
     * Resolves when this process's engine finishes execution `id` (with the execution and its
     * steps, as `get` reads them, when the engine knew all of them), or after `ms` at the latest
     * (an execution another process runs is only seen by reading it again).
     */
    finishedOrAfter(id: string, ms: number): Promise<ExecutionWithSteps | undefined> {
      return new Promise((resolve) => {
        const done = (view?: ExecutionWithSteps) => {
          clearTimeout(timer)
          finishedHere.off(id, done)
          resolve(view)
        }
        const timer = setTimeout(() => done(), ms).unref()
        finishedHere.once(id, done)
      })
    },

    async get(ctx: RequestContext, id: string) {
      if (!UUID.test(id)) throw notFound(id)
      const [found] = await db
        .select({ e: executions, version: workflowVersions.version })
        .from(executions)
        .innerJoin(workflowVersions, eq(workflowVersions.id, executions.versionId))
        .where(and(inOrg(executions, ctx), eq(executions.id, id)))
      if (!found) throw notFound(id)
      const steps = await db.select().from(stepRuns).where(eq(stepRuns.executionId, id)).orderBy(asc(stepRuns.startedAt), asc(stepRuns.id))
      return { ...toExecutionView(found.e, found.version), steps: steps.map(toStepRunView) }
    },

    async list(ctx: RequestContext, f: { limit: number; cursor?: string | undefined; automation?: string | undefined; status?: ExecutionStatus | undefined; batch_id?: string | undefined }) {
      const automationId = f.automation ? (await automations.find(db, ctx, f.automation)).id : undefined
      const page = await listNewestFirst(db, executions, [
        inOrg(executions, ctx),
        automationId ? eq(executions.automationId, automationId) : undefined,
        f.status ? eq(executions.status, f.status) : undefined,
        f.batch_id ? eq(executions.batchId, f.batch_id) : undefined,
      ], f)
      return { data: page.data.map((e) => toExecutionView(e)), next_cursor: page.next_cursor }
    },

    async steps(ctx: RequestContext, id: string) {
      const e = await find(db, ctx, id)
      const steps = await db.select().from(stepRuns).where(eq(stepRuns.executionId, e.id)).orderBy(asc(stepRuns.startedAt), asc(stepRuns.id))
      return { data: steps.map(toStepRunView) }
    },

    /**
     * Queued or waiting: cancelled at once (its pending job too). Running: cancel requested; the
     * engine stops before the next step and aborts the running one. Finished: 409.
     */
    async cancel(ctx: RequestContext, id: string) {
      return database.transaction(async (tx) => {
        const e = await find(tx, ctx, id, true)
        if (FINISHED.includes(e.status)) throw new IllegalTransitionError('execution', e.status, 'cancelled')
        // Running with a runner: ask it to stop. Running between retries (no runner) stops at once.
        if (e.status === 'running' && e.runner !== null) {
          if (!e.cancelRequestedAt) {
            await tx.update(executions).set({ cancelRequestedAt: sql`now()` }).where(eq(executions.id, e.id))
            await events.appendEvent(tx, ctx, { type: 'execution.cancel_requested', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId } })
            // The process running it aborts the running step when this commits.
            await tx.execute(sql`select pg_notify(${CANCEL_CHANNEL}, ${e.id})`)
          }
          return toExecutionView({ ...e, cancelRequestedAt: e.cancelRequestedAt ?? new Date() })
        }
        if (e.jobId) await cancelJob(tx, ctx, events, e.jobId).catch(() => undefined)
        await tx.update(stepRuns).set({ status: 'cancelled', endedAt: sql`now()` }).where(and(eq(stepRuns.executionId, e.id), eq(stepRuns.status, 'waiting')))
        const [row] = await tx
          .update(executions)
          .set({ status: 'cancelled', statusChangedAt: sql`now()`, cancelRequestedAt: sql`now()`, endedAt: sql`now()`, error: { message: 'cancelled before it finished', by: actorLabel(ctx.actor) } })
          .where(eq(executions.id, e.id))
          .returning()
        await events.appendEvent(tx, ctx, { type: 'execution.cancelled', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, was: e.status } })
        return toExecutionView(row!)
      })
    },

    /**
     * Resume a failed (or cancelled) execution where it stopped: completed steps keep their
     * results, the failed step runs again (a new attempt), on the pinned version.
     */
    async resume(ctx: RequestContext, id: string) {
      return database.transaction(async (tx) => {
        const e = await find(tx, ctx, id, true)
        if (e.status !== 'failed' && e.status !== 'cancelled') throw new IllegalTransitionError('execution', e.status, 'running')
        const job = await enqueueJob(tx, ctx, { type: EXECUTE_JOB, params: { execution_id: e.id, resume: true }, maxAttempts: 25 })
        const [row] = await tx
          .update(executions)
          .set({ status: 'queued', statusChangedAt: sql`now()`, jobId: job.id, error: null, output: null, endedAt: null, cancelRequestedAt: null })
          .where(eq(executions.id, e.id))
          .returning()
        await events.appendEvent(tx, ctx, { type: 'execution.resumed', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, was: e.status } })
        return toExecutionView(row!)
      })
    },

    /**
     * A person's decision on a waiting approval step: recorded on the step, which wakes at
     * once. Only a signed-in person may decide (not Stratum itself, not a key without a user),
     * and only one the step names in `approvers` when it names any.
     */
    async decide(ctx: RequestContext, id: string, stepId: string, input: { decision: 'approve' | 'reject'; comment?: string | undefined }) {
      const userId = ctx.credential?.userId
      if (!userId || ctx.actor?.type === 'system') throw new ForbiddenError('an approval is a person\'s decision: sign in as the person deciding')
      return database.transaction(async (tx) => {
        const e = await find(tx, ctx, id, true)
        const [v] = await tx.select({ plan: workflowVersions.plan }).from(workflowVersions).where(eq(workflowVersions.id, e.versionId))
        const step = (v!.plan as unknown as Plan).steps.find((s) => s.id === stepId)
        if (!step || step.type !== 'approval') throw new NotFoundError(`execution ${id} has no approval step ${stepId}`)
        const [run] = await tx.select().from(stepRuns).where(and(eq(stepRuns.executionId, e.id), eq(stepRuns.stepId, stepId))).orderBy(desc(stepRuns.attempt)).limit(1)
        if (!run || run.status !== 'waiting') throw new ConflictError(`approval step ${stepId} is not waiting for a decision (it is ${run?.status ?? 'not started'})`)
        const [person] = await rows<{ email: string }>(tx, sql`select email from users where id = ${userId} and is_active`)
        if (!person) throw new ForbiddenError('an approval is a person\'s decision, and the caller is not an active user')
        const approvers = ((step.config as { approvers?: string[] }).approvers ?? []).map((a) => a.toLowerCase())
        if (approvers.length > 0 && !approvers.includes(person!.email.toLowerCase())) throw new ForbiddenError(`approval step ${stepId} names its approvers, and ${person!.email} is not one of them`)
        const decision = { ...((run.output as Record<string, unknown> | null) ?? {}), decision: input.decision, by: person!.email, user_id: userId, comment: input.comment ?? null, decided_at: new Date().toISOString() }
        await wakeWaitingStep(tx, ctx, e.id, stepId, decision)
        await events.appendEvent(tx, ctx, { type: input.decision === 'approve' ? 'execution.approved' : 'execution.rejected', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, step_id: stepId, by: person!.email, comment: input.comment ?? null } })
        return { execution_id: e.id, step_id: stepId, ...decision }
      })
    },

    /** Approval steps waiting for a decision in the organisation, oldest first. */
    async pendingApprovals(ctx: RequestContext, q: { limit: number }) {
      const found = await rows<{ execution_id: string; automation_id: string; automation: string; step_id: string; output: Record<string, unknown> | null; wake_at: Date | null; started_at: Date }>(
        db,
        sql`select s.execution_id, e.automation_id, a.slug as automation, s.step_id, s.output, s.wake_at, s.started_at
            from step_runs s join executions e on e.id = s.execution_id join automations a on a.id = e.automation_id
            where s.organization_id = ${orgOf(ctx)} and s.step_type = 'approval' and s.status = 'waiting' and e.status in ('waiting', 'running')
            order by s.started_at, s.id limit ${q.limit}`,
      )
      return {
        data: found.map((r) => ({
          execution_id: r.execution_id,
          automation_id: r.automation_id,
          automation: r.automation,
          step_id: r.step_id,
          message: (r.output?.message as string | undefined) ?? null,
          approvers: (r.output?.approvers as string[] | undefined) ?? [],
          waiting_since: new Date(r.started_at).toISOString(),
          expires_at: r.wake_at ? new Date(r.wake_at).toISOString() : null,
        })),
      }
    },

    /** A new execution with the same input, from the start, on the pinned version (default) or the live one. */
    async retry(ctx: RequestContext, id: string, opts: { version?: 'pinned' | 'live' | undefined }) {
      return database.transaction(async (tx) => {
        const e = await find(tx, ctx, id)
        const a = await automations.find(tx, ctx, e.automationId)
        const v = opts.version === 'live' ? await versionFor(tx, ctx, a, undefined) : (await tx.select().from(workflowVersions).where(eq(workflowVersions.id, e.versionId)))[0]!
        const ctxTrigger = (e.context as { trigger?: Record<string, unknown> }).trigger ?? {}
        const { execution } = await startIn(tx, ctx, a, v, { input: e.input, concurrency_key: e.concurrencyKey ?? undefined, batch_id: e.batchId ?? undefined }, { triggerType: e.triggerType, triggerId: e.triggerId, eventId: e.eventId, trigger: ctxTrigger }, { retryOf: e.id })
        return toExecutionView(execution)
      })
    },
  }
}

export type Executions = ReturnType<typeof createExecutions>
