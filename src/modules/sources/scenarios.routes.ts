// Scenarios: CRUD of drafts, the status moves (submit, approve, reject, rework, start, complete,
// fail, archive), their component links and their logs.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { APPROVE_SCOPE, type ScenarioAction, type Scenarios } from './scenarios.service.ts'
import { LOG_LEVELS, SCENARIO_STATUSES } from './sources.schema.ts'

const tags = ['scenarios']
const read = 'scenarios:read'
const write = 'scenarios:write'

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Unique in the organisation, whatever the case' })
const Description = Nullable(Type.String({ maxLength: 10_000 }))
const Status = StringEnum(SCENARIO_STATUSES)
const Level = StringEnum(LOG_LEVELS)

const Link = Type.Object({ scenario_id: Uuid(), component_id: Uuid(), data_source_id: Uuid(), created_at: Timestamp(), created_by: Nullable(Type.String()) })
const ScenarioSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  description: Nullable(Type.String()),
  status: Status,
  status_changed_at: Timestamp(),
  period_start: Nullable(Timestamp('Data queries of the scenario start here (inclusive)')),
  period_end: Nullable(Timestamp('... and end here (exclusive)')),
  submitted_by: Nullable(Type.String()),
  submitted_at: Nullable(Timestamp()),
  approved_by: Nullable(Type.String()),
  approved_at: Nullable(Timestamp()),
  rejected_by: Nullable(Type.String()),
  rejected_at: Nullable(Timestamp()),
  rejection_reason: Nullable(Type.String()),
  cloned_from: Nullable(Uuid()),
  created_by: Nullable(Type.String()),
  modified_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
  components: Type.Optional(Type.Array(Type.Object({ component_id: Uuid(), data_source_id: Uuid() }), { description: 'The linked components (on reading one scenario)' })),
})
const LogSchema = Type.Object({
  id: Uuid(),
  scenario_id: Uuid(),
  ts: Timestamp(),
  level: Level,
  message: Type.String(),
  progress: Nullable(Type.Integer({ minimum: 0, maximum: 100 })),
  job_id: Nullable(Uuid()),
  created_by: Nullable(Type.String()),
})

const NewScenario = Strict({ name: Name, description: Type.Optional(Description), period_start: Type.Optional(Nullable(Timestamp())), period_end: Type.Optional(Nullable(Timestamp())) })
const ScenarioPatch = Strict({ name: Type.Optional(Name), description: Type.Optional(Description), period_start: Type.Optional(Nullable(Timestamp())), period_end: Type.Optional(Nullable(Timestamp())) })
const NewLog = Strict({
  message: Type.String({ minLength: 1, maxLength: 10_000 }),
  level: Type.Optional(StringEnum(LOG_LEVELS, { default: 'info' })),
  progress: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100, description: 'Percent done' }))),
})
const LinkParams = Strict({ id: Uuid(), component_id: Uuid() })

/** The status moves, each a verb under the scenario (api.md "act"). */
const MOVES: { action: ScenarioAction; operationId: string; summary: string; scope: string }[] = [
  { action: 'submit', operationId: 'submitScenario', summary: 'Submit a draft for approval', scope: write },
  { action: 'approve', operationId: 'approveScenario', summary: `Approve a submitted scenario (needs ${APPROVE_SCOPE}; not its creator)`, scope: APPROVE_SCOPE },
  { action: 'rework', operationId: 'reworkScenario', summary: 'Take a rejected scenario back to draft', scope: write },
  { action: 'start', operationId: 'startScenario', summary: 'Start running an approved scenario', scope: write },
  { action: 'complete', operationId: 'completeScenario', summary: 'Mark a running scenario completed', scope: write },
  { action: 'fail', operationId: 'failScenario', summary: 'Mark a running scenario failed', scope: write },
  { action: 'archive', operationId: 'archiveScenario', summary: 'Archive a scenario, whatever its status', scope: write },
]

export const scenarioRoutes: FastifyPluginAsyncTypebox<{ scenarios: Scenarios }> = async (app, { scenarios }) => {
  app.post(
    '/scenarios',
    {
      config: { scope: write },
      schema: {
        operationId: 'createScenario',
        tags,
        summary: 'Create a draft scenario',
        body: { ...NewScenario, examples: [{ name: 'Winter 2027 base case', description: 'Demand forecast with the new tariff', period_start: '2027-01-01T00:00:00Z', period_end: '2027-04-01T00:00:00Z' }] },
        response: { 201: ScenarioSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => {
      const created = await scenarios.create(req.ctx, req.body)
      return reply.code(201).header('location', `/api/v1/scenarios/${created.id}`).send(created)
    },
  )
  app.get(
    '/scenarios',
    { config: { scope: read }, schema: { operationId: 'listScenarios', tags, summary: 'Scenarios, newest first', querystring: Strict({ ...pageQuery, status: Type.Optional(Status) }), response: { 200: pageOf(ScenarioSchema) } } },
    (req) => scenarios.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/scenarios/:id',
    { config: { scope: read }, schema: { operationId: 'getScenario', tags, summary: 'One scenario, with its linked components', params: IdParams, response: { 200: ScenarioSchema, ...problems(404) } } },
    (req) => scenarios.get(req.ctx, req.params.id),
  )
  app.patch(
    '/scenarios/:id',
    { config: { scope: write }, schema: { operationId: 'updateScenario', tags, summary: 'Change a draft (JSON merge patch: null clears)', params: IdParams, body: ScenarioPatch, response: { 200: ScenarioSchema, ...problems(404, 409, 422) } } },
    (req) => scenarios.update(req.ctx, req.params.id, req.body),
  )
  for (const m of MOVES) {
    app.post(
      `/scenarios/:id/${m.action}`,
      { config: { scope: m.scope }, schema: { operationId: m.operationId, tags, summary: m.summary, params: IdParams, response: { 200: ScenarioSchema, ...problems(404, 409) } } },
      (req) => scenarios.act(req.ctx, req.params.id, m.action),
    )
  }
  app.post(
    '/scenarios/:id/reject',
    {
      config: { scope: APPROVE_SCOPE },
      schema: {
        operationId: 'rejectScenario',
        tags,
        summary: `Reject a submitted scenario, saying why (needs ${APPROVE_SCOPE}; not its creator)`,
        params: IdParams,
        body: { ...Strict({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }), examples: [{ reason: 'The period misses the February peak' }] },
        response: { 200: ScenarioSchema, ...problems(404, 409, 422) },
      },
    },
    (req) => scenarios.act(req.ctx, req.params.id, 'reject', req.body),
  )
  app.post(
    '/scenarios/:id/clone',
    {
      config: { scope: write },
      schema: { operationId: 'cloneScenario', tags, summary: 'A new draft with the same description, period and component links', params: IdParams, body: Strict({ name: Name }), response: { 201: ScenarioSchema, ...problems(404, 409, 422) } },
    },
    async (req, reply) => {
      const created = await scenarios.clone(req.ctx, req.params.id, req.body)
      return reply.code(201).header('location', `/api/v1/scenarios/${created.id}`).send(created)
    },
  )

  app.post(
    '/scenarios/:id/components',
    {
      config: { scope: write },
      schema: {
        operationId: 'linkScenarioComponent',
        tags,
        summary: 'Link a component to a draft: one component per data source',
        params: IdParams,
        body: Strict({ component_id: Uuid() }),
        response: { 201: Link, ...problems(404, 409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await scenarios.linkComponent(req.ctx, req.params.id, req.body.component_id)),
  )
  app.get(
    '/scenarios/:id/components',
    { config: { scope: read }, schema: { operationId: 'listScenarioComponents', tags, summary: "A scenario's linked components, oldest link first", params: IdParams, response: { 200: pageOf(Link), ...problems(404) } } },
    (req) => scenarios.listLinks(req.ctx, req.params.id),
  )
  app.delete(
    '/scenarios/:id/components/:component_id',
    { config: { scope: write }, schema: { operationId: 'unlinkScenarioComponent', tags, summary: 'Unlink a component from a draft', params: LinkParams, response: { 204: Type.Null(), ...problems(404, 409) } } },
    async (req, reply) => reply.code(204).send(await scenarios.unlinkComponent(req.ctx, req.params.id, req.params.component_id).then(() => null)),
  )

  app.post(
    '/scenarios/:id/logs',
    {
      config: { scope: write },
      schema: {
        operationId: 'writeScenarioLog',
        tags,
        summary: 'Write a log line, optionally with progress',
        params: IdParams,
        body: { ...NewLog, examples: [{ message: 'Loaded 12 inputs', level: 'info', progress: 40 }] },
        response: { 201: LogSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await scenarios.writeLog(req.ctx, req.params.id, req.body)),
  )
  app.get(
    '/scenarios/:id/logs',
    { config: { scope: read }, schema: { operationId: 'listScenarioLogs', tags, summary: "A scenario's log, newest first", params: IdParams, querystring: Strict({ ...pageQuery, level: Type.Optional(Level) }), response: { 200: pageOf(LogSchema), ...problems(404) } } },
    (req) => scenarios.listLogs(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 100 }),
  )
}
