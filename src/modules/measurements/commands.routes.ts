// Device commands: users queue and cancel them; a device fetches and acknowledges its own with
// its key.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import type { Commands } from './commands.service.ts'
import { COMMAND_STATUSES } from './measurements.schema.ts'

const tags = ['device commands']

const CommandSchema = Type.Object({
  id: Uuid(),
  device_id: Uuid(),
  command: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  status: StringEnum(COMMAND_STATUSES),
  status_changed_at: Timestamp(),
  result: Type.Unknown(),
  expires_at: Nullable(Timestamp()),
  delivered_at: Nullable(Timestamp()),
  finished_at: Nullable(Timestamp()),
  deliveries: Type.Integer(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
})
const NewCommand = Strict({
  command: Type.String({ minLength: 1, maxLength: 200, description: 'What the device should do (`set_interval`, `reboot`...)' }),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  expires_in_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Not fetched by then: expired' })),
})
const Outcome = Strict({ status: StringEnum(['acknowledged', 'failed'] as const), result: Type.Optional(Type.Unknown()) })

export const commandRoutes: FastifyPluginAsyncTypebox<{ commands: Commands }> = async (app, { commands }) => {
  app.post(
    '/devices/:id/commands',
    { config: { scope: 'measurements:write' }, schema: { operationId: 'sendDeviceCommand', tags, summary: 'Queue a command for a device (event command.sent)', params: IdParams, body: NewCommand, response: { 201: CommandSchema, ...problems(404, 422) } } },
    async (req, reply) => reply.code(201).send(await commands.send(req.ctx, req.params.id, req.body)),
  )
  app.get(
    '/devices/:id/commands',
    { config: { scope: 'measurements:read' }, schema: { operationId: 'listDeviceCommands', tags, summary: "A device's commands, newest first", params: IdParams, querystring: Strict({ ...pageQuery, status: Type.Optional(StringEnum(COMMAND_STATUSES)) }), response: { 200: pageOf(CommandSchema), ...problems(404) } } },
    (req) => commands.list(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.post(
    '/commands/:id/cancel',
    { config: { scope: 'measurements:write' }, schema: { operationId: 'cancelDeviceCommand', tags, summary: 'Cancel a queued or delivered command (409 once finished)', params: IdParams, response: { 200: CommandSchema, ...problems(404, 409) } } },
    (req) => commands.cancel(req.ctx, req.params.id),
  )
  app.get(
    '/device/commands',
    { config: { scope: 'device' }, schema: { operationId: 'fetchDeviceCommands', tags, summary: 'For a device key: its pending commands, oldest first; fetching delivers them', querystring: Strict({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }), response: { 200: Type.Object({ data: Type.Array(CommandSchema) }), ...problems(403) } } },
    (req) => commands.fetch(req.ctx, req.query.limit ?? 10),
  )
  app.post(
    '/device/commands/:id/ack',
    { config: { scope: 'device' }, schema: { operationId: 'acknowledgeDeviceCommand', tags, summary: 'For a device key: report a delivered command acknowledged or failed, with a result', params: IdParams, body: Outcome, response: { 200: CommandSchema, ...problems(403, 404, 409) } } },
    (req) => commands.finish(req.ctx, req.params.id, req.body),
  )
}
