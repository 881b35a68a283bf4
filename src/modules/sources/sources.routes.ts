// Data sources and components, and a component's file (streamed up and down, versions kept).
import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { DATA_SOURCE_TYPES } from './sources.schema.ts'
import type { DataSources } from './sources.service.ts'

const tags = ['sources']
const read = 'sources:read'
const write = 'sources:write'

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })
const Description = Nullable(Type.String({ maxLength: 10_000 }))
const SourceType = StringEnum(DATA_SOURCE_TYPES, { description: 'INPUT (measured or delivered data), OUTPUT (results, forecasts), PROCESS (a calculation step)' })
const DataSourceSchema = Type.Object({ id: Uuid(), name: Type.String(), type: SourceType, description: Nullable(Type.String()), created_by: Nullable(Type.String()), modified_by: Nullable(Type.String()), created_at: Timestamp(), updated_at: Timestamp() })
const ComponentSchema = Type.Object({
  id: Uuid(),
  data_source_id: Uuid(),
  name: Type.String(),
  description: Nullable(Type.String()),
  file_id: Nullable(Uuid('The current file; earlier ones at /components/{id}/file/versions')),
  is_active: Type.Boolean(),
  created_by: Nullable(Type.String()),
  modified_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const FileVersion = Type.Object({ version: Type.Integer(), file_id: Uuid(), name: Type.String(), content_type: Type.String(), size: Type.Integer(), sha256: Type.String(), created_by: Nullable(Type.String()), created_at: Timestamp() })
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/

export const sourceRoutes: FastifyPluginAsyncTypebox<{ sources: DataSources; maxBytes: number }> = async (app, { sources, maxBytes }) => {
  app.post(
    '/data-sources',
    { config: { scope: write }, schema: { operationId: 'createDataSource', tags, summary: 'A data source: name unique in the organisation', body: Strict({ name: Name, type: SourceType, description: Type.Optional(Description) }), response: { 201: DataSourceSchema, ...problems(409, 422) } } },
    async (req, reply) => reply.code(201).send(await sources.createSource(req.ctx, req.body)),
  )
  app.get(
    '/data-sources',
    { config: { scope: read }, schema: { operationId: 'listDataSources', tags, summary: 'Data sources, newest first', querystring: Strict({ ...pageQuery, type: Type.Optional(SourceType) }), response: { 200: pageOf(DataSourceSchema) } } },
    (req) => sources.listSources(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get('/data-sources/:id', { config: { scope: read }, schema: { operationId: 'getDataSource', tags, summary: 'One data source', params: IdParams, response: { 200: DataSourceSchema, ...problems(404) } } }, (req) => sources.getSourceView(req.ctx, req.params.id))
  app.patch(
    '/data-sources/:id',
    { config: { scope: write }, schema: { operationId: 'updateDataSource', tags, summary: 'Rename, retype or describe a data source', params: IdParams, body: Strict({ name: Type.Optional(Name), type: Type.Optional(SourceType), description: Type.Optional(Description) }), response: { 200: DataSourceSchema, ...problems(404, 409, 422) } } },
    (req) => sources.updateSource(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/data-sources/:id',
    { config: { scope: write }, schema: { operationId: 'deleteDataSource', tags, summary: 'Delete a data source and its components; 409 while a scenario links one (naming the scenarios) or facts carry one', params: IdParams, response: { 204: Type.Null(), ...problems(404, 409) } } },
    async (req, reply) => reply.code(204).send(await sources.deleteSource(req.ctx, req.params.id).then(() => null)),
  )
  app.post(
    '/data-sources/:id/components',
    {
      config: { scope: write },
      schema: { operationId: 'createComponent', tags, summary: 'A component of the data source (a delivery, a model run...), optionally with a file uploaded before', params: IdParams, body: Strict({ name: Name, description: Type.Optional(Description), file_id: Type.Optional(Uuid()) }), response: { 201: ComponentSchema, ...problems(404, 409, 422) } },
    },
    async (req, reply) => reply.code(201).send(await sources.createComponent(req.ctx, req.params.id, req.body)),
  )
  app.get(
    '/data-sources/:id/components',
    { config: { scope: read }, schema: { operationId: 'listComponents', tags, summary: "The data source's components, newest first", params: IdParams, querystring: Strict({ ...pageQuery, active: Type.Optional(Type.Boolean()) }), response: { 200: pageOf(ComponentSchema), ...problems(404) } } },
    (req) => sources.listComponents(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get('/components/:id', { config: { scope: read }, schema: { operationId: 'getComponent', tags, summary: 'One component', params: IdParams, response: { 200: ComponentSchema, ...problems(404) } } }, (req) => sources.getComponentView(req.ctx, req.params.id))
  app.patch(
    '/components/:id',
    { config: { scope: write }, schema: { operationId: 'updateComponent', tags, summary: 'Rename, describe, or (de)activate a component', params: IdParams, body: Strict({ name: Type.Optional(Name), description: Type.Optional(Description), is_active: Type.Optional(Type.Boolean()) }), response: { 200: ComponentSchema, ...problems(404, 409, 422) } } },
    (req) => sources.updateComponent(req.ctx, req.params.id, req.body),
  )

  // The file: raw bytes of any type, streamed to the store without buffering.
  await app.register(async (scope) => {
    const files = scope.withTypeProvider<TypeBoxTypeProvider>()
    files.removeAllContentTypeParsers()
    files.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    files.put(
      '/components/:id/file',
      {
        config: { scope: write },
        schema: {
          operationId: 'putComponentFile',
          tags,
          summary: "Upload the component's file (the body is the content); a file it had before stays as an earlier version",
          params: IdParams,
          querystring: Strict({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "File name shown to users; default the component's name" })) }),
          response: { 200: Type.Intersect([ComponentSchema, Type.Object({ version: Type.Integer(), file: Type.Object({ id: Uuid(), name: Type.String(), content_type: Type.String(), size: Type.Integer(), sha256: Type.String() }) })]), ...problems(404, 413) },
        },
      },
      async (req) => {
        const header = req.headers['content-type'] ?? 'application/octet-stream'
        return sources.putFile(req.ctx, req.params.id, { name: req.query.name, contentType: CONTENT_TYPE.test(header) ? header : 'application/octet-stream', body: req.body as Readable, maxBytes })
      },
    )
  })
  app.get(
    '/components/:id/file',
    {
      config: { scope: read },
      schema: { operationId: 'getComponentFile', tags, summary: "The component's file, streamed (or an earlier version)", params: IdParams, querystring: Strict({ version: Type.Optional(Type.Integer({ minimum: 1 })) }), response: { 200: Type.Unknown({ description: 'The bytes, with the Content-Type given at upload' }), ...problems(404) } },
    },
    async (req, reply) => {
      const { row, stream } = await sources.openFile(req.ctx, req.params.id, req.query.version)
      return reply
        .header('content-type', row.contentType)
        .header('content-length', String(row.size))
        .header('etag', `"${row.sha256}"`)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(row.name)}`)
        .send(stream)
    },
  )
  app.get(
    '/components/:id/file/versions',
    { config: { scope: read }, schema: { operationId: 'listComponentFileVersions', tags, summary: 'Every file the component has had, newest first', params: IdParams, response: { 200: Type.Object({ data: Type.Array(FileVersion) }), ...problems(404) } } },
    (req) => sources.fileVersions(req.ctx, req.params.id),
  )
}
