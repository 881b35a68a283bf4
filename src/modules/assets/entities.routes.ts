// Entities: CRUD, soft delete and restore, bulk upsert, and the filtered list.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { BULK_LIMIT, type Entities } from './entities.service.ts'

const tags = ['entities']
const read = 'assets:read'
const write = 'assets:write'

const JsonObject = Type.Record(Type.String(), Type.Unknown())
const Name = Type.String({ minLength: 1, maxLength: 500 })
const Description = Type.Optional(Nullable(Type.String({ maxLength: 10_000 })))
const Status = Type.String({ minLength: 1, maxLength: 50, description: 'Free-form lifecycle status (`active` by default)' })
const ExternalId = Type.String({ minLength: 1, maxLength: 500, description: 'Your stable key: bulk upserts match on it' })
const Units = Type.Optional(Type.String({ maxLength: 1000, description: 'A unit per property, before any system: `measured_depth:ft,water_depth:m` (units by id, external id or symbol)' }))
const UnitSystem = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Return unit-bearing properties in this unit system (name or id), or `preferred` for yours; stored in base units otherwise' }))

export const EntitySchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  object_type_id: Uuid(),
  entity_type: Type.String({ description: 'The object type\'s name' }),
  name: Type.String(),
  description: Nullable(Type.String()),
  properties: JsonObject,
  status: Type.String(),
  is_active: Type.Boolean({ description: 'False once deleted (restorable)' }),
  schema_version: Nullable(Type.Integer({ description: 'The schema version the properties were last validated against' })),
  external_id: Nullable(Type.String()),
  managed_by: Nullable(Type.String({ description: '`identity` for the mirrors of users and organisations' })),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
  units: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'The unit of each unit-bearing property as returned' })),
})

const NewEntity = Strict({
  type: Type.String({ minLength: 1, maxLength: 100, description: 'The object type, by name or id' }),
  name: Name,
  description: Description,
  properties: Type.Optional(JsonObject),
  status: Type.Optional(Status),
  external_id: Type.Optional(Nullable(ExternalId)),
})
const EntityPatch = Strict({
  name: Type.Optional(Name),
  description: Description,
  properties: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON merge patch of the properties: null removes a key' })),
  status: Type.Optional(Status),
  external_id: Type.Optional(Nullable(ExternalId)),
})

const ListQuery = Type.Object(
  {
    ...pageQuery,
    type: Type.Optional(Type.String({ maxLength: 100, description: 'A type name, or a family: `device.*`' })),
    status: Type.Optional(Type.String({ maxLength: 50 })),
    active: Type.Optional(StringEnum(['true', 'false', 'all'] as const, { description: 'Deleted entities: `false` lists only them, `all` both (default `true`)' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Full-text search on name and description' })),
    external_id: Type.Optional(Type.String({ maxLength: 500 })),
    stale: Type.Optional(Type.Boolean({ description: 'Only entities validated against an older schema version than their type\'s current one' })),
    unit_system: UnitSystem,
    units: Units,
  },
  {
    additionalProperties: false,
    patternProperties: { '^properties\\.': Type.String({ maxLength: 1000 }) },
    description: 'Property filters: `properties.status=online`, `properties.hardware.model=ESP32-WROOM-32`, `properties.depth[gte]=1000`, `properties.status[in]=online,maintenance`, `properties.location[exists]=true` (ops: eq, ne, gt, gte, lt, lte, in, exists)',
  },
)

const BulkBody = Strict({ items: Type.Array(NewEntity, { minItems: 1, maxItems: BULK_LIMIT }) })
const BulkAnswer = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  items: Type.Array(Type.Object({ index: Type.Integer(), id: Uuid(), result: StringEnum(['created', 'updated', 'unchanged'] as const) })),
})

export const entityRoutes: FastifyPluginAsyncTypebox<{ entities: Entities }> = async (app, { entities }) => {
  app.post(
    '/entities',
    {
      config: { scope: write },
      schema: {
        operationId: 'createEntity',
        tags,
        summary: "Create an entity; its properties are validated against its type's current schema (defaults filled in)",
        body: { ...NewEntity, examples: [{ type: 'Well', name: 'Well-12', properties: { depth: 2450.5 } }] },
        response: { 201: EntitySchema, ...problems(403, 409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await entities.create(req.ctx, req.body)),
  )
  app.post(
    '/entities/bulk',
    {
      bodyLimit: 64 * 1024 * 1024,
      config: { scope: write },
      schema: {
        operationId: 'upsertEntities',
        tags,
        summary: `Create or change up to ${BULK_LIMIT.toLocaleString('en')} entities, all or nothing`,
        description: 'Matched by external_id when given, else by (type, name). Any invalid row refuses the whole request (422), with each error listed by /body/items/<index>/... path.',
        body: BulkBody,
        response: { 200: BulkAnswer, ...problems(409, 422) },
      },
    },
    (req) => entities.bulkUpsert(req.ctx, req.body.items),
  )
  app.get(
    '/entities',
    { config: { scope: read }, schema: { operationId: 'listEntities', tags, summary: 'List entities, newest first, filtered by type or family, status, property values and text', querystring: ListQuery, response: { 200: pageOf(EntitySchema), ...problems(422) } } },
    (req) => {
      const query = req.query as typeof req.query & Record<string, string>
      const filters = Object.fromEntries(Object.entries(query).filter(([k]) => k.startsWith('properties.')).map(([k, v]) => [k, String(v)]))
      return entities.list(req.ctx, { ...query, limit: query.limit ?? 100, filters })
    },
  )
  app.get(
    '/entities/:id',
    { config: { scope: read }, schema: { operationId: 'getEntity', tags, summary: 'One entity', params: IdParams, querystring: Strict({ unit_system: UnitSystem, units: Units }), response: { 200: EntitySchema, ...problems(404, 422) } } },
    (req) => entities.get(req.ctx, req.params.id, req.query.unit_system, req.query.units),
  )
  app.patch(
    '/entities/:id',
    { config: { scope: write }, schema: { operationId: 'updateEntity', tags, summary: 'Change an entity; `properties` is a JSON merge patch, revalidated against the current schema', params: IdParams, body: EntityPatch, response: { 200: EntitySchema, ...problems(403, 404, 409, 422) } } },
    (req) => entities.update(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/entities/:id',
    { config: { scope: write }, schema: { operationId: 'deleteEntity', tags, summary: 'Delete an entity (soft: is_active false, restorable); its live relationships end now', params: IdParams, response: { 200: EntitySchema, ...problems(403, 404) } } },
    (req) => entities.remove(req.ctx, req.params.id),
  )
  app.post(
    '/entities/:id/restore',
    { config: { scope: write }, schema: { operationId: 'restoreEntity', tags, summary: 'Restore a deleted entity', params: IdParams, response: { 200: EntitySchema, ...problems(403, 404, 409) } } },
    (req) => entities.restore(req.ctx, req.params.id),
  )
}
