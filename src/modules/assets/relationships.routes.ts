// /relationship-types, /relationships (+ /{id}/end), and the graph reads under an entity:
// /entities/{id}/neighbors, /entities/{id}/path and /entities/{id}/tree, all "as of" a time.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { MAX_DEPTH, MAX_TREE_DEPTH, type Relationships } from './relationships.service.ts'

const tags = ['relationships']
const read = { scope: 'assets:read' }
const write = { scope: 'assets:write' }

const TypeName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z][a-z0-9_]*$', description: 'Lower case, digits and underscores, starting with a letter (`monitors`, `part_of`)' })
const Json = Type.Record(Type.String(), Type.Unknown())
const Strength = Type.Number({ minimum: 0, maximum: 1, description: 'How strong the relationship is, 0.00 to 1.00 (two decimals kept)' })
const Direction = (description: string, byDefault?: 'both') => StringEnum(['out', 'in', 'both'] as const, { description, ...(byDefault ? { default: byDefault } : {}) })
const At = Type.Optional(Timestamp('As of this time (default now): relationships with valid_from <= at < valid_to (or no valid_to)'))

export const RelationshipTypeSchema = Type.Object({
  id: Uuid(),
  organization_id: Nullable(Uuid('null for a built-in type')),
  name: Type.String(),
  description: Nullable(Type.String()),
  inverse_name: Nullable(Type.String({ description: 'The name read from the other end (`monitored_by`)' })),
  hierarchical: Type.Boolean({ description: 'Forms trees: may not form a cycle' }),
  built_in: Type.Boolean(),
  created_at: Timestamp(),
})

export const RelationshipSchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  from_entity_id: Uuid(),
  to_entity_id: Uuid(),
  relationship_type: Type.String(),
  properties: Json,
  strength: Type.Number(),
  valid_from: Timestamp(),
  valid_to: Nullable(Timestamp('null: open (still holds)')),
  is_live: Type.Boolean({ description: 'Holds now' }),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

const EntitySummary = Type.Object({ id: Uuid(), name: Type.String(), entity_type: Type.String(), properties: Json, status: Type.String(), is_active: Type.Boolean() })
const Step = Type.Object({
  id: Uuid(),
  relationship_type: Type.String(),
  from_entity_id: Uuid(),
  to_entity_id: Uuid(),
  direction: Type.Optional(StringEnum(['out', 'in'] as const, { description: 'out: the relationship points from the previous entity to this one; in: the other way' })),
  strength: Type.Number(),
  valid_from: Timestamp(),
  valid_to: Nullable(Timestamp()),
})

const NeighborsAnswer = Type.Object({
  entity_id: Uuid(),
  at: Timestamp(),
  depth: Type.Integer(),
  direction: Type.String(),
  data: Type.Array(
    Type.Object({
      entity: EntitySummary,
      depth: Type.Integer({ description: 'Steps from the entity (its shallowest)' }),
      path: Type.Array(Uuid(), { description: 'Entity ids walked, from the entity asked about to this one' }),
      relationship: Step,
    }),
  ),
})
const PathAnswer = Type.Object({
  from_entity_id: Uuid(),
  to_entity_id: Uuid(),
  at: Timestamp(),
  length: Type.Integer({ description: 'Number of relationships' }),
  entities: Type.Array(EntitySummary, { description: 'In order, from the entity to the target' }),
  relationships: Type.Array(Step, { description: 'relationships[i] joins entities[i] and entities[i+1]' }),
})
const TreeNode = Type.Object({
  entity: EntitySummary,
  relationship: Step,
  children: Type.Array(Type.Unknown(), { description: 'Nodes of this same shape' }),
})
const TreeAnswer = Type.Object({
  at: Timestamp(),
  relationship_type: Type.String(),
  depth: Type.Integer(),
  entity: EntitySummary,
  ancestors: Type.Array(Type.Object({ entity: EntitySummary, relationship: Step }), { description: 'The chain up to the root: parent first, root last' }),
  children: Type.Array(TreeNode),
})

const NewRelationshipType = Strict({
  name: TypeName,
  description: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
  inverse_name: Type.Optional(Nullable(TypeName)),
  hierarchical: Type.Optional(Type.Boolean({ default: false, description: 'A hierarchical type forms trees (`part_of`): a relationship that would close a cycle is refused' })),
})
const NewRelationship = Strict({
  from_entity_id: Uuid(),
  to_entity_id: Uuid(),
  relationship_type: Type.String({ minLength: 1, maxLength: 100, description: 'A built-in type or one of your own' }),
  properties: Type.Optional(Json),
  strength: Type.Optional(Strength),
  valid_from: Type.Optional(Timestamp('Default now')),
  valid_to: Type.Optional(Nullable(Timestamp('Default null: open'))),
})
const RelationshipPatch = Strict(
  { properties: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'JSON merge patch (RFC 7396): null removes a key' })), strength: Type.Optional(Strength) },
  { description: 'The ends, type and validity are history and do not change: end the relationship and create another' },
)
const EndBody = Strict({ valid_to: Type.Optional(Timestamp('Default now; after valid_from')) })
const ListQuery = Strict({
  ...pageQuery,
  entity_id: Type.Optional(Uuid('Relationships of this entity')),
  type: Type.Optional(TypeName),
  direction: Type.Optional(Direction('With entity_id: from it (out), to it (in) or either (both, the default)')),
  at: Type.Optional(Timestamp('Only relationships live at this time')),
  active: Type.Optional(StringEnum(['true', 'false', 'all'] as const, { description: 'true: live now; false: ended or not yet started; all (default)', default: 'all' })),
})
const NeighborsQuery = Strict({
  at: At,
  type: Type.Optional(TypeName),
  direction: Type.Optional(Direction('Follow relationships from the entity (out), to it (in) or both', 'both')),
  depth: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DEPTH, default: 1, description: 'Steps to walk' })),
})
const PathQuery = Strict({
  // Required, but checked by the service so that an unknown entity in the path answers 404 first.
  to: Type.Optional(Uuid('Required: the entity to reach')),
  at: At,
  type: Type.Optional(TypeName),
  direction: Type.Optional(Direction('Default both: direction is ignored; out follows relationships only forwards, in only backwards', 'both')),
  max_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DEPTH, default: 6 })),
})
const TreeQuery = Strict({
  at: At,
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 100, default: 'part_of', description: 'The hierarchical type: a child is `part_of` its parent' })),
  depth: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TREE_DEPTH, default: 10 })),
})

export const relationshipRoutes: FastifyPluginAsyncTypebox<{ relationships: Relationships }> = async (app, { relationships }) => {
  app.get(
    '/relationship-types',
    { config: read, schema: { operationId: 'listRelationshipTypes', tags, summary: 'Relationship types: the built-ins, then your own', response: { 200: pageOf(RelationshipTypeSchema), ...problems() } } },
    (req) => relationships.listTypes(req.ctx),
  )
  app.post(
    '/relationship-types',
    {
      config: write,
      schema: {
        operationId: 'createRelationshipType',
        tags,
        summary: 'Add a relationship type of your own (409 if the name is taken, built-ins included)',
        body: { ...NewRelationshipType, examples: [{ name: 'feeds', inverse_name: 'fed_by', description: 'A pipeline feeds a separator' }] },
        response: { 201: RelationshipTypeSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await relationships.createType(req.ctx, req.body)),
  )

  app.get(
    '/relationships',
    { config: read, schema: { operationId: 'listRelationships', tags, summary: 'Relationships, newest first', querystring: ListQuery, response: { 200: pageOf(RelationshipSchema), ...problems() } } },
    (req) => relationships.list(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.post(
    '/relationships',
    {
      config: write,
      schema: {
        operationId: 'createRelationship',
        tags,
        summary: 'Relate two entities from valid_from (default now) until valid_to (default open)',
        description: 'Refused (422) for an unknown type, a missing or deleted entity, or a relationship of an entity with itself; (409) when it overlaps in time another relationship of the same from, to and type, or would close a cycle of a hierarchical type.',
        body: { ...NewRelationship, examples: [{ from_entity_id: '0190a000-0000-7000-8000-0000000000a1', to_entity_id: '0190a000-0000-7000-8000-0000000000b2', relationship_type: 'monitors', strength: 0.9 }] },
        response: { 201: RelationshipSchema, ...problems(409, 422) },
      },
    },
    async (req, reply) => {
      const created = await relationships.create(req.ctx, req.body)
      return reply.code(201).header('location', `/api/v1/relationships/${created.id}`).send(created)
    },
  )
  app.get(
    '/relationships/:id',
    { config: read, schema: { operationId: 'getRelationship', tags, summary: 'One relationship', params: IdParams, response: { 200: RelationshipSchema, ...problems(404) } } },
    (req) => relationships.get(req.ctx, req.params.id),
  )
  app.patch(
    '/relationships/:id',
    {
      config: write,
      schema: { operationId: 'updateRelationship', tags, summary: 'Change the properties or strength of a relationship that has not ended', params: IdParams, body: RelationshipPatch, response: { 200: RelationshipSchema, ...problems(404, 409, 422) } },
    },
    (req) => relationships.update(req.ctx, req.params.id, req.body),
  )
  app.post(
    '/relationships/:id/end',
    {
      config: write,
      // The body is optional: none at all means "now", as `{}` does.
      preValidation: async (req) => {
        req.body ??= {}
      },
      schema: { operationId: 'endRelationship', tags, summary: 'End a relationship (now by default); it stays readable as of earlier times', params: IdParams, body: EndBody, response: { 200: RelationshipSchema, ...problems(404, 409, 422) } },
    },
    (req) => relationships.end(req.ctx, req.params.id, req.body),
  )

  app.get(
    '/entities/:id/neighbors',
    {
      config: read,
      schema: { operationId: 'listEntityNeighbors', tags, summary: 'Entities related to this one as of a time, up to `depth` steps away, each once with the relationship that reached it', params: IdParams, querystring: NeighborsQuery, response: { 200: NeighborsAnswer, ...problems(404) } },
    },
    (req) => relationships.neighbors(req.ctx, req.params.id, req.query),
  )
  app.get(
    '/entities/:id/path',
    {
      config: read,
      schema: { operationId: 'findEntityPath', tags, summary: 'The shortest path from this entity to another as of a time (404 when there is none)', params: IdParams, querystring: PathQuery, response: { 200: PathAnswer, ...problems(404, 422) } },
    },
    (req) => relationships.path(req.ctx, req.params.id, { to: req.query.to, at: req.query.at, type: req.query.type, direction: req.query.direction, depth: req.query.max_depth }),
  )
  app.get(
    '/entities/:id/tree',
    {
      config: read,
      schema: { operationId: 'getEntityTree', tags, summary: 'The asset tree below this entity along a hierarchical type (default part_of) as of a time, with its ancestors', params: IdParams, querystring: TreeQuery, response: { 200: TreeAnswer, ...problems(404, 422) } },
    },
    (req) => relationships.tree(req.ctx, req.params.id, req.query),
  )
}
