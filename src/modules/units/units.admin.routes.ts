// An organisation's own unit types, units, categories and systems: create, update, delete, and
// the default unit of a category in a system. Catalog rows answer 403 (read-only), another
// organisation's rows 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdParams, Nullable, Strict, Uuid, problems } from '../../core/http/schemas.ts'
import type { UnitsAdmin } from './units.admin.service.ts'
import { RefParams, UnitCategorySchema, UnitSchema, UnitSystemSchema, UnitTypeSchema } from './units.routes.ts'

const tags = ['units']
const scope = 'units:write'
const Name = Type.String({ minLength: 1, maxLength: 200 })
const Description = Type.Optional(Nullable(Type.String({ maxLength: 2000 })))
const ExternalId = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$', description: 'A stable key, stored lower case (e.g. `volume:kbbl`); may not be a catalog row\'s' })
const TypeRef = Type.String({ minLength: 1, maxLength: 200, description: 'A unit type by id, external id (`volume`) or name (`Volume`): the catalog\'s or your own' })
const Factor = (description: string) => Type.Optional(Type.Number({ description }))
const conversion = {
  scale: Factor('value_in_base = (x + offset) * scale'),
  offset: Factor('Defaults to 0 when scale is given'),
  a: Factor('value_in_base = (a*x + b) / (c*x + d); give scale/offset or a..d, not both'),
  b: Factor('Defaults to 0'),
  c: Factor('Defaults to 0'),
  d: Factor('Defaults to 1'),
}
const unitFields = {
  symbol: Type.String({ minLength: 1, maxLength: 100 }),
  long_name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
  ...conversion,
}

const NewUnitType = Strict({ name: Name, external_id: Type.Optional(ExternalId), description: Description })
const UnitTypePatch = Strict({ name: Type.Optional(Name), external_id: Type.Optional(Nullable(ExternalId)), description: Description })
const NewUnit = Strict(
  { type: TypeRef, name: Name, external_id: Type.Optional(ExternalId), is_base: Type.Optional(Type.Boolean({ description: 'The first unit of your own type is its base; a catalog type has its base already' })), ...unitFields },
  { description: 'Define the unit against its type\'s base unit by scale and offset, or by a, b, c and d' },
)
const UnitPatch = Strict({ name: Type.Optional(Name), external_id: Type.Optional(Nullable(ExternalId)), ...unitFields, symbol: Type.Optional(unitFields.symbol) })
const NewUnitCategory = Strict({ name: Name, type: TypeRef, description: Description })
const UnitCategoryPatch = Strict({ name: Type.Optional(Name), description: Description })
const NewUnitSystem = Strict({ name: Name, description: Description })
const UnitSystemPatch = Strict({ name: Type.Optional(Name), description: Description })
const DefaultParams = Strict({ id: Uuid(), category_id: Uuid() })
const DefaultBody = Strict({ unit: Type.String({ minLength: 1, maxLength: 200, description: 'Id, external id (`pressure:psi`), symbol or alias; of the category\'s type' }) })
const DefaultAnswer = Type.Object({ unit_system: UnitSystemSchema, unit_category: UnitCategorySchema, unit: UnitSchema })
const Deleted = { 204: Type.Null() }

export const unitAdminRoutes: FastifyPluginAsyncTypebox<{ admin: UnitsAdmin }> = async (app, { admin }) => {
  app.post(
    '/unit-types',
    { config: { scope }, schema: { operationId: 'createUnitType', tags, summary: 'Add a unit type (quantity) of your own', body: NewUnitType, response: { 201: UnitTypeSchema, ...problems(409, 422) } } },
    async (req, reply) => reply.code(201).send(await admin.createUnitType(req.ctx, req.body)),
  )
  app.patch(
    '/unit-types/:id',
    { config: { scope }, schema: { operationId: 'updateUnitType', tags, summary: 'Change one of your unit types (catalog types are read-only)', params: RefParams, body: UnitTypePatch, response: { 200: UnitTypeSchema, ...problems(403, 404, 409, 422) } } },
    (req) => admin.updateUnitType(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/unit-types/:id',
    { config: { scope }, schema: { operationId: 'deleteUnitType', tags, summary: 'Delete one of your unit types that has no units or categories', params: RefParams, response: { ...Deleted, ...problems(403, 404, 409) } } },
    async (req, reply) => reply.code(204).send(await admin.deleteUnitType(req.ctx, req.params.id).then(() => null)),
  )

  app.post(
    '/units',
    { config: { scope }, schema: { operationId: 'createUnit', tags, summary: 'Add a unit, to a catalog type or your own', body: { ...NewUnit, examples: [{ type: 'volume', name: 'kilobarrel', symbol: 'kbbl', scale: 158.987294928 }] }, response: { 201: UnitSchema, ...problems(409, 422) } } },
    async (req, reply) => reply.code(201).send(await admin.createUnit(req.ctx, req.body)),
  )
  app.patch(
    '/units/:id',
    { config: { scope }, schema: { operationId: 'updateUnit', tags, summary: 'Change one of your units (catalog units are read-only)', params: RefParams, body: UnitPatch, response: { 200: UnitSchema, ...problems(403, 404, 409, 422) } } },
    (req) => admin.updateUnit(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/units/:id',
    { config: { scope }, schema: { operationId: 'deleteUnit', tags, summary: 'Delete one of your units; a unit that is a system default is refused (409 naming where)', params: RefParams, response: { ...Deleted, ...problems(403, 404, 409) } } },
    async (req, reply) => reply.code(204).send(await admin.deleteUnit(req.ctx, req.params.id).then(() => null)),
  )

  app.post(
    '/unit-categories',
    { config: { scope }, schema: { operationId: 'createUnitCategory', tags, summary: 'Add a unit category under a catalog type or your own', body: NewUnitCategory, response: { 201: UnitCategorySchema, ...problems(409, 422) } } },
    async (req, reply) => reply.code(201).send(await admin.createUnitCategory(req.ctx, req.body)),
  )
  app.patch(
    '/unit-categories/:id',
    { config: { scope }, schema: { operationId: 'updateUnitCategory', tags, summary: 'Rename or describe one of your unit categories', params: IdParams, body: UnitCategoryPatch, response: { 200: UnitCategorySchema, ...problems(403, 404, 409) } } },
    (req) => admin.updateUnitCategory(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/unit-categories/:id',
    { config: { scope }, schema: { operationId: 'deleteUnitCategory', tags, summary: 'Delete one of your unit categories that no system has a default for', params: IdParams, response: { ...Deleted, ...problems(403, 404, 409) } } },
    async (req, reply) => reply.code(204).send(await admin.deleteUnitCategory(req.ctx, req.params.id).then(() => null)),
  )

  app.post(
    '/unit-systems',
    { config: { scope }, schema: { operationId: 'createUnitSystem', tags, summary: 'Add a unit system of your own', body: NewUnitSystem, response: { 201: UnitSystemSchema, ...problems(409) } } },
    async (req, reply) => reply.code(201).send(await admin.createUnitSystem(req.ctx, req.body)),
  )
  app.patch(
    '/unit-systems/:id',
    { config: { scope }, schema: { operationId: 'updateUnitSystem', tags, summary: 'Rename or describe one of your unit systems', params: IdParams, body: UnitSystemPatch, response: { 200: UnitSystemSchema, ...problems(403, 404, 409) } } },
    (req) => admin.updateUnitSystem(req.ctx, req.params.id, req.body),
  )
  app.delete(
    '/unit-systems/:id',
    { config: { scope }, schema: { operationId: 'deleteUnitSystem', tags, summary: 'Delete one of your unit systems, with its defaults', params: IdParams, response: { ...Deleted, ...problems(403, 404) } } },
    async (req, reply) => reply.code(204).send(await admin.deleteUnitSystem(req.ctx, req.params.id).then(() => null)),
  )
  app.put(
    '/unit-systems/:id/defaults/:category_id',
    {
      config: { scope },
      schema: { operationId: 'setUnitSystemDefault', tags, summary: "Set the default unit of a category in one of your systems (the unit must be of the category's type)", params: DefaultParams, body: DefaultBody, response: { 200: DefaultAnswer, ...problems(403, 404, 422) } },
    },
    (req) => admin.setSystemDefault(req.ctx, req.params.id, req.params.category_id, req.body.unit),
  )
  app.delete(
    '/unit-systems/:id/defaults/:category_id',
    { config: { scope }, schema: { operationId: 'removeUnitSystemDefault', tags, summary: 'Remove the default unit of a category from one of your systems', params: DefaultParams, response: { ...Deleted, ...problems(403, 404) } } },
    async (req, reply) => reply.code(204).send(await admin.removeSystemDefault(req.ctx, req.params.id, req.params.category_id).then(() => null)),
  )
}
