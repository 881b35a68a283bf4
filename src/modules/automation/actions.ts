// Step types that act on the platform: start another automation (sub_workflow), upsert entities,
// write facts and datapoints, query datapoints, add a scenario log line, enqueue a job. Each runs
// in its execution's context: its organisation, Stratum acting, the triggering trace id (so the
// events the action writes carry it). They call the same services as the API, so the same
// validation applies and a bad item fails the step with the API's field errors.
//
// Effects are at least once, as for http: a crash after an action committed and before the step's
// record did runs the action again. sub_workflow is exactly once: its child is started under an
// idempotency key made of the execution, step and attempt.
import { eq } from 'drizzle-orm'
import type { Database } from '../../core/db/database.ts'
import { DomainError, ValidationError } from '../../core/errors.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import type { Assets } from '../assets/index.ts'
import type { Measurements } from '../measurements/index.ts'
import type { Sources } from '../sources/index.ts'
import { executions, FINISHED } from './automation.schema.ts'
import type { Automations } from './automations.service.ts'
import type { Executions } from './executions.service.ts'
import { render } from './expressions.ts'
import { StepError, type StepType } from './steps.ts'

/** How deep sub-workflows may nest (a workflow that starts itself stops here). */
export const MAX_DEPTH = 10
/** Jobs a workflow may enqueue: upkeep a person could reasonably want on a schedule or an event. */
export const ENQUEUEABLE_JOBS = ['assets.revalidate', 'measurements.retention', 'automation.prune'] as const

/** A service's refusal as a step failure: not worth retrying, with the field errors kept. */
async function asStep<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof DomainError) {
      const errors = err instanceof ValidationError ? err.errors : undefined
      throw new StepError(`${what}: ${err.message}`, { status: err.status, ...(errors ? { errors } : {}) }, err.status === 409 || err.status === 429 || err.status === 503)
    }
    throw err
  }
}

const itemsOf = async (config: Record<string, any>, context: Record<string, unknown>, max: number): Promise<unknown[]> => {
  const v = await render(config.items, context)
  const items = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]
  if (items.length > max) throw new StepError(`items has ${items.length} entries; at most ${max} per step`, {}, false)
  return items
}

const ITEMS_CONFIG = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: { items: { description: 'An array (or a "{{ expression }}" giving one) of the items the API endpoint takes' } },
}

export function subWorkflowStep({ database, automations, runs }: { database: Database; automations: Automations; runs: Executions }): StepType {
  return {
    type: 'sub_workflow',
    summary: "Starts another automation's live version with an input and (by default) waits for it to finish; its output becomes this step's output",
    config: {
      type: 'object',
      required: ['automation'],
      additionalProperties: false,
      properties: {
        automation: { type: 'string', minLength: 1, maxLength: 200, description: 'slug or id' },
        input: {},
        wait: { type: 'boolean', default: true },
        timeout_seconds: { type: 'integer', minimum: 1, maximum: 366 * 86400 },
      },
    },
    pure: false,
    async run(env) {
      const c = env.config as { automation: string; input?: unknown; wait?: boolean; timeout_seconds?: number }
      if (env.waited) {
        const childId = (env.waited.output as { execution_id?: string } | null)?.execution_id
        const [child] = childId ? await database.db.select().from(executions).where(eq(executions.id, childId)) : []
        if (!child) throw new StepError('the sub-workflow execution is gone', { execution_id: childId ?? null }, false)
        if (!FINISHED.includes(child.status)) {
          if (env.waited.wakeAt && c.timeout_seconds) throw new StepError(`sub-workflow ${c.automation} did not finish within ${c.timeout_seconds} s (it is ${child.status})`, { execution_id: child.id }, false)
          return { wait: { until: env.waited.wakeAt, child: child.id }, output: env.waited.output }
        }
        if (child.status !== 'succeeded') throw new StepError(`sub-workflow ${c.automation} ${child.status}: ${String((child.error as { message?: string } | null)?.message ?? '')}`, { execution_id: child.id, error: child.error }, false)
        return { output: { execution_id: child.id, status: child.status, output: child.output ?? null } }
      }
      if (env.execution.depth + 1 > MAX_DEPTH) throw new StepError(`sub-workflows nest at most ${MAX_DEPTH} deep`, {}, false)
      const input = c.input === undefined ? {} : await render(c.input, env.context)
      const wait = c.wait !== false
      const child = await database.transaction(async (tx) => {
        const a = await asStep(`sub-workflow ${c.automation}`, automations.find(tx, env.ctx, c.automation))
        const v = await automations.liveOf(tx, a.id)
        if (!v) throw new StepError(`automation ${a.slug} has no live version`, {}, false)
        const { execution, created } = await runs.startIn(
          tx,
          env.ctx,
          a,
          v,
          { input, idempotency_key: `sub:${env.execution.id}:${env.stepId}:${env.attempt}` },
          { triggerType: 'sub_workflow', trigger: { parent_execution_id: env.execution.id, parent_step_id: env.stepId } },
          { extra: { depth: env.execution.depth + 1 } },
        )
        if (created && wait) await tx.update(executions).set({ parentExecutionId: env.execution.id, parentStepId: env.stepId }).where(eq(executions.id, execution.id))
        return execution
      })
      env.log('info', `started ${c.automation} as execution ${child.id}`)
      if (!wait) return { output: { execution_id: child.id, status: child.status } }
      const until = c.timeout_seconds ? new Date(env.now().getTime() + c.timeout_seconds * 1000) : null
      return { wait: { until, child: child.id }, output: { execution_id: child.id } }
    },
  }
}

export function platformSteps({ database, assets, measurements, sources }: { database: Database; assets: Pick<Assets, 'entities'>; measurements: Pick<Measurements, 'facts' | 'datapoints' | 'queries'>; sources: Pick<Sources, 'scenarios'> }): StepType[] {
  const upsertEntities: StepType = {
    type: 'upsert_entities',
    summary: 'Creates or changes entities (as POST /api/v1/entities/bulk-upsert: by external_id, else by type and name), validated by their types\' schemas',
    config: ITEMS_CONFIG,
    pure: false,
    async run(env) {
      const items = await itemsOf(env.config, env.context, 10_000)
      const r = await asStep('upsert_entities', assets.entities.bulkUpsert(env.ctx, items as never))
      return { output: r, input: { items: items.length } }
    },
  }
  const writeFacts: StepType = {
    type: 'write_facts',
    summary: 'Writes facts (object_type, object_instance, object_type_property, component, date_time, value) as POST /api/v1/facts does',
    config: ITEMS_CONFIG,
    pure: false,
    async run(env) {
      const items = await itemsOf(env.config, env.context, 100_000)
      return { output: await asStep('write_facts', measurements.facts.ingestFacts(env.ctx, items as never)), input: { items: items.length } }
    },
  }
  const writeDatapoints: StepType = {
    type: 'write_datapoints',
    summary: 'Writes datapoints (series_id, timestamps, values, unit) as POST /api/v1/datapoints does',
    config: ITEMS_CONFIG,
    pure: false,
    async run(env) {
      const items = await itemsOf(env.config, env.context, 10_000)
      return { output: await asStep('write_datapoints', measurements.datapoints.ingest(env.ctx, items as never)), input: { items: items.length } }
    },
  }
  const queryDatapoints: StepType = {
    type: 'query_datapoints',
    summary: 'Queries datapoints or aggregates (series_ids, start, end, granularity, aggregates, time_zone, unit) as POST /api/v1/datapoints/query does',
    config: {
      type: 'object',
      required: ['query'],
      additionalProperties: false,
      properties: { query: { description: 'The query body (templates allowed)' } },
    },
    // Reads only: safe to run again, so it runs inline like transform.
    pure: true,
    async run(env) {
      const q = await render(env.config.query, env.context)
      if (!q || typeof q !== 'object' || Array.isArray(q)) throw new StepError('query must be an object', {}, false)
      return { output: await asStep('query_datapoints', measurements.queries.query(env.ctx, q as never)) }
    },
  }
  const scenarioLog: StepType = {
    type: 'scenario_log',
    summary: "Adds a line (message, level, progress 0-100) to a scenario's log, as the workflow run acting for it",
    config: {
      type: 'object',
      required: ['scenario', 'message'],
      additionalProperties: false,
      properties: {
        scenario: { type: 'string', minLength: 1, maxLength: 200 },
        message: { type: 'string', minLength: 1, maxLength: 4000 },
        level: { enum: ['debug', 'info', 'warning', 'error'] },
        progress: { type: ['integer', 'string'] },
      },
    },
    pure: false,
    async run(env) {
      const c = (await render(env.config, env.context)) as { scenario: string; message: string; level?: 'debug' | 'info' | 'warning' | 'error'; progress?: number | string }
      const progress = c.progress === undefined || c.progress === '' ? null : Number(c.progress)
      if (progress !== null && !(Number.isInteger(progress) && progress >= 0 && progress <= 100)) throw new StepError(`progress must be an integer from 0 to 100, got ${JSON.stringify(c.progress)}`, {}, false)
      return { output: await asStep('scenario_log', sources.scenarios.writeLog(env.ctx, String(c.scenario), { message: String(c.message), level: c.level, progress })) }
    },
  }
  const enqueue: StepType = {
    type: 'enqueue_job',
    summary: `Enqueues a job (${ENQUEUEABLE_JOBS.join(', ')}) with params; the output is its id (follow it at GET /api/v1/jobs/{id})`,
    config: {
      type: 'object',
      required: ['type'],
      additionalProperties: false,
      properties: { type: { enum: [...ENQUEUEABLE_JOBS] }, params: {}, priority: { type: 'integer', minimum: -100, maximum: 100 } },
    },
    pure: false,
    async run(env) {
      const params = env.config.params === undefined ? {} : await render(env.config.params, env.context)
      if (!params || typeof params !== 'object' || Array.isArray(params)) throw new StepError('params must be an object', {}, false)
      const job = await database.transaction((tx) =>
        enqueueJob(tx, env.ctx, { type: env.config.type, params: params as Record<string, unknown>, priority: env.config.priority ?? 0, idempotencyKey: `step:${env.execution.id}:${env.stepId}:${env.attempt}` }),
      )
      return { output: { job_id: job.id, type: job.type, status: job.status } }
    },
  }
  return [upsertEntities, writeFacts, writeDatapoints, queryDatapoints, scenarioLog, enqueue]
}
