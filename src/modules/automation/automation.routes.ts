// Automations, their workflow versions and their executions (with step runs): the API of the
// engine. Executions start manually here (with input, an idempotency key, a concurrency key and
// a batch id); `?wait=` holds the answer until the execution finishes or the wait runs out.
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { systemContext } from '../../core/context.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { JobSchema } from '../../core/jobs/jobs.routes.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { EXECUTION_STATUSES, SCHEDULE_LOG_STATUSES, STEP_STATUSES, TRIGGER_TYPES } from './automation.schema.ts'
import type { Triggers } from './triggers.service.ts'
import type { Automations } from './automations.service.ts'
import { EXECUTE_JOB, type Executions, type StartOptions, type Started } from './executions.service.ts'
import type { JobRow } from '../../core/jobs/jobs.service.ts'
import type { LocalWorker } from '../../core/jobs/worker.ts'
import { GRAPH_SCHEMA, type Graph, type GraphCompiler } from './graph.ts'
import type { StepType } from './steps.ts'

const tags = ['automations']
const read = 'automations:read'
const write = 'automations:write'

const Json = Type.Unknown()
const JsonObject = Type.Record(Type.String(), Type.Unknown())
const GraphSchema = Type.Unsafe<Graph>({ ...GRAPH_SCHEMA, description: 'Steps (id, type, config, retry, timeout_ms) and edges (from, to, condition, branch)' })
const Ref = Type.String({ minLength: 1, maxLength: 100, description: 'Automation id or slug' })
const RefParams = Strict({ ref: Ref })
const VersionParams = Strict({ ref: Ref, version: Type.Integer({ minimum: 1 }) })
const Limit = Nullable(Type.Integer({ minimum: 1, maximum: 100_000 }))

const AutomationSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  slug: Type.String(),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  config: JsonObject,
  process_type: Nullable(Type.String({ description: 'Set for a seed-001 process (recipe, procedure)' })),
  max_concurrency: Nullable(Type.Integer()),
  max_concurrency_per_key: Nullable(Type.Integer()),
  retention_days: Nullable(Type.Integer()),
  retention_count: Nullable(Type.Integer()),
  live_version: Nullable(Type.Integer()),
  metadata: JsonObject,
  created_by: Nullable(Type.String()),
  modified_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const Fields = {
  description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
  enabled: Type.Optional(Type.Boolean()),
  config: Type.Optional(JsonObject),
  process_type: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))),
  max_concurrency: Type.Optional(Limit),
  max_concurrency_per_key: Type.Optional(Limit),
  retention_days: Type.Optional(Limit),
  retention_count: Type.Optional(Limit),
  metadata: Type.Optional(JsonObject),
}
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })
const Slug = Type.String({ minLength: 1, maxLength: 80, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' })
const NewAutomation = Strict({
  name: Name,
  slug: Type.Optional(Slug),
  ...Fields,
  graph: Type.Optional(GraphSchema),
  publish: Type.Optional(Type.Boolean({ description: 'Make the first version live (default true when a graph is given)' })),
})
const AutomationPatch = Strict({ name: Type.Optional(Name), slug: Type.Optional(Slug), ...Fields })

const VersionSchema = Type.Object({
  id: Uuid(),
  automation_id: Uuid(),
  version: Type.Integer(),
  graph: JsonObject,
  plan: JsonObject,
  is_live: Type.Boolean(),
  note: Nullable(Type.String()),
  published_at: Nullable(Timestamp()),
  published_by: Nullable(Type.String()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
})

const StepRunSchema = Type.Object({
  id: Uuid(),
  step_id: Type.String(),
  step_type: Type.String(),
  attempt: Type.Integer(),
  status: StringEnum(STEP_STATUSES),
  input: Json,
  output: Json,
  error: Nullable(JsonObject),
  logs: Type.Array(Type.Object({ ts: Type.String(), level: Type.String(), message: Type.String() })),
  duration_ms: Nullable(Type.Integer()),
  wake_at: Nullable(Timestamp()),
  started_at: Timestamp(),
  ended_at: Nullable(Timestamp()),
})
const ExecutionFields = {
  id: Uuid(),
  automation_id: Uuid(),
  version_id: Uuid(),
  version: Type.Optional(Type.Integer()),
  trigger_id: Nullable(Uuid()),
  trigger_type: Type.String(),
  event_id: Nullable(Type.Integer()),
  status: StringEnum(EXECUTION_STATUSES),
  status_changed_at: Timestamp(),
  input: Json,
  output: Json,
  error: Nullable(JsonObject),
  idempotency_key: Nullable(Type.String()),
  concurrency_key: Nullable(Type.String()),
  batch_id: Nullable(Type.String()),
  trace_id: Type.String(),
  job_id: Nullable(Uuid()),
  retry_of: Nullable(Uuid()),
  cancel_requested: Type.Boolean(),
  started_at: Nullable(Timestamp()),
  ended_at: Nullable(Timestamp()),
  duration_ms: Nullable(Type.Integer()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
}
export const ExecutionSchema = Type.Object(ExecutionFields)
const ExecutionWithSteps = Type.Object({ ...ExecutionFields, steps: Type.Array(StepRunSchema) })
const StartBody = Strict({
  input: Type.Optional(Json),
  idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A second start with the same key returns the first execution' })),
  concurrency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Executions with the same key count against max_concurrency_per_key (one device, one well)' })),
  batch_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Seed 001 process_instance.batch_id' })),
  version: Type.Optional(Type.Integer({ minimum: 1, description: 'Run this version instead of the live one' })),
})
const WaitQuery = Strict({ wait: Type.Optional(Type.Number({ minimum: 0, maximum: 300, description: 'Seconds to wait for the execution to finish before answering' })) })

const FINISHED = new Set(['succeeded', 'failed', 'cancelled'])

export const automationRoutes: FastifyPluginAsyncTypebox<{ automations: Automations; executions: Executions; compiler: GraphCompiler; types: Map<string, StepType>; localWorker: LocalWorker }> = async (
  app,
  { automations, executions, compiler, types, localWorker },
) => {
  const waitFor = (ctx: Parameters<Executions['get']>[0], id: string, seconds: number) => waitForExecution(executions, ctx, id, seconds, false, localWorker.running)

  app.get(
    '/automations/step-types',
    {
      config: { scope: read },
      schema: {
        operationId: 'listStepTypes',
        tags,
        summary: 'The step types a workflow graph may use, with the JSON Schema of each config',
        response: { 200: Type.Object({ data: Type.Array(Type.Object({ type: Type.String(), summary: Type.String(), pure: Type.Boolean(), config_schema: JsonObject })) }) },
      },
    },
    () => ({ data: [...types.values()].map((t) => ({ type: t.type, summary: t.summary, pure: t.pure, config_schema: t.config })) }),
  )
  app.post(
    '/automations/validate',
    {
      config: { scope: read },
      schema: {
        operationId: 'validateWorkflow',
        tags,
        summary: 'Check a workflow graph without saving it: its problems, or the plan it compiles to',
        body: Strict({ graph: Json }),
        response: { 200: Type.Object({ valid: Type.Boolean(), errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() })), plan: Nullable(JsonObject) }) },
      },
    },
    (req) => {
      const errors = compiler.problems(req.body.graph, '/body/graph')
      return { valid: errors.length === 0, errors, plan: errors.length ? null : (compiler.compile(req.body.graph as Graph) as unknown as Record<string, unknown>) }
    },
  )
  app.post(
    '/automations',
    {
      config: { scope: write },
      schema: {
        operationId: 'createAutomation',
        tags,
        summary: 'Create an automation, optionally with its first workflow version (live unless publish is false)',
        body: {
          ...NewAutomation,
          examples: [
            {
              name: 'Notify on high pressure',
              graph: {
                steps: [
                  { id: 'shape', type: 'transform', config: { expression: '{ "well": input.well, "psi": input.value }' } },
                  { id: 'post', type: 'http', config: { method: 'POST', url: 'https://example.com/hook', body: '{{ steps.shape.output }}' } },
                ],
                edges: [{ from: 'shape', to: 'post' }],
              },
            },
          ],
        },
        response: { 201: AutomationSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => {
      const created = await automations.create(req.ctx, req.body)
      return reply.code(201).header('location', `/api/v1/automations/${created.id}`).send(created)
    },
  )
  app.get(
    '/automations',
    {
      config: { scope: read },
      schema: { operationId: 'listAutomations', tags, summary: 'Automations, newest first', querystring: Strict({ ...pageQuery, enabled: Type.Optional(Type.Boolean()), process_type: Type.Optional(Type.String({ maxLength: 100 })) }), response: { 200: pageOf(AutomationSchema) } },
    },
    (req) => automations.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/automations/:ref',
    { config: { scope: read }, schema: { operationId: 'getAutomation', tags, summary: 'One automation (by id or slug)', params: RefParams, response: { 200: AutomationSchema, ...problems(404) } } },
    (req) => automations.get(req.ctx, req.params.ref),
  )
  app.patch(
    '/automations/:ref',
    { config: { scope: write }, schema: { operationId: 'updateAutomation', tags, summary: 'Change an automation (JSON merge patch); its graph changes by new versions', params: RefParams, body: AutomationPatch, response: { 200: AutomationSchema, ...problems(404, 409, 422) } } },
    (req) => automations.update(req.ctx, req.params.ref, req.body),
  )
  app.delete(
    '/automations/:ref',
    { config: { scope: write }, schema: { operationId: 'deleteAutomation', tags, summary: 'Delete an automation with its versions and executions', params: RefParams, response: { 204: Type.Null(), ...problems(404) } } },
    async (req, reply) => reply.code(204).send(await automations.remove(req.ctx, req.params.ref).then(() => null)),
  )

  app.post(
    '/automations/:ref/versions',
    {
      config: { scope: write },
      schema: {
        operationId: 'createWorkflowVersion',
        tags,
        summary: 'Write the next version of the workflow graph (validated and compiled); live at once with publish: true',
        params: RefParams,
        body: Strict({ graph: GraphSchema, note: Type.Optional(Type.String({ maxLength: 2000 })), publish: Type.Optional(Type.Boolean()) }),
        response: { 201: VersionSchema, ...problems(404, 409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await automations.addVersion(req.ctx, req.params.ref, req.body)),
  )
  app.get(
    '/automations/:ref/versions',
    { config: { scope: read }, schema: { operationId: 'listWorkflowVersions', tags, summary: 'Version history, newest first', params: RefParams, querystring: Strict(pageQuery), response: { 200: pageOf(VersionSchema), ...problems(404) } } },
    (req) => automations.listVersions(req.ctx, req.params.ref, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/automations/:ref/versions/:version',
    { config: { scope: read }, schema: { operationId: 'getWorkflowVersion', tags, summary: 'One version with its graph and compiled plan', params: VersionParams, response: { 200: VersionSchema, ...problems(404) } } },
    (req) => automations.getVersion(req.ctx, req.params.ref, req.params.version),
  )
  app.post(
    '/automations/:ref/versions/:version/publish',
    { config: { scope: write }, schema: { operationId: 'publishWorkflowVersion', tags, summary: 'Make this version the only live one (running executions keep theirs)', params: VersionParams, response: { 200: VersionSchema, ...problems(404, 409) } } },
    (req) => automations.publish(req.ctx, req.params.ref, req.params.version),
  )
  app.post(
    '/automations/:ref/versions/:version/revert',
    { config: { scope: write }, schema: { operationId: 'revertWorkflowVersion', tags, summary: "Publish this version's graph again as the next version", params: VersionParams, response: { 201: VersionSchema, ...problems(404, 409) } } },
    async (req, reply) => reply.code(201).send(await automations.revert(req.ctx, req.params.ref, req.params.version)),
  )
  app.get(
    '/automations/:ref/versions/:version/diff',
    {
      config: { scope: read },
      schema: {
        operationId: 'diffWorkflowVersions',
        tags,
        summary: 'What changed between two versions: steps added, removed and changed (with the fields), edges added and removed',
        params: VersionParams,
        querystring: Strict({ against: Type.Optional(Type.Integer({ minimum: 1, description: 'The earlier version (default: the one before)' })) }),
        response: {
          200: Type.Object({
            automation_id: Uuid(),
            from: Type.Integer(),
            to: Type.Integer(),
            steps_added: Type.Array(Type.String()),
            steps_removed: Type.Array(Type.String()),
            steps_changed: Type.Array(Type.Object({ id: Type.String(), fields: Type.Array(Type.String()), before: Type.Optional(JsonObject), after: Type.Optional(JsonObject) })),
            edges_added: Type.Array(JsonObject),
            edges_removed: Type.Array(JsonObject),
          }),
          ...problems(404),
        },
      },
    },
    (req) => automations.diff(req.ctx, req.params.ref, req.params.version, req.query.against ?? Math.max(1, req.params.version - 1)),
  )

  app.post(
    '/automations/:ref/executions',
    {
      config: { scope: write },
      schema: {
        operationId: 'startExecution',
        tags,
        summary: 'Start an execution by hand (201; 200 with the earlier one when the idempotency key was used); ?wait=N answers when it has finished, or after N seconds',
        params: RefParams,
        querystring: WaitQuery,
        body: { ...StartBody, examples: [{ input: { well: 'Well-12', value: 2150 }, idempotency_key: 'alarm-7781' }] },
        response: { 200: ExecutionWithSteps, 201: ExecutionWithSteps, ...problems(404, 422) },
      },
    },
    async (req, reply) => {
      const start = (claimedBy?: StartOptions['claimedBy']) => executions.start(req.ctx, req.params.ref, req.body ?? {}, claimedBy)
      const { execution, created, runsHere } = req.query.wait ? await startHere(localWorker, executions, start) : { ...(await start()), runsHere: false }
      const body = req.query.wait ? await waitForExecution(executions, req.ctx, execution.id, req.query.wait, runsHere, localWorker.running) : await executions.get(req.ctx, execution.id)
      return reply.code(created ? 201 : 200).header('location', `/api/v1/executions/${execution.id}`).send(body)
    },
  )
  app.get(
    '/executions',
    {
      config: { scope: read },
      schema: {
        operationId: 'listExecutions',
        tags,
        summary: 'Executions, newest first',
        querystring: Strict({ ...pageQuery, automation: Type.Optional(Ref), status: Type.Optional(StringEnum(EXECUTION_STATUSES)), batch_id: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: pageOf(ExecutionSchema), ...problems(404) },
      },
    },
    (req) => executions.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/executions/:id',
    { config: { scope: read }, schema: { operationId: 'getExecution', tags, summary: 'One execution with its step runs; ?wait=N waits for it to finish', params: IdParams, querystring: WaitQuery, response: { 200: ExecutionWithSteps, ...problems(404) } } },
    (req) => (req.query.wait ? waitFor(req.ctx, req.params.id, req.query.wait) : executions.get(req.ctx, req.params.id)),
  )
  app.get(
    '/executions/:id/steps',
    { config: { scope: read }, schema: { operationId: 'listStepRuns', tags, summary: "An execution's step runs (every attempt), in the order they started", params: IdParams, response: { 200: Type.Object({ data: Type.Array(StepRunSchema) }), ...problems(404) } } },
    (req) => executions.steps(req.ctx, req.params.id),
  )
  app.post(
    '/automations/:ref/prune',
    {
      config: { scope: write },
      schema: {
        operationId: 'pruneAutomationRuns',
        tags,
        summary: "Delete the automation's finished executions beyond its retention_days / retention_count now, as a job (202 with the job; it also runs hourly)",
        params: RefParams,
        response: { 202: JobSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => reply.code(202).send(await automations.prune(req.ctx, req.params.ref)),
  )
  app.post(
    '/executions/:id/cancel',
    { config: { scope: write }, schema: { operationId: 'cancelExecution', tags, summary: 'Cancel: at once when queued or waiting; a running one stops at its next step and its running step is aborted', params: IdParams, response: { 200: ExecutionSchema, ...problems(404, 409) } } },
    (req) => executions.cancel(req.ctx, req.params.id),
  )
  app.post(
    '/executions/:id/resume',
    { config: { scope: write }, schema: { operationId: 'resumeExecution', tags, summary: 'Resume a failed or cancelled execution from the step that stopped it (completed steps are not run again), on its pinned version', params: IdParams, response: { 200: ExecutionSchema, ...problems(404, 409) } } },
    (req) => executions.resume(req.ctx, req.params.id),
  )
  app.post(
    '/executions/:id/retry',
    {
      config: { scope: write },
      schema: {
        operationId: 'retryExecution',
        tags,
        summary: 'Run again from the start as a new execution with the same input, on the pinned version (default) or the live one',
        params: IdParams,
        body: Type.Optional(Strict({ version: Type.Optional(StringEnum(['pinned', 'live'] as const)) })),
        response: { 201: ExecutionSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await executions.retry(req.ctx, req.params.id, req.body ?? {})),
  )
  app.post(
    '/executions/:id/steps/:step_id/decision',
    {
      config: { scope: write },
      schema: {
        operationId: 'decideApproval',
        tags,
        summary: "A person's decision on a waiting approval step (approve or reject, with a comment); the execution carries on at once",
        params: Type.Object({ id: Type.String(), step_id: Type.String({ maxLength: 100 }) }),
        body: Strict({ decision: StringEnum(['approve', 'reject'] as const), comment: Type.Optional(Type.String({ maxLength: 4000 })) }),
        response: {
          200: Type.Object({ execution_id: Uuid(), step_id: Type.String(), decision: Type.String(), by: Type.String(), user_id: Uuid(), comment: Nullable(Type.String()), decided_at: Timestamp() }, { additionalProperties: true }),
          ...problems(403, 404, 409, 422),
        },
      },
    },
    (req) => executions.decide(req.ctx, req.params.id, req.params.step_id, req.body),
  )
  app.get(
    '/approvals',
    {
      config: { scope: read },
      schema: {
        operationId: 'listPendingApprovals',
        tags,
        summary: 'Approval steps waiting for a decision, oldest first',
        querystring: Strict({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({ execution_id: Uuid(), automation_id: Uuid(), automation: Type.String(), step_id: Type.String(), message: Nullable(Type.String()), approvers: Type.Array(Type.String()), waiting_since: Timestamp(), expires_at: Nullable(Timestamp()) }),
            ),
          }),
          ...problems(422),
        },
      },
    },
    (req) => executions.pendingApprovals(req.ctx, { limit: req.query.limit ?? 100 }),
  )
}

export const TriggerSchema = Type.Object({
  id: Uuid(),
  automation_id: Uuid(),
  type: StringEnum(TRIGGER_TYPES),
  name: Nullable(Type.String()),
  enabled: Type.Boolean(),
  config: JsonObject,
  filters: JsonObject,
  webhook_url: Nullable(Type.String({ description: 'Webhook triggers: POST here (no credentials; signed when the trigger has a secret)' })),
  secret: Nullable(Type.String({ description: 'Webhook signing secret (Standard Webhooks), in full only in the answer that creates it' })),
  next_run_at: Nullable(Timestamp()),
  last_run_at: Nullable(Timestamp()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const ScheduleLogSchema = Type.Object({
  id: Uuid(),
  trigger_id: Uuid(),
  ts: Timestamp(),
  scheduled_for: Timestamp(),
  delay_ms: Type.Integer(),
  status: StringEnum(SCHEDULE_LOG_STATUSES),
  message: Type.String(),
  execution_id: Nullable(Uuid()),
})

export const triggerRoutes: FastifyPluginAsyncTypebox<{ triggers: Triggers; executions: Executions; localWorker: LocalWorker }> = async (app, { triggers, executions, localWorker }) => {
  app.post(
    '/automations/:ref/triggers',
    {
      config: { scope: write },
      schema: {
        operationId: 'createTrigger',
        tags,
        summary: 'Add a trigger: cron (expression, time_zone, overlap, missed, catch_up_limit, input), event (event_type, condition, payload; filters), webhook (signed: true for a Standard Webhooks secret) or manual',
        params: RefParams,
        body: {
          ...Strict({
            type: StringEnum(TRIGGER_TYPES),
            name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
            enabled: Type.Optional(Type.Boolean()),
            config: Type.Optional(JsonObject),
            filters: Type.Optional(JsonObject),
            signed: Type.Optional(Type.Boolean()),
          }),
          examples: [{ type: 'cron', name: 'Every morning', config: { expression: '0 6 * * *', time_zone: 'Europe/Oslo', overlap: 'skip', missed: 'run_once' } }, { type: 'event', config: { event_type: 'alert.*' }, filters: { 'data.severity': 'high' } }],
        },
        response: { 201: TriggerSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await triggers.create(req.ctx, req.params.ref, req.body)),
  )
  app.get(
    '/triggers',
    {
      config: { scope: read },
      schema: { operationId: 'listTriggers', tags, summary: 'Triggers, newest first', querystring: Strict({ ...pageQuery, automation: Type.Optional(Ref), type: Type.Optional(StringEnum(TRIGGER_TYPES)) }), response: { 200: pageOf(TriggerSchema), ...problems(404) } },
    },
    (req) => triggers.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get('/triggers/:id', { config: { scope: read }, schema: { operationId: 'getTrigger', tags, summary: 'One trigger', params: IdParams, response: { 200: TriggerSchema, ...problems(404) } } }, (req) => triggers.get(req.ctx, req.params.id))
  app.patch(
    '/triggers/:id',
    {
      config: { scope: write },
      schema: {
        operationId: 'updateTrigger',
        tags,
        summary: 'Change a trigger (a changed or re-enabled schedule counts from now)',
        params: IdParams,
        body: Strict({ name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))), enabled: Type.Optional(Type.Boolean()), config: Type.Optional(JsonObject), filters: Type.Optional(JsonObject) }),
        response: { 200: TriggerSchema, ...problems(404, 422) },
      },
    },
    (req) => triggers.update(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/triggers/:id',
    { config: { scope: write }, schema: { operationId: 'deleteTrigger', tags, summary: 'Delete a trigger (its schedule logs too)', params: IdParams, response: { 204: Type.Null(), ...problems(404) } } },
    async (req, reply) => reply.code(204).send(await triggers.remove(req.ctx, req.params.id).then(() => null)),
  )
  app.get(
    '/triggers/:id/upcoming',
    {
      config: { scope: read },
      schema: {
        operationId: 'upcomingFires',
        tags,
        summary: "A cron trigger's next fire times, computed in its time zone",
        params: IdParams,
        querystring: Strict({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), from: Type.Optional(Timestamp()) }),
        response: { 200: Type.Object({ trigger_id: Uuid(), time_zone: Type.String(), data: Type.Array(Timestamp()) }), ...problems(404, 422) },
      },
    },
    (req) => triggers.upcoming(req.ctx, req.params.id, req.query.count ?? 10, req.query.from),
  )
  app.get(
    '/triggers/:id/logs',
    {
      config: { scope: read },
      schema: {
        operationId: 'listScheduleLogs',
        tags,
        summary: "A cron trigger's schedule log (seed 000 WorkflowSchedulerLog): every fire, skip and error, newest first",
        params: IdParams,
        querystring: Strict({ ...pageQuery, status: Type.Optional(StringEnum(SCHEDULE_LOG_STATUSES)) }),
        response: { 200: pageOf(ScheduleLogSchema), ...problems(404) },
      },
    },
    (req) => triggers.logs(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 100 }),
  )

  // Webhook deliveries: no credentials (the URL's token names the trigger), the raw body kept for the signature check.
  await app.register(async (plain) => {
    const hooks = plain.withTypeProvider<TypeBoxTypeProvider>()
    hooks.removeAllContentTypeParsers()
    hooks.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))
    hooks.post(
      '/hooks/:token',
      {
        config: { public: true },
        schema: {
          operationId: 'receiveWebhook',
          tags,
          summary: "A webhook trigger's URL: starts its automation with the body as input (202 with the execution id; ?wait=N answers with the finished execution)",
          params: Strict({ token: Type.String({ minLength: 10, maxLength: 100 }) }),
          querystring: WaitQuery,
          response: { 200: ExecutionWithSteps, 202: Type.Object({ execution_id: Uuid(), status: Type.String() }), ...problems(401, 404, 422) },
        },
      },
      async (req, reply) => {
        const raw = typeof req.body === 'string' ? req.body : ''
        const receive = (claimedBy?: StartOptions['claimedBy']) => triggers.receive(req.params.token, raw, req.headers, req.ctx?.traceId, claimedBy)
        const { execution, runsHere } = req.query.wait ? await startHere(localWorker, executions, receive) : { ...(await receive()), runsHere: false }
        // The caller is the webhook's sender, not a member: the wait reads the execution as the system, in its organisation.
        const ctx = systemContext({ organizationId: execution.organizationId, ...(req.ctx?.traceId ? { traceId: req.ctx.traceId } : {}) })
        if (req.query.wait) return reply.code(200).send(await waitForExecution(executions, ctx, execution.id, req.query.wait, runsHere, localWorker.running))
        return reply.code(202).header('location', `/api/v1/executions/${execution.id}`).send({ execution_id: execution.id, status: execution.status })
      },
    )
  })
}

/**
 * Starts an execution a request waits for with this process's worker when it has a free slot:
 * the job is written already claimed and runs here as soon as the start commits, with no round
 * through the queue (docs/benchmarks.md section 10 measures the difference). Without a slot
 * (none free, or no worker in this process) the job is queued as usual.
 */
async function startHere<T extends { job: JobRow | null; started?: Started }>(localWorker: LocalWorker, executions: Executions, start: (claimedBy?: StartOptions['claimedBy']) => Promise<T>): Promise<T & { runsHere: boolean }> {
  const slot = localWorker.reserve(EXECUTE_JOB)
  if (!slot) return { ...(await start()), runsHere: false }
  let result: T
  try {
    result = await start(slot.claimedBy)
  } catch (err) {
    slot.release()
    throw err
  }
  // An idempotent repeat or a deferred start wrote no job of ours.
  const { job } = result
  if (job?.lockedBy === slot.claimedBy.workerId && job.status === 'running') {
    if (result.started) executions.handOver(job.id, result.started)
    void slot.run(job)
    return { ...result, runsHere: true }
  }
  slot.release()
  return { ...result, runsHere: false }
}

/**
 * The execution with its steps once it has finished, or as it stands when `seconds` run out.
 * This process's engine announces the end at once; one that another process runs is read again
 * at growing intervals.
 */
async function waitForExecution(executions: Executions, ctx: Parameters<Executions['get']>[0], id: string, seconds: number, runsHere = false, workerHere = false) {
  const deadline = Date.now() + seconds * 1000
  // Just started here: nothing to read before the engine announces an end (or stops to wait).
  // With a worker in this process, most ends are announced: the reads are for the others (at
  // 50 waiting requests, reading every 25-500 ms cost more than the executions).
  let pause = runsHere ? 1000 : workerHere ? 200 : 25
  let read = !runsHere
  for (;;) {
    // Listening before reading: an end announced in between is not missed.
    const ended = executions.finishedOrAfter(id, Math.min(pause, Math.max(1, deadline - Date.now())))
    if (read) {
      const e = await executions.get(ctx, id)
      if (FINISHED.has(e.status) || Date.now() >= deadline) return e
    }
    read = true
    const view = await ended
    if (view) return view
    pause = Math.min(pause * 2, runsHere || workerHere ? 1000 : 500)
  }
}
