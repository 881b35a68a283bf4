// Seed 001's `processes` and `process_instances` as their users know them, over the one engine: a
// process is an automation with a process_type (its definition is the live workflow graph, its
// version the live version number, its status active or inactive from `enabled`), and a process
// instance is an execution (batch_id, parameters = input, results = output, completed_at =
// ended_at). Everything else (versions, triggers, step runs, cancel, resume) is the automation API.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RequestContext } from '../../core/context.ts'
import { ValidationError } from '../../core/errors.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { EXECUTION_STATUSES } from './automation.schema.ts'
import type { Automations } from './automations.service.ts'
import type { Executions } from './executions.service.ts'
import { GRAPH_SCHEMA, type Graph } from './graph.ts'

const tags = ['processes']
const read = 'automations:read'
const write = 'automations:write'
const Ref = Type.String({ minLength: 1, maxLength: 200, description: 'id or slug' })
const RefParams = Strict({ ref: Ref })

const ProcessSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  slug: Type.String(),
  description: Nullable(Type.String()),
  process_type: Type.String(),
  version: Nullable(Type.String({ description: 'The live version number, as text (seed 001 keeps versions as VARCHAR)' })),
  definition: Nullable(Type.Unknown({ description: 'The live workflow graph' })),
  status: StringEnum(['active', 'inactive'] as const),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

const InstanceSchema = Type.Object({
  id: Uuid(),
  process_id: Uuid(),
  batch_id: Nullable(Type.String()),
  status: StringEnum(EXECUTION_STATUSES),
  started_at: Nullable(Timestamp()),
  completed_at: Nullable(Timestamp()),
  parameters: Type.Unknown(),
  results: Type.Unknown(),
  error: Nullable(Type.Unknown()),
  created_at: Timestamp(),
})

type ExecutionView = Awaited<ReturnType<Executions['start']>>['execution']
const toInstance = (e: ExecutionView) => ({
  id: e.id,
  process_id: e.automation_id,
  batch_id: e.batch_id,
  status: e.status,
  started_at: e.started_at,
  completed_at: e.ended_at,
  parameters: e.input,
  results: e.output ?? {},
  error: e.error,
  created_at: e.created_at,
})

export const processRoutes: FastifyPluginAsyncTypebox<{ automations: Automations; executions: Executions }> = async (app, { automations, executions }) => {
  async function processOf(ctx: RequestContext, ref: string) {
    const a = await automations.get(ctx, ref)
    if (!a.process_type) throw new ValidationError(`automation ${a.slug} is not a process (it has no process_type)`, [{ path: '/params/ref', message: 'names an automation without a process_type' }])
    const v = a.live_version === null ? null : await automations.getVersion(ctx, a.id, a.live_version)
    return {
      id: a.id,
      name: a.name,
      slug: a.slug,
      description: a.description,
      process_type: a.process_type,
      version: a.live_version === null ? null : String(a.live_version),
      definition: v?.graph ?? null,
      status: a.enabled ? ('active' as const) : ('inactive' as const),
      created_at: a.created_at,
      updated_at: a.updated_at,
    }
  }

  app.post(
    '/processes',
    {
      config: { scope: write },
      schema: {
        operationId: 'createProcess',
        tags,
        summary: 'Define a process (seed 001): an automation with a process_type whose first version, the definition, is live at once',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 200 }),
          slug: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
          description: Type.Optional(Nullable(Type.String({ maxLength: 4000 }))),
          process_type: Type.String({ minLength: 1, maxLength: 100 }),
          definition: Type.Unsafe<Graph>(GRAPH_SCHEMA),
        }),
        response: { 201: ProcessSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => {
      const { definition, ...rest } = req.body
      const a = await automations.create(req.ctx, { ...rest, graph: definition, publish: true }, '/body/definition')
      return reply.code(201).header('location', `/api/v1/processes/${a.id}`).send(await processOf(req.ctx, a.id))
    },
  )
  app.get(
    '/processes',
    {
      config: { scope: read },
      schema: { operationId: 'listProcesses', tags, summary: 'Processes (automations with a process_type), newest first', querystring: Strict({ ...pageQuery, process_type: Type.Optional(Type.String({ maxLength: 100 })) }), response: { 200: pageOf(ProcessSchema) } },
    },
    async (req) => {
      // Automations without a process_type are not processes: page through until the page is full.
      const page = await automations.list(req.ctx, { limit: req.query.limit ?? 100, cursor: req.query.cursor, process_type: req.query.process_type })
      const data = []
      for (const a of page.data) if (a.process_type) data.push(await processOf(req.ctx, a.id))
      return { data, next_cursor: page.next_cursor }
    },
  )
  app.get(
    '/processes/:ref',
    { config: { scope: read }, schema: { operationId: 'getProcess', tags, summary: 'One process with its live definition', params: RefParams, response: { 200: ProcessSchema, ...problems(404, 422) } } },
    (req) => processOf(req.ctx, req.params.ref),
  )
  app.post(
    '/processes/:ref/instances',
    {
      config: { scope: write },
      schema: {
        operationId: 'startProcessInstance',
        tags,
        summary: 'Start an instance of the process for a batch, with parameters (an execution of its live version)',
        params: RefParams,
        body: Strict({ batch_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())), idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        response: { 201: InstanceSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => {
      await processOf(req.ctx, req.params.ref)
      const { execution } = await executions.start(req.ctx, req.params.ref, { input: req.body.parameters ?? {}, batch_id: req.body.batch_id, idempotency_key: req.body.idempotency_key })
      return reply.code(201).header('location', `/api/v1/executions/${execution.id}`).send(toInstance(execution))
    },
  )
  app.get(
    '/processes/:ref/instances',
    {
      config: { scope: read },
      schema: {
        operationId: 'listProcessInstances',
        tags,
        summary: "The process's instances, newest first; filter by batch_id or status",
        params: RefParams,
        querystring: Strict({ ...pageQuery, batch_id: Type.Optional(Type.String({ maxLength: 100 })), status: Type.Optional(StringEnum(EXECUTION_STATUSES)) }),
        response: { 200: pageOf(InstanceSchema), ...problems(404, 422) },
      },
    },
    async (req) => {
      const p = await processOf(req.ctx, req.params.ref)
      const page = await executions.list(req.ctx, { limit: req.query.limit ?? 100, cursor: req.query.cursor, automation: p.id, status: req.query.status, batch_id: req.query.batch_id })
      return { data: page.data.map(toInstance), next_cursor: page.next_cursor }
    },
  )
}
