// The engine's two hot writes as one statement each (no BEGIN/COMMIT, one round trip): a data-
// modifying CTE is atomic on its own. Every other write (a wait, a retry, a cancel, a child to
// wake, emitted events) takes the engine's general transaction.
//
// Both statements first lock the execution where it is still held by the calling runner and not
// asked to cancel; when it is not (a lost lease, a cancel), they write nothing and the engine takes
// its general path, which finds out why. docs/benchmarks.md section 10 measures the difference.
import { getTableColumns, type Table } from 'drizzle-orm'
import { completeJobSql } from '../../core/jobs/claimJobs.ts'
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
  logs: unknown[]
  durationMs: number | null
  wakeAt: Date | null
  startedAt: Date
  endedAt: Date | null
}

const UNFINISHED = `status in ('queued', 'running', 'waiting') and cancel_requested_at is null`

/** Upserts the records in $<n> (JSON) for the execution in CTE `cur`, returning the rows. */
const upsertRuns = (n: number) => `
  insert into step_runs (id, organization_id, execution_id, step_id, step_type, attempt, status, input, output, error, logs, duration_ms, wake_at, started_at, ended_at)
  select r.id, cur.organization_id, cur.id, r.step_id, r.step_type, r.attempt, r.status, r.input, r.output, r.error, coalesce(r.logs, '[]'::jsonb), r.duration_ms, r.wake_at, r.started_at, r.ended_at
  from cur, jsonb_to_recordset($${n}::jsonb) as r(id uuid, step_id text, step_type text, attempt int, status text, input jsonb, output jsonb, error jsonb, logs jsonb,
    duration_ms int, wake_at timestamptz, started_at timestamptz, ended_at timestamptz)
  on conflict (execution_id, step_id, attempt) do update set status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error,
    logs = excluded.logs, duration_ms = excluded.duration_ms, wake_at = excluded.wake_at, ended_at = excluded.ended_at
  returning *`

/** $1 execution, $2 runner, $3 records. */
export const STEP_STATEMENT = {
  name: 'stratum_engine_step',
  text: `with cur as (select id, organization_id from executions where id = $1 and runner = $2 and ${UNFINISHED} for update),
    runs as (${upsertRuns(3)})
    select (select count(*)::int from cur) as held, (select coalesce(json_agg(runs), '[]'::json) from runs) as runs`,
}

/**
 * $1 execution, $2 runner, $3 status, $4 output, $5 error, $6 records, $7 events (type, data),
 * $8 source node, $9 actor, $10 trace id, $11 job, $12 worker, $13 job result. Answers the
 * execution's row, the step rows written, whether the job was completed and whether queued
 * executions of the automation wait for a free slot (then the caller wakes them).
 */
export const FINISH_STATEMENT = {
  name: 'stratum_engine_finish',
  text: `with cur as (
      update executions set status = $3, status_changed_at = now(), ended_at = now(), updated_at = now(), output = $4::jsonb, error = $5::jsonb, runner = null
      where id = $1 and runner = $2 and ${UNFINISHED}
      returning *),
    runs as (${upsertRuns(6)}),
    ev as (
      insert into events (event_type, entity_type, entity_id, data, event_metadata, source_node, organization_id, actor, trace_id)
      select r.t, 'execution', cur.id, r.d, '{}'::jsonb, $8, cur.organization_id, $9, $10
      from cur, jsonb_to_recordset($7::jsonb) as r(t text, d jsonb)),
    job as (${completeJobSql('$11', '$12', '$13').replace("status = 'running'", "status = 'running' and exists (select 1 from cur)")})
    select cur.*, (select coalesce(json_agg(runs), '[]'::json) from runs) as step_runs_written, exists (select 1 from job) as job_completed,
      exists (select 1 from executions x where x.automation_id = cur.automation_id and x.status = 'queued' and x.job_id is null) as deferred
    from cur`,
}

export const recordsParam = (records: (StepRecord & { id: string })[]) =>
  JSON.stringify(
    records.map((r) => ({
      id: r.id,
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
  )

/** A jsonb parameter: SQL NULL for null/undefined, else the value as JSON text. */
export const jsonParam = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v))

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
