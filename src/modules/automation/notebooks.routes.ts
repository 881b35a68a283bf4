// /notebooks: seed-000 notebook workflows (cells, .py and .ipynb exports, import, runs with
// stdout/stderr, cron schedules). A notebook is an automation: its id works on /automations too.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { EXECUTION_STATUSES } from './automation.schema.ts'
import { ExecutionSchema, TriggerSchema } from './automation.routes.ts'
import type { Notebooks } from './notebooks.service.ts'
import type { Triggers } from './triggers.service.ts'

const tags = ['notebooks']
const read = 'automations:read'
const write = 'automations:write'
const RefParams = Strict({ ref: Type.String({ minLength: 1, maxLength: 200, description: 'id or slug' }) })

const Cell = Strict({
  id: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9-_]{1,64}$' })),
  cell_type: StringEnum(['code', 'markdown'] as const),
  source: Type.String({ maxLength: 1_000_000 }),
})
const Cells = Type.Array(Cell, { minItems: 1, maxItems: 500 })
const TimeoutMs = Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, description: 'Time limit of a run (all cells), default 60,000' }))

const NotebookSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  slug: Type.String(),
  description: Nullable(Type.String()),
  component_id: Uuid(),
  enabled: Type.Boolean(),
  version: Nullable(Type.Integer()),
  cells: Type.Array(Type.Object({ id: Type.String(), cell_type: Type.String(), source: Type.String() })),
  python_code: Type.String({ description: 'The cells as a percent-format .py script' }),
  code_file_id: Nullable(Uuid()),
  ipynb_file_id: Nullable(Uuid()),
  created_by: Nullable(Type.String()),
  modified_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

const RunSchema = Type.Object({
  id: Uuid(),
  task_id: Nullable(Uuid()),
  status: StringEnum(EXECUTION_STATUSES),
  started_at: Nullable(Timestamp()),
  finished_at: Nullable(Timestamp()),
  stdout: Type.String(),
  stderr: Type.String(),
  cells: Type.Array(Type.Unknown()),
  scheduler_id: Nullable(Uuid()),
  error: Nullable(Type.Unknown()),
})

export const notebookRoutes: FastifyPluginAsyncTypebox<{ notebooks: Notebooks; triggers: Triggers }> = async (app, { notebooks, triggers }) => {
  app.post(
    '/notebooks',
    {
      config: { scope: write },
      schema: {
        operationId: 'createNotebook',
        tags,
        summary: 'A notebook workflow for a data-source component (one per component): code and markdown cells, exported to .py and .ipynb',
        body: Strict({
          component_id: Uuid(),
          name: Type.String({ minLength: 1, maxLength: 200 }),
          slug: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
          description: Type.Optional(Nullable(Type.String({ maxLength: 4000 }))),
          cells: Cells,
          timeout_ms: TimeoutMs,
        }),
        response: { 201: NotebookSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => {
      const nb = await notebooks.create(req.ctx, req.body)
      return reply.code(201).header('location', `/api/v1/notebooks/${nb.id}`).send(nb)
    },
  )
  app.post(
    '/notebooks/import',
    {
      config: { scope: write },
      schema: {
        operationId: 'importNotebook',
        tags,
        summary: 'A notebook from an .ipynb document (nbformat 4, checked against its JSON Schema; code and markdown cells are kept)',
        body: Strict({
          component_id: Uuid(),
          name: Type.String({ minLength: 1, maxLength: 200 }),
          slug: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
          notebook: Type.Unknown({ description: 'The .ipynb JSON' }),
        }),
        response: { 201: NotebookSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await notebooks.importIpynb(req.ctx, req.body)),
  )
  app.get(
    '/notebooks',
    {
      config: { scope: read },
      schema: { operationId: 'listNotebooks', tags, summary: 'Notebooks by name, optionally of one component', querystring: Strict({ component_id: Type.Optional(Uuid()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }), response: { 200: Type.Object({ data: Type.Array(NotebookSchema) }), ...problems(422) } },
    },
    (req) => notebooks.list(req.ctx, { component_id: req.query.component_id, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/notebooks/:ref',
    { config: { scope: read }, schema: { operationId: 'getNotebook', tags, summary: 'A notebook with the cells of its live version', params: RefParams, response: { 200: NotebookSchema, ...problems(404) } } },
    (req) => notebooks.get(req.ctx, req.params.ref),
  )
  app.put(
    '/notebooks/:ref/cells',
    {
      config: { scope: write },
      schema: {
        operationId: 'saveNotebookCells',
        tags,
        summary: 'Save the cells as the next version (live at once; earlier versions stay in /automations/{id}/versions) and export it again',
        params: RefParams,
        body: Strict({ cells: Cells, note: Type.Optional(Type.String({ maxLength: 2000 })), timeout_ms: TimeoutMs }),
        response: { 200: NotebookSchema, ...problems(404, 422) },
      },
    },
    (req) => notebooks.save(req.ctx, req.params.ref, req.body),
  )
  app.get(
    '/notebooks/:ref/export',
    {
      config: { scope: read },
      schema: {
        operationId: 'exportNotebook',
        tags,
        summary: "The live version's export from the file store: format=ipynb (nbformat 4.5, the default) or py (percent-format script)",
        params: RefParams,
        querystring: Strict({ format: Type.Optional(StringEnum(['py', 'ipynb'] as const)) }),
        response: { 200: Type.Unknown({ description: 'The file' }), ...problems(404, 422) },
      },
    },
    async (req, reply) => {
      const f = await notebooks.exportOf(req.ctx, req.params.ref, req.query.format ?? 'ipynb')
      return reply
        .type(f.contentType)
        .header('content-length', f.size)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(f.name)}`)
        .send(f.stream)
    },
  )
  app.post(
    '/notebooks/:ref/runs',
    {
      config: { scope: write },
      schema: {
        operationId: 'runNotebook',
        tags,
        summary: 'Run all code cells in order in one python process (needs PYTHON_STEPS=true on the server); follow it at /executions/{id}',
        params: RefParams,
        body: Type.Optional(Strict({ input: Type.Optional(Type.Unknown()), idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) })),
        response: { 201: ExecutionSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => reply.code(201).send((await notebooks.run(req.ctx, req.params.ref, req.body ?? {})).execution),
  )
  app.get(
    '/notebooks/:ref/runs',
    {
      config: { scope: read },
      schema: { operationId: 'listNotebookRuns', tags, summary: 'Runs, newest first, with stdout and stderr (per cell and for the run) and the schedule that fired each', params: RefParams, querystring: Strict({ ...pageQuery }), response: { 200: pageOf(RunSchema), ...problems(404) } },
    },
    (req) => notebooks.runs(req.ctx, req.params.ref, { limit: req.query.limit ?? 50, cursor: req.query.cursor }),
  )
  app.get(
    '/notebooks/:ref/schedules',
    {
      config: { scope: read },
      schema: { operationId: 'listNotebookSchedules', tags, summary: "The notebook's cron schedules (cron triggers; their fire, skip and error logs are at /triggers/{id}/logs)", params: RefParams, querystring: Strict({ ...pageQuery }), response: { 200: pageOf(TriggerSchema), ...problems(404) } },
    },
    async (req) => {
      const nb = await notebooks.get(req.ctx, req.params.ref)
      return triggers.list(req.ctx, { limit: req.query.limit ?? 100, cursor: req.query.cursor, automation: nb.id, type: 'cron' })
    },
  )
  app.post(
    '/notebooks/:ref/schedules',
    {
      config: { scope: write },
      schema: {
        operationId: 'createNotebookSchedule',
        tags,
        summary: 'Run the notebook on a cron schedule: config.expression, time_zone (IANA), overlap, missed, catch_up_limit',
        params: RefParams,
        body: Strict({ name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))), enabled: Type.Optional(Type.Boolean()), config: Type.Record(Type.String(), Type.Unknown()) }),
        response: { 201: TriggerSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => {
      const nb = await notebooks.get(req.ctx, req.params.ref)
      return reply.code(201).send(await triggers.create(req.ctx, nb.id, { type: 'cron', ...req.body }))
    },
  )
}
