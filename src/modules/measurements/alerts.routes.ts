// Threshold alerts: the rules, and the alerts they raise on ingest.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import type { Alerts } from './alerts.service.ts'

const tags = ['measurements']
const read = 'measurements:read'
const write = 'measurements:write'

const NewAlertRule = Strict({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  series_id: Type.Optional(Type.String({ maxLength: 100, description: 'One series; or give object_type and property for every series of that property' })),
  object_type: Type.Optional(Type.String({ maxLength: 100 })),
  property: Type.Optional(Type.String({ maxLength: 100 })),
  min: Type.Optional(Nullable(Type.Number())),
  max: Type.Optional(Nullable(Type.Number())),
  unit: Type.Optional(Type.String({ maxLength: 200, description: "The unit of min and max; converted to the property's unit" })),
  for_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 31_536_000, description: 'How long a value must stay outside before the alert triggers' })),
  hysteresis: Type.Optional(Type.Number({ minimum: 0, description: 'How far back inside a value must come to resolve it' })),
  severity: Type.Optional(StringEnum(['info', 'warning', 'critical'] as const)),
})
const AlertRuleSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  series_id: Nullable(Uuid()),
  object_type_id: Nullable(Uuid()),
  property_id: Nullable(Uuid()),
  min: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
  for_seconds: Type.Integer(),
  hysteresis: Type.Number(),
  severity: Type.String(),
  is_active: Type.Boolean(),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
})
const AlertSchema = Type.Object({
  id: Uuid(),
  rule_id: Uuid(),
  series_id: Uuid(),
  severity: Type.String(),
  triggered_at: Timestamp(),
  trigger_value: Type.Number(),
  resolved_at: Nullable(Timestamp()),
  resolve_value: Nullable(Type.Number()),
  active: Type.Boolean(),
})
export const alertRoutes: FastifyPluginAsyncTypebox<{ alerts: Alerts }> = async (app, { alerts }) => {
  app.post(
    '/alert-rules',
    { config: { scope: write }, schema: { operationId: 'createAlertRule', tags, summary: 'A threshold rule on a series, or on every series of a property of a type; evaluated on ingest', body: NewAlertRule, response: { 201: AlertRuleSchema, ...problems(422) } } },
    async (req, reply) => reply.code(201).send(await alerts.createRule(req.ctx, req.body)),
  )
  app.get('/alert-rules', { config: { scope: read }, schema: { operationId: 'listAlertRules', tags, summary: 'Threshold rules, newest first', response: { 200: pageOf(AlertRuleSchema) } } }, (req) => alerts.listRules(req.ctx))
  app.delete(
    '/alert-rules/:id',
    { config: { scope: write }, schema: { operationId: 'deleteAlertRule', tags, summary: 'Delete a rule, with its alerts', params: IdParams, response: { 204: Type.Null(), ...problems(404) } } },
    async (req, reply) => reply.code(204).send(await alerts.deleteRule(req.ctx, req.params.id).then(() => null)),
  )
  app.get(
    '/alerts',
    { config: { scope: read }, schema: { operationId: 'listAlerts', tags, summary: 'Alerts raised by threshold rules, newest first; active=true for the ones not resolved', querystring: Strict({ ...pageQuery, active: Type.Optional(Type.Boolean()) }), response: { 200: pageOf(AlertSchema) } } },
    (req) => alerts.listAlerts(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
}
