import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Database } from '../db/database.ts'
import { pageOf, pageQuery } from '../http/pagination.ts'
import { Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../http/schemas.ts'
import { listEvents } from './events.service.ts'

export const EventSchema = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String({ description: '`noun.verb`, e.g. `scenario.approved`' }),
    timestamp: Timestamp(),
    organization_id: Nullable(Uuid()),
    entity_type: Type.String(),
    entity_id: Uuid(),
    actor: Nullable(Type.String({ description: '`user:<id>`, `api_key:<id>` or `system:stratum`' })),
    trace_id: Nullable(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
    event_metadata: Type.Record(Type.String(), Type.Unknown()),
    source_node: Nullable(Type.String()),
  },
  { $id: 'Event' },
)

export const eventRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  app.get(
    '/events',
    {
      config: { scope: 'events:read' },
      schema: {
        operationId: 'listEvents',
        tags: ['events'],
        summary: "List the organisation's events, newest first unless sort=timestamp",
        querystring: Strict({
          ...pageQuery,
          type: Type.Optional(Type.String({ maxLength: 100, description: 'Exact event type' })),
          type_prefix: Type.Optional(Type.String({ maxLength: 100, description: 'Event types starting with this, e.g. `job.`' })),
          entity_id: Type.Optional(Uuid()),
          entity_type: Type.Optional(Type.String({ maxLength: 100 })),
          since: Type.Optional(Timestamp('Events at or after this time')),
          until: Type.Optional(Timestamp('Events before this time')),
          sort: Type.Optional(StringEnum(['timestamp', '-timestamp'], { default: '-timestamp' })),
        }),
        response: { 200: pageOf(EventSchema), ...problems() },
      },
    },
    async (req) => listEvents(database.db, req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
}
