// /unit-types, /units, /unit-systems (+ /{id}/defaults), /unit-categories, /units/convert.
// Reads see the global catalog plus the caller's organisation's own rows.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, Uuid, problems } from '../../core/http/schemas.ts'
import type { Units } from './units.service.ts'

const tags = ['units']
const Owner = Nullable(Uuid('The organisation that added the row; null for the global catalog'))
const Ref = (description: string) => Type.String({ minLength: 1, maxLength: 200, description })

export const UnitTypeSchema = Type.Object({ id: Uuid(), name: Type.String(), external_id: Nullable(Type.String()), description: Nullable(Type.String()), organization_id: Owner, source: Type.String() })
export const UnitSchema = Type.Object({
  id: Uuid(),
  external_id: Nullable(Type.String({ description: 'e.g. pressure:psi' })),
  name: Type.String(),
  long_name: Nullable(Type.String()),
  symbol: Type.String(),
  aliases: Type.Array(Type.String()),
  unit_type_id: Uuid(),
  unit_type: Type.String(),
  is_base: Type.Boolean(),
  conversion: Type.Object(
    { a: Type.Number(), b: Type.Number(), c: Type.Number(), d: Type.Number(), scale: Nullable(Type.Number()), offset: Nullable(Type.Number()) },
    { description: 'value_in_base = (a*x + b) / (c*x + d); when scale and offset are set, value_in_base = (x + offset) * scale, which conversion uses' },
  ),
  organization_id: Owner,
  source: Type.String(),
  source_reference: Nullable(Type.String()),
})
export const UnitSystemSchema = Type.Object({ id: Uuid(), name: Type.String(), description: Nullable(Type.String()), organization_id: Owner, source: Type.String() })
export const UnitCategorySchema = Type.Object({ id: Uuid(), name: Type.String(), unit_type_id: Uuid(), unit_type: Type.String(), description: Nullable(Type.String()), organization_id: Owner, source: Type.String() })

const TypeFilter = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A unit type by id, external id (`pressure`) or name (`Pressure`)' }))
const Search = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring' }))
export const RefParams = Strict({ id: Ref('An id or an external id') })

const ConvertBody = Strict(
  {
    from: Ref('The unit of the values: id, external id (`pressure:psi`), symbol (`psi`) or alias'),
    to: Type.Optional(Ref('The unit to convert to, named the same ways')),
    to_system: Type.Optional(Ref("Instead of `to`: a unit system (id or name, e.g. `Oil Field`); the target is the system's default unit for `category`, or for the category named like the unit's type")),
    category: Type.Optional(Ref('With `to_system`: a category of the unit\'s type (id or name, e.g. `Tubing Head Pressure`)')),
    value: Type.Optional(Type.Number()),
    values: Type.Optional(Type.Array(Type.Number(), { maxItems: 1_000_000 })),
  },
  { description: 'Give `value` or `values`, not both; `to` or `to_system`, not both' },
)
export const UnitRefSchema = Type.Object({ id: Uuid(), external_id: Nullable(Type.String()), symbol: Type.String() }, { description: 'The unit the values are in' })
const ConvertAnswer = Type.Object({ value: Type.Optional(Type.Number()), values: Type.Optional(Type.Array(Type.Number())), unit: UnitRefSchema, from: UnitSchema, to: UnitSchema })

export const unitRoutes: FastifyPluginAsyncTypebox<{ units: Units }> = async (app, { units }) => {
  app.get(
    '/unit-types',
    {
      config: { scope: 'units:read' },
      schema: { operationId: 'listUnitTypes', tags, summary: 'Unit types (quantities), alphabetically', querystring: Strict({ ...pageQuery, q: Search }), response: { 200: pageOf(UnitTypeSchema), ...problems() } },
    },
    (req) => units.listUnitTypes(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/unit-types/:id',
    { config: { scope: 'units:read' }, schema: { operationId: 'getUnitType', tags, summary: 'One unit type, by id, external id or name', params: RefParams, response: { 200: UnitTypeSchema, ...problems(404) } } },
    (req) => units.getUnitType(req.ctx, req.params.id),
  )
  app.get(
    '/units',
    {
      config: { scope: 'units:read' },
      schema: {
        operationId: 'listUnits',
        tags,
        summary: 'Units, alphabetically by name; filter by type, search name, symbol, external id and aliases',
        querystring: Strict({ ...pageQuery, type: TypeFilter, q: Search, is_base: Type.Optional(Type.Boolean()) }),
        response: { 200: pageOf(UnitSchema), ...problems() },
      },
    },
    (req) => units.listUnits(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/units/:id',
    { config: { scope: 'units:read' }, schema: { operationId: 'getUnit', tags, summary: 'One unit, by id or external id (`pressure:psi`)', params: RefParams, response: { 200: UnitSchema, ...problems(404) } } },
    (req) => units.getUnit(req.ctx, req.params.id),
  )
  app.post(
    '/units/convert',
    {
      config: { scope: 'units:read' },
      // 100,000 values are about 2 MB of JSON.
      bodyLimit: 32 * 1024 * 1024,
      schema: {
        operationId: 'convertUnits',
        tags,
        summary: 'Convert a value or values between two units of one type',
        description:
          'Units are named by id, external id (case-insensitive), symbol or alias (exact case first, then ignoring case). A name that fits several units is a 422 listing them, unless the other unit\'s type decides. Units of different types are a 422 naming both. With `to_system`, a system without a default for the category is a 422 naming /body/to_system.',
        body: { ...ConvertBody, examples: [{ from: 'psi', to: 'bar', value: 1000 }, { from: 'pressure:psi', to: 'kPa', values: [14.7, 100, 2500] }, { from: 'Pa', to_system: 'Oil Field', value: 100000 }] },
        response: { 200: ConvertAnswer, ...problems(422) },
      },
    },
    (req) => units.convert(req.ctx, req.body),
  )
  app.get(
    '/unit-systems',
    { config: { scope: 'units:read' }, schema: { operationId: 'listUnitSystems', tags, summary: 'Unit systems (Default, SI, Imperial, Oil Field and your own)', querystring: Strict(pageQuery), response: { 200: pageOf(UnitSystemSchema), ...problems() } } },
    (req) => units.listUnitSystems(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/unit-systems/:id',
    { config: { scope: 'units:read' }, schema: { operationId: 'getUnitSystem', tags, summary: 'One unit system', params: IdParams, response: { 200: UnitSystemSchema, ...problems(404) } } },
    (req) => units.getUnitSystem(req.ctx, req.params.id),
  )
  app.get(
    '/unit-systems/:id/defaults',
    {
      config: { scope: 'units:read' },
      schema: {
        operationId: 'listUnitSystemDefaults',
        tags,
        summary: "The system's default unit for each category",
        params: IdParams,
        querystring: Strict({ type: TypeFilter }),
        response: { 200: Type.Object({ unit_system: UnitSystemSchema, data: Type.Array(Type.Object({ unit_category: UnitCategorySchema, unit: UnitSchema })) }), ...problems(404) },
      },
    },
    (req) => units.listSystemDefaults(req.ctx, req.params.id, req.query),
  )
  app.get(
    '/unit-categories',
    {
      config: { scope: 'units:read' },
      schema: { operationId: 'listUnitCategories', tags, summary: 'Unit categories, alphabetically', querystring: Strict({ ...pageQuery, type: TypeFilter, q: Search }), response: { 200: pageOf(UnitCategorySchema), ...problems() } },
    },
    (req) => units.listUnitCategories(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/unit-categories/:id',
    { config: { scope: 'units:read' }, schema: { operationId: 'getUnitCategory', tags, summary: 'One unit category', params: IdParams, response: { 200: UnitCategorySchema, ...problems(404) } } },
    (req) => units.getUnitCategory(req.ctx, req.params.id),
  )
}
