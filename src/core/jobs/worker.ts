// A worker process's job runner: claims due jobs with FOR UPDATE SKIP LOCKED, holds them with a
// lease renewed by heartbeat, and records each outcome. Several runners (in `stratum serve` and
// in `stratum worker` processes) share one database; a job is held by one runner at a time.
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { ValidationError } from '../errors.ts'
import type { Database } from '../db/database.ts'
import { createWakeup } from '../wakeup.ts'
import type { JobRow } from './jobs.service.ts'
import { systemContext, type RequestContext } from '../context.ts'
import type { EventLog } from '../events/events.service.ts'
import type { Logger } from '../observability/logger.ts'
import type { Metrics } from '../observability/metrics.ts'
import {
  cancelRunningJob,
  claimJobs,
  completeJob,
  failJob,
  reapExpiredJobs,
  releaseJob,
  renewLeases,
  reportProgress,
  type ClaimedJob,
} from './claimJobs.ts'

export class JobCancelledError extends Error {
  constructor() {
    super('job was cancelled')
    this.name = 'JobCancelledError'
  }
}

export class JobTimeoutError extends Error {
  constructor(ms: number) {
    super(`job ran longer than its ${ms} ms timeout`)
    this.name = 'JobTimeoutError'
  }
}

export class LeaseLostError extends Error {
  constructor() {
    super('this worker no longer holds the job (its lease expired)')
    this.name = 'LeaseLostError'
  }
}

class ShutdownError extends Error {
  constructor() {
    super('worker shutting down')
    this.name = 'ShutdownError'
  }
}

export interface RunningJob<P = Record<string, unknown>> {
  id: string
  type: string
  params: P
  /** 1 on the first run. */
  attempt: number
  maxAttempts: number
  /** The job's organisation and a system actor; pass it to services. */
  ctx: RequestContext
  /** Aborted on cancellation, timeout, lost lease or shutdown: long handlers should watch it. */
  signal: AbortSignal
  /** Reports progress 0-100; throws JobCancelledError once cancellation was requested. */
  progress(percent: number, message?: string): Promise<void>
  /** Renews the lease; throws JobCancelledError once cancellation was requested. */
  heartbeat(): Promise<void>
  /** The worker holding the job (`jobs.locked_by`), for a handler that completes it itself (`completedHere`). */
  workerId: string
  /**
   * Tells the worker that the handler has committed the job's completion in its own last
   * statement (`completeJobSql`, where locked_by is this worker): nothing is left to record.
   */
  completedHere(): void
}

export interface JobHandler<P = Record<string, unknown>> {
  type: string
  /** Longest a run may take (default 5 min). */
  timeoutMs?: number
  /** First retry delay; doubles each attempt, with jitter, capped at one hour (default 1 s). */
  backoffMs?: number
  run(job: RunningJob<P>): Promise<unknown>
}

export interface WorkerOptions {
  database: Database
  handlers: JobHandler<any>[]
  events: EventLog
  log: Logger
  metrics?: Metrics
  concurrency: number
  /** Jobs `reserve` may run at once besides the queue's (default `concurrency`). */
  inlineConcurrency?: number
  leaseMs: number
  pollMs: number
  workerId?: string
}

const contextOf = (job: { id: string; organization_id: string | null; trace_id: string | null }) =>
  systemContext({ traceId: job.trace_id, organizationId: job.organization_id, requestId: job.id })

export function retryDelay(attempt: number, baseMs: number): number {
  const exp = Math.min(baseMs * 2 ** Math.max(attempt - 1, 0), 3_600_000)
  return Math.round(exp / 2 + Math.random() * (exp / 2)) // "equal jitter"
}

export function createWorker(options: WorkerOptions) {
  const { database, log, metrics } = options
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const handlers = new Map(options.handlers.map((h) => [h.type, h]))
  const types = [...handlers.keys()]
  const active = new Map<string, AbortController>()
  const runs = new Set<Promise<void>>()
  /** Jobs this process claimed itself when it wrote them (see `reserve`), reserved or running. */
  let inline = 0
  /** Jobs claimed from the queue and running: `concurrency` minus this is what a claim may take. */
  let queued = 0
  let running = false
  const wakeup = createWakeup()
  wakeup.poke()
  let loop: Promise<void> | null = null
  let unlisten: (() => Promise<void>) | null = null
  let timers: NodeJS.Timeout[] = []

  const poke = wakeup.poke
  const sleep = wakeup.sleep

  async function runOne(claimed: ClaimedJob) {
    const handler = handlers.get(claimed.type)!
    const controller = new AbortController()
    active.set(claimed.id, controller)
    const started = performance.now()
    const timeoutMs = handler.timeoutMs ?? 300_000
    const timeout = setTimeout(() => controller.abort(new JobTimeoutError(timeoutMs)), timeoutMs)
    const ctx = contextOf(claimed)
    const checkCancel = (cancel: boolean | undefined) => {
      if (cancel === undefined) {
        controller.abort(new LeaseLostError())
        throw new LeaseLostError()
      }
      if (cancel) {
        controller.abort(new JobCancelledError())
        throw new JobCancelledError()
      }
    }
    let completedHere = false
    const job: RunningJob = {
      workerId,
      completedHere: () => void (completedHere = true),
      id: claimed.id,
      type: claimed.type,
      params: claimed.params,
      attempt: claimed.attempts,
      maxAttempts: claimed.max_attempts,
      ctx,
      signal: controller.signal,
      async progress(percent, message) {
        const p = Math.max(0, Math.min(100, Math.round(percent)))
        const [row] = await reportProgress(database, workerId, claimed.id, p, message ?? null, options.leaseMs)
        checkCancel(row?.cancel)
      },
      async heartbeat() {
        const [row] = await renewLeases(database, workerId, [claimed.id], options.leaseMs)
        checkCancel(row?.cancel)
      },
    }
    let outcome: string
    try {
      const result = await Promise.race([
        handler.run(job),
        new Promise<never>((_, reject) => {
          if (controller.signal.aborted) reject(controller.signal.reason)
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
        }),
      ])
      // A handler that returns in answer to the abort (timeout, cancel) did not complete.
      if (controller.signal.aborted) throw controller.signal.reason
      outcome = completedHere || (await completeJob(database, workerId, claimed.id, result)) ? 'completed' : 'lease_lost'
      if (outcome === 'lease_lost') log.warn({ job: claimed.id, type: claimed.type }, 'finished a job whose lease was lost; its result is not recorded')
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err
      outcome = await recordFailure(claimed, handler, reason)
    } finally {
      clearTimeout(timeout)
      active.delete(claimed.id)
    }
    metrics?.jobsFinished.inc({ type: claimed.type, outcome })
    metrics?.jobDuration.observe({ type: claimed.type, outcome }, (performance.now() - started) / 1000)
  }

  async function recordFailure(claimed: ClaimedJob, handler: JobHandler, reason: unknown): Promise<string> {
    const ctx = contextOf(claimed)
    try {
      if (reason instanceof ShutdownError) {
        await releaseJob(database.db, workerId, claimed.id)
        return 'released'
      }
      if (reason instanceof LeaseLostError) {
        log.warn({ job: claimed.id, type: claimed.type }, 'lost the lease of a running job; another worker may retry it')
        return 'lease_lost'
      }
      if (reason instanceof JobCancelledError) {
        await database.transaction(async (tx) => {
          if (await cancelRunningJob(tx, workerId, claimed.id)) {
            await options.events.appendEvent(tx, ctx, { type: 'job.cancelled', entityType: 'job', entityId: claimed.id, data: { job_type: claimed.type, was: 'running' } })
          }
        })
        return 'cancelled'
      }
      // A domain error's field errors go with it (an import names its bad rows and columns).
      const fieldErrors = reason instanceof ValidationError ? reason.errors.slice(0, 100) : undefined
      const error = reason instanceof Error ? { message: reason.message, name: reason.name, ...(fieldErrors?.length ? { errors: fieldErrors } : {}) } : { message: String(reason) }
      const status = await database.transaction(async (tx) => {
        const s = await failJob(tx, workerId, claimed.id, error, retryDelay(claimed.attempts, handler.backoffMs ?? 1000))
        if (s === 'failed') {
          await options.events.appendEvent(tx, ctx, { type: 'job.failed', entityType: 'job', entityId: claimed.id, data: { job_type: claimed.type, attempts: claimed.attempts, error } })
        }
        return s
      })
      log.warn({ job: claimed.id, type: claimed.type, attempt: claimed.attempts, err: reason, status }, 'job attempt failed')
      return reason instanceof JobTimeoutError ? 'timed_out' : status === 'failed' ? 'failed' : 'retried'
    } catch (err) {
      log.error({ err, job: claimed.id }, 'could not record job failure; its lease will expire and it will be retried')
      return 'error'
    }
  }

  async function heartbeatAll() {
    if (active.size === 0) return
    try {
      // Only the jobs asked about can be judged lost: jobs claimed while the renewal was in
      // flight are in `active` too, and are not in its answer.
      const asked = [...active.keys()]
      const held = await renewLeases(database, workerId, asked, options.leaseMs)
      const heldIds = new Set(held.map((h) => h.id))
      for (const h of held) if (h.cancel) active.get(h.id)?.abort(new JobCancelledError())
      for (const id of asked) if (!heldIds.has(id)) active.get(id)?.abort(new LeaseLostError())
    } catch (err) {
      log.error({ err }, 'lease renewal failed')
    }
  }

  async function reap() {
    try {
      const reaped = await database.transaction(async (tx) => {
        const found = await reapExpiredJobs(tx)
        for (const j of found.filter((r) => r.status !== 'pending')) {
          const ctx = contextOf(j)
          await options.events.appendEvent(tx, ctx, { type: `job.${j.status}`, entityType: 'job', entityId: j.id, data: { job_type: j.type, reason: 'lease expired' } })
        }
        return found
      })
      if (reaped.length > 0) {
        log.warn({ jobs: reaped.map((r) => r.id) }, 'jobs of a lost worker returned to the queue')
        poke()
      }
    } catch (err) {
      log.error({ err }, 'reaping expired jobs failed')
    }
  }

  async function mainLoop() {
    while (running) {
      const free = options.concurrency - queued
      if (free <= 0) {
        // Every slot is busy: a finishing job pokes us awake. (Looping here without awaiting
        // would starve the event loop, heartbeats included.)
        await sleep(options.pollMs)
        continue
      }
      wakeup.take()
      let claimed: ClaimedJob[] = []
      try {
        claimed = await claimJobs(database, workerId, types, free, options.leaseMs)
      } catch (err) {
        if (!running) break
        log.error({ err }, 'claiming jobs failed')
        await sleep(options.pollMs)
        continue
      }
      for (const c of claimed) {
        queued++
        track(
          runOne(c)
            .catch((err) => log.error({ err, job: c.id }, 'job runner crashed'))
            .finally(() => {
              queued--
              poke()
            }),
        )
      }
      if (claimed.length === free || wakeup.dirty) continue
      await sleep(options.pollMs)
    }
  }

  function track(p: Promise<void>) {
    runs.add(p)
    void p.finally(() => runs.delete(p))
  }

  return {
    workerId,
    /**
     * A slot to run a job of `type` here as soon as the transaction that writes it commits,
     * without a round through the queue: the writer inserts the job already claimed by this
     * worker (`claimedBy`), then calls `run` (or `release` when it rolled back). The lease is
     * renewed like any other, so a crash leaves the job to the reaper and another worker. Up to
     * `inlineConcurrency` such jobs run at once, besides the `concurrency` jobs claimed from the
     * queue; null when none is free, the worker is stopping or has no handler for the type.
     */
    reserve(type: string): InlineSlot | null {
      if (!running || !handlers.has(type) || inline >= (options.inlineConcurrency ?? options.concurrency)) return null
      inline++
      let used = false
      return {
        claimedBy: { workerId, leaseMs: options.leaseMs },
        run(job: JobRow) {
          if (used) throw new Error('this slot was used already')
          if (job.lockedBy !== workerId || job.status !== 'running') throw new Error(`job ${job.id} is not claimed by this worker`)
          used = true
          const claimed: ClaimedJob = {
            id: job.id,
            type: job.type,
            params: job.params,
            attempts: job.attempts,
            max_attempts: job.maxAttempts,
            organization_id: job.organizationId,
            created_by: job.createdBy,
            trace_id: job.traceId,
          }
          const p = runOne(claimed)
            .catch((err) => log.error({ err, job: claimed.id }, 'job runner crashed'))
            .finally(() => {
              inline--
            })
          track(p)
          return p
        },
        release() {
          if (used) return
          used = true
          inline--
        },
      }
    },
    async start() {
      if (running) return
      running = true
      unlisten = await database.listen('stratum_jobs', poke)
      timers = [
        setInterval(() => void heartbeatAll(), Math.max(50, Math.floor(options.leaseMs / 3))),
        setInterval(() => void reap(), Math.max(100, Math.floor(options.leaseMs / 2))),
      ]
      await reap()
      loop = mainLoop()
      log.info({ workerId, types, concurrency: options.concurrency }, 'job worker started')
    },
    /** Running jobs right now. */
    get active() {
      return active.size
    },
    /**
     * Stops claiming, lets running jobs finish until the deadline, then gives the rest back to
     * the queue (without spending an attempt).
     */
    async stop(deadlineMs: number) {
      if (!running) return
      running = false
      poke()
      await loop
      const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), deadlineMs).unref())
      if ((await Promise.race([Promise.all(runs).then(() => 'ok' as const), deadline])) === 'late') {
        for (const c of active.values()) c.abort(new ShutdownError())
        await Promise.all(runs)
      }
      for (const t of timers) clearInterval(t)
      await unlisten?.()
      log.info({ workerId }, 'job worker stopped')
    },
  }
}

export type Worker = ReturnType<typeof createWorker>

/**
 * This process's worker, for a request that runs a job it writes at once (Worker.reserve):
 * nothing to reserve in a process that runs no worker (STRATUM_WORKERS=false) or before it starts.
 */
export function createLocalWorker() {
  let worker: Pick<Worker, 'reserve'> | null = null
  return {
    attach(w: Pick<Worker, 'reserve'> | null) {
      worker = w
    },
    reserve(type: string): InlineSlot | null {
      return worker?.reserve(type) ?? null
    },
    /** Whether this process runs a worker (its engine then announces the ends it commits). */
    get running() {
      return worker !== null
    },
  }
}

export type LocalWorker = ReturnType<typeof createLocalWorker>

/** A reserved slot for a job this process writes already claimed (Worker.reserve). */
export interface InlineSlot {
  /** What the job's insert needs: it is written running, locked by this worker. */
  claimedBy: { workerId: string; leaseMs: number }
  /** Runs the committed job (written with `claimedBy`) here; resolves once its outcome is recorded. */
  run(job: JobRow): Promise<void>
  /** Gives the slot back unused (the transaction that would have written the job rolled back). */
  release(): void
}
