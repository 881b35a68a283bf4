import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Database } from '../db/database.ts'
import type { EventLog } from '../events/events.service.ts'
import { pageOf, pageQuery } from '../http/pagination.ts'
import { IdParams, Nullable, Strict, Timestamp, Uuid, problems } from '../http/schemas.ts'
import type { FileStore } from './fileStore.ts'
import { createFiles, toFileView } from './files.service.ts'

export const FileSchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  name: Type.String(),
  content_type: Type.String(),
  size: Type.Integer(),
  sha256: Type.String({ description: 'hex SHA-256 of the content' }),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
})

const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/

export const fileRoutes: FastifyPluginAsyncTypebox<{ database: Database; events: EventLog; files: FileStore; maxBytes: number }> = async (
  app,
  { database, events, files: store, maxBytes },
) => {
  const files = createFiles({ database, events, store })
  // Uploads are raw bytes of any type, streamed to the store without buffering.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))

  app.post(
    '/files',
    {
      config: { scope: 'files:write' },
      schema: {
        operationId: 'uploadFile',
        tags: ['files'],
        summary: 'Upload a file: the request body is the content, its Content-Type is kept',
        querystring: Strict({ name: Type.String({ minLength: 1, maxLength: 255, description: 'File name shown to users' }) }),
        response: { 201: FileSchema, ...problems(413, 415) },
      },
    },
    async (req, reply) => {
      const header = req.headers['content-type'] ?? 'application/octet-stream'
      const contentType = CONTENT_TYPE.test(header) ? header : 'application/octet-stream'
      const row = await files.upload(req.ctx, { name: req.query.name, contentType, body: req.body as Readable, maxBytes })
      return reply.code(201).header('location', `/api/v1/files/${row.id}`).send(toFileView(row))
    },
  )
  app.get(
    '/files',
    {
      config: { scope: 'files:read' },
      schema: {
        operationId: 'listFiles',
        tags: ['files'],
        summary: "List the organisation's files, newest first",
        querystring: Strict({ ...pageQuery }),
        response: { 200: pageOf(FileSchema), ...problems() },
      },
    },
    async (req) => {
      const page = await files.list(database.db, req.ctx, { ...req.query, limit: req.query.limit ?? 100 })
      return { data: page.data.map(toFileView), next_cursor: page.next_cursor }
    },
  )
  app.get(
    '/files/:id',
    {
      config: { scope: 'files:read' },
      schema: { operationId: 'getFile', tags: ['files'], summary: "A file's description", params: IdParams, response: { 200: FileSchema, ...problems(404) } },
    },
    async (req) => toFileView(await files.get(database.db, req.ctx, req.params.id)),
  )
  app.get(
    '/files/:id/content',
    {
      config: { scope: 'files:read' },
      schema: {
        operationId: 'downloadFile',
        tags: ['files'],
        summary: "A file's content, streamed",
        params: IdParams,
        response: { 200: Type.Unknown({ description: 'The bytes, with the Content-Type given at upload' }), ...problems(404) },
      },
    },
    async (req, reply) => {
      const { row, stream } = await files.open(req.ctx, req.params.id)
      return reply
        .header('content-type', row.contentType)
        .header('content-length', String(row.size))
        .header('etag', `"${row.sha256}"`)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(row.name)}`)
        .send(stream)
    },
  )
}
