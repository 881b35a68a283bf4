// The engine: the `automation.execute` job runs an execution's steps in plan order.
//
// Durability: a step's record is committed before any step with an effect outside the execution
// (http, emit_event, delay...) starts, and that step's own start is committed with it. Pure
// steps (transform, condition, code) run inline and their records travel with the next write,
// so a run of pure steps costs one transaction; a start that runs here at once (a waited webhook)
// runs the first pure steps before its insert and writes their records, with the first step with
// an effect marked running, in the insert itself (prefix). After a crash the next job attempt reloads the
// committed records and carries on: a step recorded as succeeded is never run again; a step
// recorded as running (in flight when the process died) runs again as the same attempt.
//
// Waiting (delay, and retry backoff) holds no worker: the execution records where it stopped and
// a job is enqueued for the time it wakes. Cancellation is checked at every write, and a running
// step sees it through its abort signal.
import { and, eq, inArray, sql } from 'drizzle-orm'
import { linkSignals, type Linked } from '../../core/abort.ts'
import { newId } from '../../core/behaviours/columns.ts'
import { actorLabel, systemContext, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import type { JobHandler, RunningJob } from '../../core/jobs/worker.ts'
import { retryDelay } from '../../core/jobs/worker.ts'
import type { Logger } from '../../core/observability/logger.ts'
import { automations, executions, FINISHED, stepRuns, workflowVersions, type ExecutionRow, type StepRunRow, type StepStatus } from './automation.schema.ts'
import { CANCEL_CHANNEL, EXECUTE_JOB, wakeWaitingStep, type Started } from './executions.service.ts'
import { evaluate, ExpressionError } from './expressions.ts'
import type { Plan, PlanStep } from './graph.ts'
import { StepError, type StepLog, type StepOutcome, type StepType } from './steps.ts'
import { createEngineWrites, type StepRecord } from './engine.writes.ts'

/** The largest step output stored (as JSON text). */
const MAX_OUTPUT_CHARS = 1_048_576


type Finish = { status: 'succeeded'; output: unknown } | { status: 'failed' | 'cancelled'; error: Record<string, unknown> }

class Stop extends Error {}

/** An execution as its end committed, with every step record: what a waiting request answers. */
export interface Finished {
  execution: ExecutionRow
  version: number
  steps: StepRunRow[]
}


export class ExecutionCancelledError extends Error {
  constructor() {
    super('the execution was cancelled')
    this.name = 'ExecutionCancelledError'
  }
}

export function createEngine({
  database,
  events,
  types,
  log,
  clock,
  onFinished = () => {},
  takeStarted = () => undefined,
}: {
  database: Database
  events: EventLog
  types: Map<string, StepType>
  log: Logger
  clock: () => Date
  /** Told after an execution's end (succeeded, failed, cancelled) has committed; with the end as written when the engine knows all of it. */
  onFinished?: (executionId: string, finished?: Finished) => void
  /** An execution the start wrote running for this job (first attempt), handed over in memory. */
  takeStarted?: (jobId: string) => Started | undefined
}) {
  /** Executions this process is running now, by id: a cancel aborts the running step. */
  const active = new Map<string, Linked>()
  const writes = createEngineWrites({ database, sourceNode: events.sourceNode, newId, log })
  let listening: Promise<unknown> | null = null
  const listenForCancels = () =>
    (listening ??= database
      .listen(CANCEL_CHANNEL, (id) => active.get(id)?.abort(new ExecutionCancelledError()))
      .catch((err) => {
        listening = null
        log.warn({ err }, 'cannot listen for cancellations; running steps will see them at their next write')
      }))

  async function run(job: RunningJob<{ execution_id: string }>) {
    await listenForCancels()
    const id = job.params.execution_id
    const runner = `${job.id}:${job.attempt}`
    // Written running by the start that handed it over (same process, first attempt): nothing to read back.
    const started = job.attempt === 1 ? takeStarted(job.id) : undefined
    const begun = started
      ? { e: started.execution, ctx: systemContext({ traceId: started.execution.traceId, organizationId: started.execution.organizationId, requestId: id }), plan: started.plan, runs: started.runs ?? [], limited: false }
      : await begin(id, job.id, runner)
    if (begun === 'ended') onFinished(id)
    if (!begun || begun === 'ended') return { skipped: true }
    // Aborted by the job's signal (shutdown, lost lease) or by a cancel (active).
    const linked = linkSignals(job.signal)
    active.set(id, linked)
    try {
      return await new Run(begun.e, begun.ctx, begun.plan, begun.runs, runner, linked.signal, job, begun.limited, started?.startedSteps).go()
    } finally {
      active.delete(id)
      linked.dispose()
    }
  }

  /**
   * For a start that runs here at once (a waited webhook): the records its insert can carry
   * (Run.prefix), so that the engine's first write is not a statement of its own. The
   * execution is not written yet: `e` is it as it will be.
   */
  async function prefix(e: ExecutionRow, plan: Plan): Promise<{ records: StepRecord[]; started: string[] } | null> {
    const ctx = systemContext({ traceId: e.traceId, organizationId: e.organizationId, requestId: e.id })
    const idle = { id: '', workerId: '', completedHere: () => {} }
    try {
      return await new Run(e, ctx, plan, [], '', new AbortController().signal, idle, false).prefix()
    } catch (err) {
      log.warn({ err, execution_id: e.id }, 'could not run the first steps before the start; the engine runs them')
      return null
    }
  }

  /** The first round of a job: the execution locked and marked running by `runner`, with its plan and step records. */
  function begin(id: string, jobId: string, runner: string) {
    return database.transaction(async (tx) => {
      const [e] = await tx.select().from(executions).where(eq(executions.id, id)).for('update')
      if (!e || FINISHED.includes(e.status)) return null
      // Only the job the execution names may run it (an older job left over from before a resume does nothing).
      if (e.jobId && e.jobId !== jobId) return null
      const ctx = systemContext({ traceId: e.traceId, organizationId: e.organizationId, requestId: e.id })
      if (e.cancelRequestedAt) {
        await finishIn(tx, ctx, e, [], [], { status: 'cancelled', error: { message: 'cancelled before it started' } })
        return 'ended' as const
      }
      if (e.status === 'queued' && !(await slotFree(tx, e))) {
        // Over the automation's concurrency limit: wait, jobless, until a running one finishes.
        await tx.update(executions).set({ jobId: null }).where(eq(executions.id, e.id))
        return null
      }
      const [v] = await tx
        .select({ plan: workflowVersions.plan, max: automations.maxConcurrency, perKey: automations.maxConcurrencyPerKey })
        .from(workflowVersions)
        .innerJoin(automations, eq(automations.id, workflowVersions.automationId))
        .where(eq(workflowVersions.id, e.versionId))
      const runs = await tx.select().from(stepRuns).where(eq(stepRuns.executionId, e.id))
      await tx
        .update(executions)
        .set({ status: 'running', runner, ...(e.status !== 'running' ? { statusChangedAt: sql`now()` } : {}), ...(e.startedAt ? {} : { startedAt: sql`now()` }) })
        .where(eq(executions.id, e.id))
      if (!e.startedAt) await events.appendEvent(tx, ctx, { type: 'execution.started', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, trigger_type: e.triggerType } })
      // Executions of an automation with limits may wait for this one's end (wakeDeferred): it ends in the general transaction.
      const limited = v!.max !== null || v!.perKey !== null || (e.context as { trigger?: { overlap?: string } }).trigger?.overlap === 'queue'
      return { e, ctx, plan: v!.plan as unknown as Plan, runs, limited }
    })
  }

  /** Whether the automation's (and the key's) concurrency limits leave room for one more. */
  async function slotFree(tx: Executor, e: ExecutionRow): Promise<boolean> {
    const [a] = await tx.select({ max: automations.maxConcurrency, perKey: automations.maxConcurrencyPerKey }).from(automations).where(eq(automations.id, e.automationId))
    // A cron trigger with overlap "queue" runs one at a time.
    const queued = e.triggerId !== null && (e.context as { trigger?: { overlap?: string } }).trigger?.overlap === 'queue'
    if (!a || (!queued && a.max === null && (a.perKey === null || e.concurrencyKey === null))) return true
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`automation:${e.automationId}`}))`)
    if (queued) {
      const [busy] = await rows<{ id: string }>(tx, sql`select id from executions where trigger_id = ${e.triggerId} and status in ('running', 'waiting') and id <> ${e.id} limit 1`)
      if (busy) return false
    }
    const [n] = await rows<{ total: number; per_key: number }>(
      tx,
      sql`select count(*)::int as total, count(*) filter (where concurrency_key = ${e.concurrencyKey})::int as per_key
          from executions where automation_id = ${e.automationId} and status in ('running', 'waiting') and id <> ${e.id}`,
    )
    if (a.max !== null && n!.total >= a.max) return false
    if (a.perKey !== null && e.concurrencyKey !== null && n!.per_key >= a.perKey) return false
    return true
  }

  /** Gives deferred executions of the automation another chance once one has finished. */
  async function wakeDeferred(tx: Executor, ctx: RequestContext, e: ExecutionRow) {
    const waiting = await tx
      .select({ id: executions.id })
      .from(executions)
      .where(and(eq(executions.automationId, e.automationId), eq(executions.status, 'queued'), sql`${executions.jobId} is null`))
      .orderBy(executions.createdAt)
      .limit(5)
    for (const w of waiting) {
      const job = await enqueueJob(tx, ctx, { type: EXECUTE_JOB, params: { execution_id: w.id }, maxAttempts: 25 })
      await tx.update(executions).set({ jobId: job.id }).where(eq(executions.id, w.id))
    }
  }

  async function writeRuns(tx: Executor, e: ExecutionRow, runs: StepRecord[]) {
    if (runs.length === 0) return
    await tx
      .insert(stepRuns)
      .values(runs.map((r) => ({ organizationId: e.organizationId, executionId: e.id, ...r, input: r.input as never, output: r.output as never })))
      .onConflictDoUpdate({
        target: [stepRuns.executionId, stepRuns.stepId, stepRuns.attempt],
        set: {
          status: sql`excluded.status`,
          input: sql`excluded.input`,
          output: sql`excluded.output`,
          error: sql`excluded.error`,
          logs: sql`excluded.logs`,
          durationMs: sql`excluded.duration_ms`,
          wakeAt: sql`excluded.wake_at`,
          endedAt: sql`excluded.ended_at`,
        },
      })
  }

  async function finishIn(tx: Executor, ctx: RequestContext, e: ExecutionRow, runs: StepRecord[], emitted: NewEvent[], finish: Finish) {
    await writeRuns(tx, e, runs)
    if (finish.status === 'cancelled') await tx.update(stepRuns).set({ status: 'cancelled', endedAt: sql`now()` }).where(and(eq(stepRuns.executionId, e.id), inArray(stepRuns.status, ['running', 'waiting'])))
    await tx
      .update(executions)
      .set({
        status: finish.status,
        statusChangedAt: sql`now()`,
        endedAt: sql`now()`,
        output: finish.status === 'succeeded' ? (finish.output as never) : null,
        error: finish.status === 'succeeded' ? null : finish.error,
        runner: null,
      })
      .where(eq(executions.id, e.id))
    const type = finish.status === 'succeeded' ? 'execution.completed' : finish.status === 'failed' ? 'execution.failed' : 'execution.cancelled'
    await events.appendEvents(tx, ctx, [
      ...emitted,
      ...runs.filter((r) => r.status === 'failed').map((r) => ({ type: 'step.failed', entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, step_id: r.stepId, attempt: r.attempt, error: r.error } })),
      { type, entityType: 'execution', entityId: e.id, data: { automation_id: e.automationId, ...(finish.status === 'succeeded' ? {} : { error: finish.error }) } },
    ])
    await wakeDeferred(tx, ctx, e)
    // A sub_workflow step waits for this one.
    if (e.parentExecutionId && e.parentStepId) await wakeWaitingStep(tx, ctx, e.parentExecutionId, e.parentStepId)
  }

  class Run {
    private buffer: StepRecord[] = []
    private emitted: NewEvent[] = []
    private latest = new Map<string, StepRunRow>()
    private context: Record<string, unknown>
    private steps: Record<string, { status: string; output: unknown }> = {}
    /** Every step record of the execution as committed, by step and attempt; null once a write did not return its rows. */
    private rows: Map<string, StepRunRow> | null
    /** Sub-workflows steps of this run wait for (a child may end before its parent's wait is written). */
    private children: { stepId: string; child: string }[] = []
    /** Flushes run one at a time (branches run at once). */
    private flushing: Promise<unknown> = Promise.resolve()
    private handedOver: Set<string>

    constructor(
      private e: ExecutionRow,
      private ctx: RequestContext,
      private plan: Plan,
      runs: StepRunRow[],
      private runner: string,
      /** Aborted when the job is (shutdown, lost lease) or the execution is cancelled. */
      private signal: AbortSignal,
      private job: Pick<RunningJob, 'id' | 'workerId' | 'completedHere'>,
      /** The automation has concurrency limits: its end may have queued executions to wake. */
      private limited: boolean,
      /** Steps whose start (a running record) the execution's start wrote with it (prefix): they run without writing it again. */
      startedSteps: readonly string[] = [],
    ) {
      this.handedOver = new Set(startedSteps)
      this.rows = new Map(runs.map((r) => [`${r.stepId}\u0000${r.attempt}`, r]))
      for (const r of runs) if (!this.latest.has(r.stepId) || r.attempt > this.latest.get(r.stepId)!.attempt) this.latest.set(r.stepId, r)
      for (const [id, r] of this.latest) if (r.status === 'succeeded' || r.status === 'skipped') this.steps[id] = { status: r.status, output: r.output ?? null }
      this.context = { ...(e.context as Record<string, unknown>), input: e.input, execution: { id: e.id, batch_id: e.batchId, concurrency_key: e.concurrencyKey }, steps: this.steps }
    }

    /**
     * Runs every step whose predecessors are all decided, independent branches at the same
     * time (up to MAX_PARALLEL_STEPS), until nothing more can run; then writes what comes next:
     * the end, or a wait until the earliest time a waiting or retrying step may go on (other
     * branches carry on meanwhile: a delay on one branch does not hold another).
     */
    async go(): Promise<unknown> {
      const stopped = { execution_id: this.e.id, stopped: true }
      const decided = new Set<string>()
      for (const [id, r] of this.latest) if (r.status === 'succeeded' || r.status === 'skipped') decided.add(id)
      const blocked = new Set<string>()
      const running = new Map<string, Promise<[string, Outcome]>>()
      const later: (Outcome & { kind: 'wait' | 'retry' })[] = []
      let failed: Record<string, unknown> | null = null
      let aborted = false
      const settle = (id: string, outcome: Outcome) => {
        if (outcome.kind === 'done') return void decided.add(id)
        blocked.add(id)
        if (outcome.kind === 'fail') failed ??= outcome.error
        else if (outcome.kind === 'aborted') aborted = true
        else later.push(outcome)
      }
      try {
        for (;;) {
          if (this.signal.aborted) aborted = true
          for (let more = !aborted && !failed; more && !aborted && !failed; ) {
            more = false
            for (const step of this.plan.steps) {
              if (running.size >= MAX_PARALLEL_STEPS || failed || aborted) break
              if (decided.has(step.id) || blocked.has(step.id) || running.has(step.id)) continue
              if (!step.incoming.every((e) => decided.has(e.from))) continue
              if (!(await this.taken(step))) {
                const prev = this.latest.get(step.id)
                this.record(step, prev ? prev.attempt : 1, 'skipped', { startedAt: clock() })
                this.steps[step.id] = { status: 'skipped', output: null }
                decided.add(step.id)
                more = true // what follows it may be decided now
                continue
              }
              if (step.pure) {
                // Pure steps take no time worth overlapping: they run here, in plan order.
                settle(step.id, await this.runStep(step, this.latest.get(step.id)))
                more = true
                continue
              }
              running.set(step.id, this.runStep(step, this.latest.get(step.id)).then((o): [string, Outcome] => [step.id, o]))
            }
          }
          if (running.size === 0) break
          const [id, outcome] = await Promise.race(running.values())
          running.delete(id)
          settle(id, outcome)
          // Waiting while other branches run: its record (an approval to decide) is visible now.
          if (outcome.kind === 'wait' && running.size > 0) await this.flush({})
        }
      } catch (err) {
        // A branch found the execution no longer ours (Stop) or broke: the others end first.
        await Promise.allSettled(running.values())
        if (err instanceof Stop) return stopped
        throw err
      }
      try {
        if (aborted) {
          await this.flush({ aborted: true })
          return stopped
        }
        if (failed) {
          await this.flush({ finish: { status: 'failed', error: failed } })
          return stopped
        }
        if (later.length > 0) {
          const times = later.map((o) => (o.kind === 'wait' ? o.until : o.at)).filter((t): t is Date => t !== null)
          const at = times.length ? new Date(Math.min(...times.map((t) => t.getTime()))) : null
          if (later.some((o) => o.kind === 'wait')) await this.flush({ wait: at })
          else await this.flush({ retryAt: at })
          return stopped
        }
        await this.flush({ finish: { status: 'succeeded', output: this.output() } })
        return { execution_id: this.e.id, status: 'succeeded' }
      } catch (err) {
        if (err instanceof Stop) return stopped
        throw err
      }
    }

    /**
     * The start of `go` an execution's start can write with it: pure steps in plan order up to
     * the first step with an effect that is ready to start, recorded running (not run). Null
     * when something else comes first (a pure step failing, nothing with an effect, a step
     * skipped): the engine then does it all as usual.
     */
    async prefix(): Promise<{ records: StepRecord[]; started: string[] } | null> {
      const decided = new Set<string>()
      for (;;) {
        const step = this.plan.steps.find((s) => !decided.has(s.id) && s.incoming.every((e) => decided.has(e.from)))
        if (!step || !(await this.taken(step))) return null
        if (!step.pure) {
          this.record(step, 1, 'running', { startedAt: clock() })
          return { records: this.buffer, started: [step.id] }
        }
        if ((await this.runStep(step, undefined)).kind !== 'done') return null
        decided.add(step.id)
      }
    }

    /** Whether any edge into the step is taken (entry steps always run). */
    private async taken(step: PlanStep): Promise<boolean> {
      if (step.incoming.length === 0) return true
      for (const edge of step.incoming) {
        const from = this.steps[edge.from]
        if (!from || from.status !== 'succeeded') continue
        if (edge.branch && String((from.output as { result?: unknown } | null)?.result === true) !== edge.branch) continue
        if (edge.condition && !truthy(await evaluate(edge.condition, this.context))) continue
        return true
      }
      return false
    }

    /** Runs one step (or finds it still waiting) to an outcome; its records go to the buffer. */
    private async runStep(step: PlanStep, prev: StepRunRow | undefined): Promise<Outcome> {
      const type = types.get(step.type)!
      let attempt = !prev ? 1 : prev.status === 'failed' || prev.status === 'cancelled' ? prev.attempt + 1 : prev.attempt
      let waited: { wakeAt: Date | null; output: unknown } | null = null
      const now = clock().getTime()
      if (prev?.status === 'waiting') {
        if (prev.wakeAt && prev.wakeAt.getTime() > now) return { kind: 'wait', until: prev.wakeAt }
        if (!prev.wakeAt) return { kind: 'wait', until: null }
        waited = { wakeAt: prev.wakeAt, output: prev.output }
      }
      // A retry not due yet (woken early for another branch).
      if (prev?.status === 'failed' && prev.wakeAt && prev.wakeAt.getTime() > now && prev.attempt < step.max_attempts) return { kind: 'retry', at: prev.wakeAt }
      if (prev?.status === 'failed' && prev.attempt >= step.max_attempts) attempt = prev.attempt + 1 // resumed by hand: one more try
      const handed = prev?.status === 'running' && this.handedOver.delete(step.id)
      const startedAt = prev && (prev.status === 'waiting' || handed) ? prev.startedAt : clock()
      if (!step.pure && !handed) {
        // Recorded now, in the order steps start (branches start while others run).
        this.record(step, attempt, 'running', { startedAt })
        await this.flush({ started: true })
      }
      const logs: StepLog[] = []
      const t0 = performance.now()
      // The step's own signal: the run's, or its timeout.
      const timeout = linkSignals(this.signal)
      const signal = timeout.signal
      let outcome: StepOutcome
      try {
        outcome = await withTimeout(
          type.run({
            stepId: step.id,
            config: step.config as Record<string, any>,
            context: this.context,
            attempt,
            signal,
            now: clock,
            log: (level, message) => void (logs.length < 1000 && logs.push({ ts: new Date().toISOString(), level, message })),
            waited,
            emit: (ev) => this.emitted.push({ type: ev.type, entityType: 'execution', entityId: this.e.id, data: ev.data, metadata: { automation_id: this.e.automationId, step_id: step.id } }),
            execution: { id: this.e.id, automationId: this.e.automationId, depth: Number((this.e.context as { depth?: number }).depth ?? 0) },
            ctx: this.ctx,
          }),
          step.timeout_ms,
          timeout,
          this.signal,
        ).finally(timeout.dispose)
      } catch (err) {
        const durationMs = Math.round(performance.now() - t0)
        if (this.signal.aborted) {
          // Cancelled, shutting down or the lease was lost: keep what is known, the next attempt (if any) carries on.
          this.record(step, attempt, 'running', { startedAt, logs, durationMs })
          return { kind: 'aborted' }
        }
        const retryable = err instanceof StepError ? err.retryable : !(err instanceof ExpressionError)
        const error = { message: (err as Error).message, name: (err as Error).name, ...(err instanceof StepError ? err.details : {}) }
        if (retryable && attempt < step.max_attempts) {
          const at = new Date(clock().getTime() + retryDelay(attempt, step.backoff_ms))
          this.record(step, attempt, 'failed', { startedAt, logs, durationMs, error, input: (err as { input?: unknown }).input ?? null, wakeAt: at })
          return { kind: 'retry', at }
        }
        this.record(step, attempt, 'failed', { startedAt, logs, durationMs, error, input: (err as { input?: unknown }).input ?? null })
        return { kind: 'fail', error: { message: `step ${step.id} failed: ${error.message}`, step_id: step.id, attempt } }
      }
      const durationMs = Math.round(performance.now() - t0)
      if ('wait' in outcome) {
        this.record(step, attempt, 'waiting', { startedAt, logs, durationMs, input: outcome.input ?? null, output: outcome.output ?? null, wakeAt: outcome.wait.until, ended: false, child: outcome.wait.child })
        return { kind: 'wait', until: outcome.wait.until }
      }
      const text = JSON.stringify(outcome.output ?? null)
      if (text.length > MAX_OUTPUT_CHARS) {
        const error = { message: `the step's output is ${text.length} characters of JSON, more than the ${MAX_OUTPUT_CHARS} kept` }
        this.record(step, attempt, 'failed', { startedAt, logs, durationMs, error })
        return { kind: 'fail', error: { message: `step ${step.id} failed: ${error.message}`, step_id: step.id, attempt } }
      }
      this.record(step, attempt, 'succeeded', { startedAt, logs, durationMs, input: outcome.input ?? null, output: outcome.output ?? null })
      this.steps[step.id] = { status: 'succeeded', output: outcome.output ?? null }
      return { kind: 'done' }
    }

    private record(
      step: PlanStep,
      attempt: number,
      status: StepStatus,
      r: { startedAt: Date; logs?: StepLog[]; durationMs?: number; error?: Record<string, unknown>; input?: unknown; output?: unknown; wakeAt?: Date | null; ended?: boolean; child?: string | undefined },
    ) {
      if (r.child) this.children.push({ stepId: step.id, child: r.child })
      const ended = status !== 'running' && r.ended !== false
      this.buffer.push({
        stepId: step.id,
        stepType: step.type,
        attempt,
        status,
        input: r.input ?? null,
        output: r.output ?? null,
        error: r.error ?? null,
        logs: r.logs ?? [],
        durationMs: r.durationMs ?? (status === 'skipped' ? 0 : null),
        wakeAt: r.wakeAt ?? null,
        startedAt: r.startedAt,
        endedAt: ended ? clock() : null,
      })
    }

    /** Outputs of the steps nothing follows that ran: one step's output, or an object by step id. */
    private output(): unknown {
      const sinks = this.plan.steps.filter((s) => s.outgoing.length === 0 && this.steps[s.id]?.status === 'succeeded')
      if (sinks.length === 1) return this.steps[sinks[0]!.id]!.output
      return Object.fromEntries(sinks.map((s) => [s.id, this.steps[s.id]!.output]))
    }

    /**
     * The two hot writes, a step with an effect starting and a plain end, as one statement each
     * (engine.writes.ts). False when they do not apply, or when the execution is no longer
     * this runner's to write (nothing was written): then `flush` takes the general path.
     */
    private async flushFast(next: Next): Promise<boolean> {
      const { finish } = next
      if (this.emitted.length > 0 || next.wait !== undefined || next.retryAt !== undefined || next.aborted) return false
      if (finish ? this.limited || this.e.parentExecutionId : !next.started) return false
      if (finish?.status === 'cancelled') return false
      // Taken now: other branches may record while the statement is in flight; given back when it wrote nothing.
      const taken = this.buffer
      this.buffer = []
      const giveBack = () => {
        this.buffer = [...taken, ...this.buffer]
        return false
      }
      const records = taken
      if (!finish) {
        const runs = await writes.steps({ executionId: this.e.id, runner: this.runner, records })
        if (!runs) return giveBack()
        this.remember(runs)
        return true
      }
      const ended = await writes.finish({
        executionId: this.e.id,
        runner: this.runner,
        records,
        status: finish.status,
        output: finish.status === 'succeeded' ? finish.output : null,
        error: finish.status === 'succeeded' ? null : finish.error,
        events: [
          ...taken.filter((r) => r.status === 'failed').map((r) => ({ type: 'step.failed', data: { automation_id: this.e.automationId, step_id: r.stepId, attempt: r.attempt, error: r.error } })),
          { type: finish.status === 'succeeded' ? 'execution.completed' : 'execution.failed', data: { automation_id: this.e.automationId, ...(finish.status === 'succeeded' ? {} : { error: finish.error }) } },
        ],
        traceId: this.ctx.traceId,
        actor: actorLabel(this.ctx.actor),
        jobId: this.job.id,
        workerId: this.job.workerId,
      })
      if (!ended) return giveBack()
      if (ended.jobCompleted) this.job.completedHere()
      this.remember(ended.runs)
      const { execution } = ended
      if (ended.deferred) {
        // Limits were set while this one ran: executions wait for a free slot (rare; a crash before this leaves them to the next end).
        await database.transaction((tx) => wakeDeferred(tx, this.ctx, execution)).catch((err) => log.error({ err, execution_id: execution.id }, 'could not wake the executions waiting for a slot'))
      }
      const version = (this.e.context as { version?: unknown }).version
      onFinished(this.e.id, this.rows && typeof version === 'number' ? { execution, version, steps: [...this.rows.values()] } : undefined)
      return true
    }

    private remember(runs: StepRunRow[]) {
      if (this.rows) for (const row of runs) this.rows.set(`${row.stepId}\u0000${row.attempt}`, row)
    }

    /**
     * One transaction: the buffered step records and events, then what happens next. Stops
     * the run (throws Stop) when another runner holds the execution or a cancel was asked for.
     */
    private flush(next: Next): Promise<void> {
      const p = this.flushing.then(() => this.flushNow(next))
      this.flushing = p.catch(() => {})
      return p
    }

    private async flushNow(next: Next) {
      if (await this.flushFast(next)) return
      this.rows = null
      const runs = this.buffer
      const emitted = this.emitted
      this.buffer = []
      this.emitted = []
      let ended = false
      const stop = await database.transaction(async (tx) => {
        ended = false
        const [cur] = await tx.select().from(executions).where(eq(executions.id, this.e.id)).for('update')
        if (!cur || cur.runner !== this.runner || FINISHED.includes(cur.status)) return true
        if (cur.cancelRequestedAt) {
          await finishIn(tx, this.ctx, cur, runs, emitted, { status: 'cancelled', error: { message: 'cancelled while running' } })
          ended = true
          return true
        }
        if (next.finish) {
          await finishIn(tx, this.ctx, cur, runs, emitted, next.finish)
          ended = true
          return false
        }
        await writeRuns(tx, cur, runs)
        await events.appendEvents(tx, this.ctx, [
          ...emitted,
          ...runs.filter((r) => r.status === 'failed').map((r) => ({ type: 'step.failed', entityType: 'execution', entityId: cur.id, data: { automation_id: cur.automationId, step_id: r.stepId, attempt: r.attempt, error: r.error, will_retry: true } })),
        ])
        if (next.wait !== undefined || next.retryAt !== undefined) {
          // A child may have finished before its parent's wait was written (its wake found nothing waiting): wake that step now.
          const ended = this.children.length
            ? await tx.select({ id: executions.id }).from(executions).where(and(inArray(executions.id, this.children.map((c) => c.child)), inArray(executions.status, [...FINISHED])))
            : []
          for (const c of this.children.filter((c) => ended.some((x) => x.id === c.child))) {
            await tx.update(stepRuns).set({ wakeAt: sql`now()` }).where(and(eq(stepRuns.executionId, cur.id), eq(stepRuns.stepId, c.stepId), eq(stepRuns.status, 'waiting')))
          }
          // The earliest a waiting or retrying step goes on, as committed (a person may have decided meanwhile).
          const [first] = await rows<{ at: Date | string | null }>(
            tx,
            sql`select min(s.wake_at) as at from step_runs s
                where s.execution_id = ${cur.id} and s.wake_at is not null and s.status in ('waiting', 'failed')
                  and s.attempt = (select max(l.attempt) from step_runs l where l.execution_id = s.execution_id and l.step_id = s.step_id)`,
          )
          const at = first?.at ? new Date(first.at) : null
          const job = at ? await enqueueJob(tx, this.ctx, { type: EXECUTE_JOB, params: { execution_id: cur.id }, runAt: at, maxAttempts: 25 }) : null
          await tx.update(executions).set({ status: next.wait !== undefined ? 'waiting' : 'running', statusChangedAt: sql`now()`, jobId: job?.id ?? null, runner: null }).where(eq(executions.id, cur.id))
          if (next.wait !== undefined) await events.appendEvent(tx, this.ctx, { type: 'execution.waiting', entityType: 'execution', entityId: cur.id, data: { automation_id: cur.automationId, until: at?.toISOString() ?? null } })
        }
        return false
      })
      if (ended) onFinished(this.e.id)
      if (stop && !next.aborted) throw new Stop()
    }
  }

  const handler: JobHandler<{ execution_id: string }> = {
    type: EXECUTE_JOB,
    timeoutMs: 3_600_000,
    backoffMs: 500,
    run: async (job) => {
      try {
        return await run(job)
      } catch (err) {
        log.error({ err, execution_id: job.params.execution_id }, 'execution run failed; the job will retry')
        throw err
      }
    },
  }
  return { handler, prefix }
}

type Next = { started?: boolean; finish?: Finish; wait?: Date | null; retryAt?: Date | null; aborted?: boolean }

/** What running a step came to. */
type Outcome = { kind: 'done' } | { kind: 'wait'; until: Date | null } | { kind: 'retry'; at: Date } | { kind: 'fail'; error: Record<string, unknown> } | { kind: 'aborted' }

/** Independent branches of one execution that run at once, at most. */
const MAX_PARALLEL_STEPS = 10

const truthy = (v: unknown) => Boolean(v) && !(Array.isArray(v) && v.length === 0)

/** The step's promise, or its timeout, or the job's abort, whichever comes first. */
function withTimeout<T>(p: Promise<T>, ms: number, timeout: Pick<Linked, 'abort'>, jobSignal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new StepError(`the step ran longer than its ${ms} ms timeout`)
      timeout.abort(err)
      reject(err)
    }, ms)
    const onAbort = () => reject(jobSignal.reason)
    jobSignal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        clearTimeout(timer)
        jobSignal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (err) => {
        clearTimeout(timer)
        jobSignal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
