// Object types, their property definitions and their schema versions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { DATA_TYPES } from './assets.schema.ts'
import type { ObjectTypes } from './objectTypes.service.ts'

const tags = ['object-types']
const read = 'assets:read'
const write = 'assets:write'

const TypeName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_ -]*(\\.[A-Za-z0-9][A-Za-z0-9_ -]*)*$', description: 'Unique in the organisation; dots make families (`device.esp32` is in `device`)' })
const PropertyName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z_][A-Za-z0-9_-]*$' })
const Description = Type.Optional(Nullable(Type.String({ maxLength: 2000 })))
const JsonObject = Type.Record(Type.String(), Type.Unknown())
const Migrate = Type.Optional(Type.Boolean({ description: 'Apply a breaking schema change and revalidate existing entities as a job' }))

const propertyFields = {
  description: Description,
  data_type: StringEnum(DATA_TYPES),
  time_varying: Type.Optional(Type.Boolean({ description: 'A series (measurements), not part of an entity\'s properties' })),
  unit_category: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: 'A unit category by id or name (`Pressure`); its type\'s base unit becomes the property\'s `unit`' }))),
  display_unit: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: 'How clients should show it: a unit of the category\'s type' }))),
  openserver: Type.Optional(Nullable(Type.String({ maxLength: 500, description: 'External tag (an OpenServer address), as the seed names it' }))),
  required: Type.Optional(Type.Boolean()),
  indexed: Type.Optional(Type.Boolean({ description: 'Build a range index on the value, so `properties.<name>[gte]=` filters stay fast on millions of entities (static number and integer properties)' })),
  default: Type.Optional(Type.Unknown({ description: 'Filled in when an entity omits the property; must itself be valid' })),
  enum_values: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500 }))),
  minimum: Type.Optional(Nullable(Type.Number())),
  maximum: Type.Optional(Nullable(Type.Number())),
}
const NewProperty = Strict({ name: PropertyName, ...propertyFields })
const PropertyPatch = Strict({ name: Type.Optional(PropertyName), ...propertyFields, data_type: Type.Optional(propertyFields.data_type) })

const SchemaChange = Type.Object({ kind: Type.String(), path: Type.String(), breaking: Type.Boolean(), message: Type.String() })
const SchemaOutcome = Type.Object({
  schema_version: Type.Integer(),
  change: StringEnum(['none', 'initial', 'compatible', 'breaking'] as const),
  changes: Type.Array(SchemaChange),
  revalidation_job_id: Nullable(Uuid('The job revalidating existing entities after a breaking change')),
})

export const ObjectTypeSchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  name: Type.String(),
  family: Type.String(),
  description: Nullable(Type.String()),
  schema_version: Type.Integer(),
  raw_schema: Nullable(JsonObject),
  managed_by: Nullable(Type.String()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const PropertySchema = Type.Object({
  id: Uuid(),
  object_type_id: Uuid(),
  name: Type.String(),
  description: Nullable(Type.String()),
  data_type: StringEnum(DATA_TYPES),
  time_varying: Type.Boolean(),
  unit_category_id: Nullable(Uuid()),
  unit_id: Nullable(Uuid()),
  unit: Nullable(Type.String({ description: "The base unit of the category's type: values are stored in it" })),
  display_unit_id: Nullable(Uuid()),
  display_unit: Nullable(Type.String()),
  openserver: Nullable(Type.String()),
  required: Type.Boolean(),
  indexed: Type.Boolean(),
  default: Type.Unknown(),
  enum_values: Nullable(Type.Array(Type.String())),
  minimum: Nullable(Type.Number()),
  maximum: Nullable(Type.Number()),
  position: Type.Integer(),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const PropertyAnswer = Type.Intersect([PropertySchema, Type.Object({ schema_change: SchemaOutcome, index_job_id: Nullable(Uuid('The job building the range index, when the property just became indexed')) })])
const VersionSchema = Type.Object({
  id: Uuid(),
  key: Type.String({ description: 'The seed\'s schema id: `<type>.v<version>`' }),
  version: Type.Integer(),
  object_type_id: Uuid(),
  entity_type: Type.String(),
  definition: JsonObject,
  description: Nullable(Type.String()),
  source: StringEnum(['properties', 'raw'] as const),
  change: StringEnum(['initial', 'compatible', 'breaking'] as const),
  changes: Type.Array(SchemaChange),
  valid_from: Timestamp(),
  valid_to: Nullable(Timestamp()),
  created_by: Nullable(Type.String()),
})

const TypeRef = Strict({ id: Type.String({ minLength: 1, maxLength: 100, description: 'The type\'s id or name' }) })
const PropertyParams = Strict({ id: TypeRef.properties.id, property_id: Uuid() })
const VersionParams = Strict({ id: TypeRef.properties.id, version: Type.String({ minLength: 1, maxLength: 50, description: 'A version number or `current`' }) })
const MigrateQuery = Strict({ migrate: Migrate })

const NewObjectType = Strict({
  name: TypeName,
  description: Description,
  properties: Type.Optional(Type.Array(NewProperty, { maxItems: 500 })),
  schema: Type.Optional(Nullable(JsonObject)),
})
const ObjectTypePatch = Strict({
  name: Type.Optional(TypeName),
  description: Description,
  schema: Type.Optional(Nullable(JsonObject)),
  migrate: Migrate,
})

export const objectTypeRoutes: FastifyPluginAsyncTypebox<{ types: ObjectTypes }> = async (app, { types }) => {
  app.post(
    '/object-types',
    {
      config: { scope: write },
      schema: {
        operationId: 'createObjectType',
        tags,
        summary: 'Create an object type (entity type), with its properties and optionally a raw JSON Schema for nested structures',
        description: 'Its static properties compile to a JSON Schema 2020-12 document (version 1), merged over `schema` when given.',
        body: { ...NewObjectType, examples: [{ name: 'Well', properties: [{ name: 'depth', data_type: 'number', unit_category: 'Length', minimum: 0 }, { name: 'status', data_type: 'enum', enum_values: ['producing', 'shut_in'], default: 'producing' }] }] },
        response: { 201: ObjectTypeSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await types.createType(req.ctx, req.body)),
  )
  app.get(
    '/object-types',
    {
      config: { scope: read },
      schema: { operationId: 'listObjectTypes', tags, summary: 'List object types by name', querystring: Strict({ ...pageQuery, family: Type.Optional(Type.String({ maxLength: 100, description: 'Only this family (`device` lists device and device.*)' })), q: Type.Optional(Type.String({ maxLength: 100 })) }), response: { 200: pageOf(ObjectTypeSchema) } },
    },
    (req) => types.listTypes(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get('/object-types/:id', { config: { scope: read }, schema: { operationId: 'getObjectType', tags, summary: 'An object type by id or name', params: TypeRef, response: { 200: ObjectTypeSchema, ...problems(404) } } }, (req) => types.getType(req.ctx, req.params.id))
  app.patch(
    '/object-types/:id',
    {
      config: { scope: write },
      schema: { operationId: 'updateObjectType', tags, summary: 'Rename or describe an object type, or replace its raw JSON Schema (a breaking change needs migrate)', params: TypeRef, body: ObjectTypePatch, response: { 200: Type.Intersect([ObjectTypeSchema, Type.Object({ schema_change: Nullable(SchemaOutcome) })]), ...problems(403, 404, 409, 422) } },
    },
    (req) => types.updateType(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/object-types/:id',
    { config: { scope: write }, schema: { operationId: 'deleteObjectType', tags, summary: 'Delete an object type that has no entities', params: TypeRef, response: { 204: Type.Null(), ...problems(403, 404, 409) } } },
    async (req, reply) => reply.code(204).send(await types.deleteType(req.ctx, req.params.id).then(() => null)),
  )

  app.get(
    '/object-types/:id/properties',
    { config: { scope: read }, schema: { operationId: 'listObjectTypeProperties', tags, summary: "A type's property definitions in order", params: TypeRef, response: { 200: pageOf(PropertySchema), ...problems(404) } } },
    (req) => types.listProperties(req.ctx, req.params.id),
  )
  app.post(
    '/object-types/:id/properties',
    {
      config: { scope: write },
      schema: { operationId: 'addObjectTypeProperty', tags, summary: 'Add a property; the schema gets a new version (a required property without default is breaking: pass migrate=true)', params: TypeRef, querystring: MigrateQuery, body: NewProperty, response: { 201: PropertyAnswer, ...problems(403, 404, 409, 422) } },
    },
    async (req, reply) => reply.code(201).send(await types.addProperty(req.ctx, req.params.id, req.body, req.query.migrate)),
  )
  app.get(
    '/object-types/:id/properties/:property_id',
    { config: { scope: read }, schema: { operationId: 'getObjectTypeProperty', tags, summary: 'One property definition', params: PropertyParams, response: { 200: PropertySchema, ...problems(404) } } },
    (req) => types.getProperty(req.ctx, req.params.id, req.params.property_id),
  )
  app.patch(
    '/object-types/:id/properties/:property_id',
    {
      config: { scope: write },
      schema: { operationId: 'updateObjectTypeProperty', tags, summary: 'Change a property; narrowing or retyping is breaking (pass migrate=true)', params: PropertyParams, querystring: MigrateQuery, body: PropertyPatch, response: { 200: PropertyAnswer, ...problems(403, 404, 409, 422) } },
    },
    (req) => types.updateProperty(req.ctx, req.params.id, req.params.property_id, req.body, req.query.migrate),
  )
  app.delete(
    '/object-types/:id/properties/:property_id',
    {
      config: { scope: write },
      schema: { operationId: 'deleteObjectTypeProperty', tags, summary: 'Remove a property; breaking for a closed schema (pass migrate=true)', params: PropertyParams, querystring: MigrateQuery, response: { 200: Type.Object({ schema_change: SchemaOutcome }), ...problems(403, 404, 409) } },
    },
    (req) => types.deleteProperty(req.ctx, req.params.id, req.params.property_id, req.query.migrate),
  )

  app.get(
    '/object-types/:id/schemas',
    { config: { scope: read }, schema: { operationId: 'listObjectTypeSchemas', tags, summary: "A type's schema versions, newest first", params: TypeRef, querystring: Strict(pageQuery), response: { 200: pageOf(VersionSchema), ...problems(404) } } },
    (req) => types.listSchemas(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/object-types/:id/schemas/:version',
    { config: { scope: read }, schema: { operationId: 'getObjectTypeSchema', tags, summary: 'One schema version, or `current`', params: VersionParams, response: { 200: VersionSchema, ...problems(404, 422) } } },
    (req) => types.getSchema(req.ctx, req.params.id, req.params.version),
  )
}
