import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Database } from '../db/database.ts'
import type { EventLog } from '../events/events.service.ts'
import { pageOf, pageQuery } from '../http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../http/schemas.ts'
import { JOB_STATUSES } from './jobs.schema.ts'
import { cancelJob, getJob, listJobs, toJobView } from './jobs.service.ts'

const JobStatusSchema = StringEnum(JOB_STATUSES)

export const JobSchema = Type.Object({
  id: Uuid(),
  organization_id: Nullable(Uuid()),
  type: Type.String(),
  status: JobStatusSchema,
  status_changed_at: Timestamp(),
  params: Type.Record(Type.String(), Type.Unknown()),
  result: Type.Unknown(),
  error: Nullable(Type.Object({ message: Type.String(), name: Type.Optional(Type.String()), errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), { description: 'What was wrong, by path (an import: by row and column)' })) })),
  priority: Type.Integer(),
  scheduled_at: Timestamp(),
  run_after: Timestamp(),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  progress_message: Nullable(Type.String()),
  cancel_requested: Type.Boolean(),
  locked_by: Nullable(Type.String()),
  locked_until: Nullable(Timestamp()),
  idempotency_key: Nullable(Type.String()),
  trace_id: Nullable(Type.String({ description: 'Trace of the request that enqueued the job' })),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
  started_at: Nullable(Timestamp()),
  finished_at: Nullable(Timestamp()),
})

export const jobRoutes: FastifyPluginAsyncTypebox<{ database: Database; events: EventLog }> = async (app, { database, events }) => {
  app.get(
    '/jobs',
    {
      config: { scope: 'jobs:read' },
      schema: {
        operationId: 'listJobs',
        tags: ['jobs'],
        summary: "List the organisation's jobs, newest first",
        querystring: Strict({ ...pageQuery, status: Type.Optional(JobStatusSchema), type: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 200: pageOf(JobSchema), ...problems() },
      },
    },
    async (req) => {
      const page = await listJobs(database.db, req.ctx, { ...req.query, limit: req.query.limit ?? 100 })
      return { data: page.data.map(toJobView), next_cursor: page.next_cursor }
    },
  )
  app.get(
    '/jobs/:id',
    {
      config: { scope: 'jobs:read' },
      schema: {
        operationId: 'getJob',
        tags: ['jobs'],
        summary: 'A job with its status, progress and result',
        params: IdParams,
        response: { 200: JobSchema, ...problems(404) },
      },
    },
    async (req) => toJobView(await getJob(database.db, req.ctx, req.params.id)),
  )
  app.post(
    '/jobs/:id/cancel',
    {
      config: { scope: 'jobs:write' },
      schema: {
        operationId: 'cancelJob',
        tags: ['jobs'],
        summary: 'Cancel a job: a pending job at once, a running one at its next heartbeat',
        params: IdParams,
        response: { 200: JobSchema, ...problems(404, 409) },
      },
    },
    async (req) => toJobView(await database.transaction((tx) => cancelJob(tx, req.ctx, events, req.params.id))),
  )
}
