// The engine's two hot writes, a step with an effect starting and a plain end, as one statement
// each (a data-modifying CTE is atomic on its own: no BEGIN/COMMIT), and for many executions at
// once: the writes of executions that reach the same point while a statement is in flight go
// together in the next one (group commit). Every other write (a wait, a retry, a cancel, a child
// to wake, emitted events) takes the engine's general transaction.
//
// Both statements lock each execution only where it is still held by the calling runner and not
// asked to cancel; where it is not (a lost lease, a cancel), they write nothing for it and the
// engine takes its general path, which finds out why. docs/benchmarks.md section 10 measures them.
import { getTableColumns, type Table } from 'drizzle-orm'
import type { Database } from '../../core/db/database.ts'
import { groupCommit } from '../../core/db/groupCommit.ts'
import { JOB_COMPLETED_SET } from '../../core/jobs/claimJobs.ts'
import type { Logger } from '../../core/observability/logger.ts'
import type { StepLog } from './steps.ts'
import { executions, stepRuns, type ExecutionRow, type StepRunRow, type StepStatus } from './automation.schema.ts'

/** A step record as the engine buffers it. */
export interface StepRecord {
  stepId: string
  stepType: string
  attempt: number
  status: StepStatus
  input: unknown
  output: unknown
  error: Record<string, unknown> | null
  logs: StepLog[]
  durationMs: number | null
  wakeAt: Date | null
  startedAt: Date
  endedAt: Date | null
}

/** Step records to write for an execution its runner holds. */
export interface StepWrite {
  executionId: string
  runner: string
  records: StepRecord[]
}

/** An execution's end: its last records, its events, and the job that ran it, completed. */
export interface FinishWrite extends StepWrite {
  status: 'succeeded' | 'failed'
  output: unknown
  error: Record<string, unknown> | null
  events: { type: string; data: Record<string, unknown> }[]
  traceId: string | null
  actor: string | null
  jobId: string
  workerId: string
}

export interface Ended {
  execution: ExecutionRow
  /** The step rows written (as committed). */
  runs: StepRunRow[]
  /** The job was completed in the same statement (still held by this worker). */
  jobCompleted: boolean
  /** Queued executions of the automation wait for a free slot: the caller wakes them. */
  deferred: boolean
}

const HELD = `e.status in ('queued', 'running', 'waiting') and e.cancel_requested_at is null`

/** The columns of a record in recordsOf's JSON. */
const STEP_RUN_COLUMNS = `execution_id uuid, id uuid, step_id text, step_type text, attempt int, status text, input jsonb, output jsonb, error jsonb, logs jsonb,
    duration_ms int, wake_at timestamptz, started_at timestamptz, ended_at timestamptz`

/**
 * Inserts the records in the JSON at `json` (recordsOf) for the executions of CTE `from` (id,
 * organization_id): the text before and after the JSON, for a statement to put it in.
 */
export const insertRunsAround = (from: string): [string, string] => [
  `insert into step_runs (id, organization_id, execution_id, step_id, step_type, attempt, status, input, output, error, logs, duration_ms, wake_at, started_at, ended_at)
  select r.id, ${from}.organization_id, ${from}.id, r.step_id, r.step_type, r.attempt, r.status, r.input, r.output, r.error, coalesce(r.logs, '[]'::jsonb), r.duration_ms, r.wake_at, r.started_at, r.ended_at
  from jsonb_to_recordset(`,
  `::jsonb) as r(${STEP_RUN_COLUMNS})
  join ${from} on ${from}.id = r.execution_id`,
]

/** Upserts the records in $<n> (JSON, each naming its execution) of the executions in CTE `cur`, returning the rows. */
const upsertRuns = (n: number) => `
  ${insertRunsAround('cur').join(`$${n}`)}
  on conflict (execution_id, step_id, attempt) do update set status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error,
    logs = excluded.logs, duration_ms = excluded.duration_ms, wake_at = excluded.wake_at, ended_at = excluded.ended_at
  returning *`

// The rows to lock are also named by an array ($3, $5): the planner cannot see into the JSON, and
// a generic plan joining it to executions or jobs chose to scan the whole table.

/** $1 executions (id, runner), $2 records, $3 their ids. One row per execution written. */
const STEP = {
  name: 'stratum_engine_steps',
  text: `with x as (select * from jsonb_to_recordset($1::jsonb) as x(id uuid, runner text)),
    cur as (select e.id, e.organization_id from executions e join x on x.id = e.id and x.runner = e.runner where e.id = any($3::uuid[]) and ${HELD} for update of e),
    runs as (${upsertRuns(2)})
    select cur.id, (select coalesce(json_agg(runs), '[]'::json) from runs where runs.execution_id = cur.id) as runs from cur`,
}

/** $1 executions and their ends, $2 records, $3 events, $4 source node, $5 their ids, $6 their jobs' ids. One row per execution ended. */
const FINISH = {
  name: 'stratum_engine_finishes',
  text: `with x as (select * from jsonb_to_recordset($1::jsonb) as x(id uuid, runner text, status text, output jsonb, error jsonb, trace_id text, actor text, job_id uuid, worker_id text, job_result jsonb)),
    cur as (
      update executions e set status = x.status, status_changed_at = now(), ended_at = now(), updated_at = now(), output = x.output, error = x.error, runner = null
      from x where e.id = any($5::uuid[]) and e.id = x.id and e.runner = x.runner and ${HELD}
      returning e.*),
    runs as (${upsertRuns(2)}),
    ev as (
      insert into events (event_type, entity_type, entity_id, data, event_metadata, source_node, organization_id, actor, trace_id)
      select r.t, 'execution', cur.id, r.d, '{}'::jsonb, $4, cur.organization_id, x.actor, x.trace_id
      from jsonb_to_recordset($3::jsonb) as r(execution_id uuid, t text, d jsonb) join cur on cur.id = r.execution_id join x on x.id = r.execution_id),
    job as (
      update jobs j set ${JOB_COMPLETED_SET}, result = x.job_result
      from x where j.id = any($6::uuid[]) and j.id = x.job_id and j.locked_by = x.worker_id and j.status = 'running' and x.id in (select id from cur)
      returning j.id)
    select cur.*, (select coalesce(json_agg(runs), '[]'::json) from runs where runs.execution_id = cur.id) as step_runs_written,
      exists (select 1 from job where job.id = cur.job_id) as job_completed,
      exists (select 1 from executions q where q.automation_id = cur.automation_id and q.status = 'queued' and q.job_id is null) as deferred
    from cur`,
}

/** The records of `writes` as the JSON the statements read with jsonb_to_recordset (STEP_RUN_COLUMNS). */
export const recordsOf = (writes: Pick<StepWrite, 'executionId' | 'records'>[], newId: () => string) =>
  JSON.stringify(
    writes.flatMap((w) =>
      w.records.map((r) => ({
        execution_id: w.executionId,
        id: newId(),
        step_id: r.stepId,
        step_type: r.stepType,
        attempt: r.attempt,
        status: r.status,
        input: r.input ?? null,
        output: r.output ?? null,
        error: r.error,
        logs: r.logs,
        duration_ms: r.durationMs,
        wake_at: r.wakeAt,
        started_at: r.startedAt,
        ended_at: r.endedAt,
      })),
    ),
  )

/**
 * The engine's hot writes for one database. `steps` answers the rows written, or null where the
 * runner no longer holds the execution; `finish` the execution as it ended, or null likewise.
 */
export function createEngineWrites({ database, sourceNode, newId, log, maxInFlight = 1 }: { database: Database; sourceNode: string; newId: () => string; log: Logger; maxInFlight?: number }) {
  const steps = groupCommit<StepWrite, StepRunRow[] | null>({ maxInFlight, log }, async (writes) => {
    const found = await database.prepared<{ id: string; runs: Record<string, unknown>[] }>(STEP.name, STEP.text, [
      JSON.stringify(writes.map((w) => ({ id: w.executionId, runner: w.runner }))),
      recordsOf(writes, newId),
      writes.map((w) => w.executionId),
    ])
    const byId = new Map(found.map((r) => [r.id, r.runs.map(stepRunFromRaw)]))
    return writes.map((w) => byId.get(w.executionId) ?? null)
  })
  const finish = groupCommit<FinishWrite, Ended | null>({ maxInFlight, log }, async (writes) => {
    const ends = writes.map((w) => ({
      id: w.executionId,
      runner: w.runner,
      status: w.status,
      output: w.status === 'succeeded' ? (w.output ?? null) : null,
      error: w.status === 'succeeded' ? null : w.error,
      trace_id: w.traceId,
      actor: w.actor,
      job_id: w.jobId,
      worker_id: w.workerId,
      job_result: { execution_id: w.executionId, status: w.status },
    }))
    const news = writes.flatMap((w) => w.events.map((e) => ({ execution_id: w.executionId, t: e.type, d: e.data })))
    const found = await database.prepared<Record<string, unknown> & { step_runs_written: Record<string, unknown>[]; job_completed: boolean; deferred: boolean }>(FINISH.name, FINISH.text, [
      JSON.stringify(ends),
      recordsOf(writes, newId),
      JSON.stringify(news),
      sourceNode,
      writes.map((w) => w.executionId),
      writes.map((w) => w.jobId),
    ])
    const byId = new Map(found.map((r) => [r.id as string, r]))
    return writes.map((w) => {
      const r = byId.get(w.executionId)
      return r ? { execution: fromRaw<ExecutionRow>(executions, r), runs: r.step_runs_written.map(stepRunFromRaw), jobCompleted: r.job_completed, deferred: r.deferred } : null
    })
  })
  return { steps, finish }
}

export type EngineWrites = ReturnType<typeof createEngineWrites>

/** A row read by raw SQL (snake_case; timestamps as Date or, inside JSON, as text) as drizzle would map it. */
function fromRaw<T>(table: Table, raw: Record<string, unknown>): T {
  const out: Record<string, unknown> = {}
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    const v = raw[col.name]
    out[key] = v === null || v === undefined ? null : col.columnType === 'PgTimestamp' ? (v instanceof Date ? v : new Date(v as string)) : col.columnType === 'PgBigInt53' ? Number(v) : v
  }
  return out as T
}

export const executionFromRaw = (raw: Record<string, unknown>) => fromRaw<ExecutionRow>(executions, raw)
export const stepRunFromRaw = (raw: Record<string, unknown>) => fromRaw<StepRunRow>(stepRuns, raw)
