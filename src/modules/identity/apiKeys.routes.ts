// /api-keys: create (the key is shown once), list, read, revoke, usage.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import type { createApiKeys } from './apiKeys.service.ts'

const ApiKeySchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  user_id: Uuid('Who created it; the key never does more than this user may'),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  scopes: Type.Array(Type.String()),
  device_id: Nullable(Uuid()),
  rate_limit_per_minute: Nullable(Type.Integer()),
  status: StringEnum(['active', 'expired', 'revoked'] as const),
  last_used_at: Nullable(Timestamp()),
  expires_at: Nullable(Timestamp()),
  revoked_at: Nullable(Timestamp()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

const UsageSchema = Type.Object({
  api_key_id: Uuid(),
  requests: Type.Integer(),
  errors: Type.Integer(),
  avg_response_time_ms: Nullable(Type.Number()),
  p95_response_time_ms: Nullable(Type.Number({ description: 'Upper bound of the histogram bucket holding the 95th percentile (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000 ms)' })),
  max_response_time_ms: Nullable(Type.Integer()),
  first_request_at: Nullable(Timestamp('Start of the first minute with requests')),
  last_request_at: Nullable(Timestamp()),
  last_used_at: Nullable(Timestamp()),
  by_status: Type.Array(Type.Object({ status_class: Type.String(), requests: Type.Integer() })),
  by_endpoint: Type.Array(Type.Object({ method: Type.String(), endpoint: Type.String(), requests: Type.Integer(), errors: Type.Integer(), avg_ms: Type.Number() })),
})

const tags = ['api-keys']

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ apiKeys: ReturnType<typeof createApiKeys> }> = async (app, { apiKeys }) => {
  app.post(
    '/api-keys',
    {
      config: { scope: 'api_keys:write' },
      schema: {
        operationId: 'createApiKey',
        tags,
        summary: 'Create an API key (its scopes may only narrow yours); the key is in this answer and nowhere else',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 200 }),
          scopes: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 }),
          rate_limit_per_minute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          expires_at: Type.Optional(Timestamp()),
          device_id: Type.Optional(Uuid('Makes a device key: it may only act for this device')),
        }),
        response: { 201: Type.Object({ ...ApiKeySchema.properties, key: Type.String({ description: 'stratum_<32 base62><6-character CRC32 checksum>' }) }), ...problems(403, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await apiKeys.create(req.ctx, req.body)),
  )
  app.get(
    '/api-keys',
    {
      config: { scope: 'api_keys:read' },
      schema: { operationId: 'listApiKeys', tags, summary: 'My API keys (all of the organisation for admins), newest first', querystring: Strict(pageQuery), response: { 200: pageOf(ApiKeySchema), ...problems() } },
    },
    (req) => apiKeys.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/api-keys/:id',
    { config: { scope: 'api_keys:read' }, schema: { operationId: 'getApiKey', tags, summary: 'One API key', params: IdParams, response: { 200: ApiKeySchema, ...problems(404) } } },
    (req) => apiKeys.get(req.ctx, req.params.id),
  )
  app.delete(
    '/api-keys/:id',
    {
      config: { scope: 'api_keys:write' },
      schema: { operationId: 'revokeApiKey', tags, summary: 'Revoke an API key (effective in this process at once, in every process within AUTH_CACHE_TTL_MS)', params: IdParams, response: { 200: ApiKeySchema, ...problems(404) } },
    },
    (req) => apiKeys.revoke(req.ctx, req.params.id),
  )
  app.get(
    '/api-keys/:id/usage',
    {
      config: { scope: 'api_keys:read' },
      schema: {
        operationId: 'getApiKeyUsage',
        tags,
        summary: 'Requests made with the key: totals, status classes, timings, busiest endpoints',
        params: IdParams,
        querystring: Strict({ since: Type.Optional(Timestamp()), until: Type.Optional(Timestamp()) }),
        response: { 200: UsageSchema, ...problems(404) },
      },
    },
    (req) => apiKeys.usage(req.ctx, req.params.id, req.query),
  )
}
