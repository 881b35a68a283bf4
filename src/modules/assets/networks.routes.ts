// Well network topology: put, read, list and delete a well's network, its JSON Schema, and the
// two traversals (the route to the export point, the wells upstream of a node).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Nullable, Strict, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { NETWORK_SCHEMA, NetworkDocumentSchema, NetworkEdgeSchema, NetworkNodeSchema, NetworkPathSchema, type Networks } from './networks.service.ts'

const tags = ['networks']
const read = { scope: 'assets:read' }
const write = { scope: 'assets:write' }

const WellParams = Strict({ well_id: Uuid('The well entity the network belongs to') })
const NodeId = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }))

const NetworkSchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  well_id: Uuid(),
  paths: Type.Array(NetworkPathSchema),
  branches: NetworkDocumentSchema.properties.branches,
  trunks: NetworkDocumentSchema.properties.trunks,
  audit_at: Timestamp('When the topology was last put'),
  created_by: Nullable(Type.String()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})
const Segment = { segment_id: Type.String({ description: 'The branch or trunk that declares it' }) }
const RouteNode = Type.Object({ ...NetworkNodeSchema.properties, ...Segment })
const RouteEdge = Type.Object({ ...NetworkEdgeSchema.properties, ...Segment })
const RouteSchema = Type.Object({
  well_id: Uuid(),
  from: Type.String(),
  to: Type.String({ description: 'The export point the route ends at' }),
  nodes: Type.Array(RouteNode, { description: 'In the direction of flow, from `from` to `to`' }),
  edges: Type.Array(RouteEdge, { description: 'The pipes between consecutive nodes' }),
  length: Nullable(Type.Number({ description: 'Total length in metres; null unless every pipe has a length' })),
})
const UpstreamSchema = Type.Object({
  well_id: Uuid(),
  node: RouteNode,
  wells: Type.Array(
    Type.Object({
      node_id: Type.String(),
      name: Nullable(Type.String()),
      entity_id: Nullable(Uuid()),
      segment_id: Type.String(),
      pipes: Type.Integer({ description: 'The fewest pipes between the well and the node' }),
    }),
    { description: 'Nearest first' },
  ),
})

const example = {
  branches: [
    {
      id: 'B-12',
      name: 'Well-12 flowline',
      nodes: [
        { id: 'W12', kind: 'well', name: 'Well-12', entity_id: '0190f5c2-7c1e-7a3b-9c4d-2e5f6a7b8c9d' },
        { id: 'J1', kind: 'joint' },
      ],
      edges: [{ id: 'FL-12', from: 'W12', to: 'J1', length: 1250, diameter: 0.1016 }],
    },
  ],
  trunks: [
    {
      id: 'T-1',
      name: 'Main line',
      nodes: [
        { id: 'SEP', kind: 'separator', name: 'Test separator' },
        { id: 'EXP', kind: 'export', name: 'Export' },
      ],
      edges: [
        { id: 'TL-1', from: 'J1', to: 'SEP', length: 3400, diameter: 0.2032 },
        { id: 'TL-2', from: 'SEP', to: 'EXP', length: 150 },
      ],
    },
  ],
  paths: [{ id: 'P-12', name: 'Well-12 to export', nodes: ['W12', 'J1', 'SEP', 'EXP'] }],
}

export const networkRoutes: FastifyPluginAsyncTypebox<{ networks: Networks }> = async (app, { networks }) => {
  app.get(
    '/networks/schema',
    { config: read, schema: { operationId: 'getNetworkSchema', tags, summary: 'The JSON Schema (2020-12) of a network document, to validate with before putting', response: { 200: Type.Record(Type.String(), Type.Unknown()), ...problems() } } },
    async () => NETWORK_SCHEMA,
  )
  app.get(
    '/networks',
    { config: read, schema: { operationId: 'listNetworks', tags, summary: 'List the well networks, newest first', querystring: Strict(pageQuery), response: { 200: pageOf(NetworkSchema), ...problems() } } },
    (req) => networks.list(req.ctx, { limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  )
  app.put(
    '/networks/:well_id',
    {
      config: write,
      schema: {
        operationId: 'putNetwork',
        tags,
        summary: "Create or replace a well's network topology (audit_at becomes now)",
        description: 'The document must match GET /networks/schema and form a valid network: every edge and path between declared nodes, no cycle, an export point, the well declared as a node of kind well linked to it, a route from every well to an export point, and every entity_id an active entity of this organisation. Each problem is listed with its JSON Pointer.',
        params: WellParams,
        body: { ...NetworkDocumentSchema, examples: [example] },
        response: { 200: NetworkSchema, 201: NetworkSchema, ...problems(404, 422) },
      },
    },
    async (req, reply) => {
      const { network, created } = await networks.put(req.ctx, req.params.well_id, req.body)
      if (created) reply.code(201).header('location', `/api/v1/networks/${network.well_id}`)
      return network
    },
  )
  app.get(
    '/networks/:well_id',
    { config: read, schema: { operationId: 'getNetwork', tags, summary: "A well's network topology", params: WellParams, response: { 200: NetworkSchema, ...problems(404) } } },
    (req) => networks.get(req.ctx, req.params.well_id),
  )
  app.delete(
    '/networks/:well_id',
    { config: write, schema: { operationId: 'deleteNetwork', tags, summary: "Delete a well's network topology", params: WellParams, response: { 204: Type.Null(), ...problems(404) } } },
    async (req, reply) => reply.code(204).send(await networks.remove(req.ctx, req.params.well_id).then(() => null)),
  )
  app.get(
    '/networks/:well_id/route',
    {
      config: read,
      schema: {
        operationId: 'getNetworkRoute',
        tags,
        summary: 'The route from the well (or another node) to the export point',
        description: 'Where the flow can split, the route with the fewest pipes is given, then the shortest; it ends at the first export point reached.',
        params: WellParams,
        querystring: Strict({ from: NodeId("A node id; by default the well's node") }),
        response: { 200: RouteSchema, ...problems(404, 422) },
      },
    },
    (req) => networks.route(req.ctx, req.params.well_id, req.query.from),
  )
  app.get(
    '/networks/:well_id/upstream',
    {
      config: read,
      schema: {
        operationId: 'listUpstreamWells',
        tags,
        summary: 'The wells whose flow reaches a node (the node itself, if it is a well)',
        params: WellParams,
        querystring: Strict({ node: NodeId("A node id; by default the export point the well's route ends at") }),
        response: { 200: UpstreamSchema, ...problems(404, 422) },
      },
    },
    (req) => networks.upstream(req.ctx, req.params.well_id, req.query.node),
  )
}
