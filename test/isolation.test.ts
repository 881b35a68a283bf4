// Tenant isolation and access, probed on every API route in the OpenAPI document, so routes
// added later are covered without touching this file:
// - every route declares a scope (or says it is public), and the scope exists;
// - no non-public route answers without credentials;
// - organisation B, signed up through the API, gets 404 for every id organisation A owns, on
//   every route with a path id, with a request body that passes validation, and never sees
//   A's rows in its lists.
// New modules make the probe stronger by adding their resources to `seedOrganisation`.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enqueueJob } from '../src/core/jobs/jobs.service.ts'
import { SCOPES } from '../src/core/scopes.ts'
import type { RequestContext } from '../src/core/context.ts'
import { testApp } from './app.ts'
import { createKey, signUp, type SignedUp } from './identity.ts'

let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
/** B's device key: routes that take the scope `device` are probed with it. */
let bDevice: Record<string, string>
const ownedByA: string[] = []

interface Operation {
  method: string
  path: string
  security: { bearer?: string[] }[] | undefined
  body: JsonSchema | undefined
}

interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  format?: string
  enum?: unknown[]
  pattern?: string
  minimum?: number
  minLength?: number
  minItems?: number
  items?: JsonSchema
  anyOf?: JsonSchema[]
}

/** The smallest body that passes the route's schema, so the probe reaches the handler. */
function validBody(schema: JsonSchema | undefined): unknown {
  if (!schema) return undefined
  if (schema.enum) return schema.enum[0]
  if (schema.anyOf) return validBody(schema.anyOf[0])
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((k) => [k, validBody(schema.properties?.[k])]))
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => validBody(schema.items))
    case 'integer':
    case 'number':
      return schema.minimum ?? 1
    case 'boolean':
      return false
    case 'string':
      if (schema.format === 'uuid') return randomUUID()
      if (schema.format === 'email') return 'probe@example.com'
      if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString()
      if (schema.pattern === '^[0-9]{6}$') return '000000'
      return 'x'.repeat(Math.max(schema.minLength ?? 1, 8))
    default:
      return null
  }
}

async function seedOrganisation() {
  const ctx: RequestContext = { requestId: randomUUID(), traceId: '0af7651916cd43dd8448eb211c80319c', actor: { type: 'user', id: a.user.id }, organizationId: a.organization.id }
  const job = await t.rt.database.transaction((tx) => enqueueJob(tx, ctx, { type: 'test.isolation' }))
  const running = await t.rt.database.transaction((tx) => enqueueJob(tx, ctx, { type: 'test.isolation.cancel' }))
  await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${running.id}/cancel`, headers: a.headers })
  const file = (await t.app.inject({ method: 'POST', url: '/api/v1/files?name=a.txt', payload: 'owned by a', headers: { ...a.headers, 'content-type': 'text/plain' } })).json()
  const key = await createKey(t.app, a.headers, { name: 'owned by a', scopes: ['jobs:read'] })
  const invitation = (await t.app.inject({ method: 'POST', url: '/api/v1/invitations', headers: a.headers, payload: { email: 'invitee@example.com', role: 'viewer' } })).json()
  const session = (await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: a.headers })).json().data[0]
  ownedByA.push(job.id, running.id, file.id, key.id, invitation.id, session.id, a.user.id)
  // Units: A's own type (with its base unit), a unit of a catalog type, a category and a system with a default.
  const asA = async (url: string, payload: Record<string, unknown>, method: 'POST' | 'PUT' = 'POST') => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: a.headers, payload })
    expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300)
    return res.json() as { id: string }
  }
  const unitType = await asA('/unit-types', { name: 'Owned by A', external_id: 'owned_by_a' })
  const baseUnit = await asA('/units', { type: unitType.id, name: 'a unit', symbol: 'au' })
  const unit = await asA('/units', { type: 'Volume', name: 'thousand barrels of A', symbol: 'Mbbl', scale: 158.987294928 })
  const category = await asA('/unit-categories', { name: 'Owned by A', type: unitType.id })
  const system = await asA('/unit-systems', { name: 'Owned by A' })
  await asA(`/unit-systems/${system.id}/defaults/${category.id}`, { unit: baseUnit.id }, 'PUT')
  ownedByA.push(unitType.id, baseUnit.id, unit.id, category.id, system.id)
  // Assets: an object type with a property (and so a schema version), an entity, and A's mirror entities.
  const objectType = await asA('/object-types', { name: 'Owned by A', properties: [{ name: 'depth', data_type: 'number' }] })
  const property = (await t.app.inject({ method: 'GET', url: `/api/v1/object-types/${objectType.id}/properties`, headers: a.headers })).json().data[0] as { id: string }
  const entity = await asA('/entities', { type: 'Owned by A', name: 'Entity of A', properties: { depth: 1 } })
  const mirrors = (await t.app.inject({ method: 'GET', url: '/api/v1/entities?type=user', headers: a.headers })).json().data as { id: string }[]
  expect(mirrors).toHaveLength(1)
  ownedByA.push(objectType.id, property.id, entity.id, mirrors[0]!.id)
  // Relationships: A's own (hierarchical) type, and a relationship of it from a second entity to the first.
  const relationshipType = await asA('/relationship-types', { name: 'owned_by_a', hierarchical: true })
  const part = await asA('/entities', { type: 'Owned by A', name: 'Part of the entity of A' })
  const relationship = await asA('/relationships', { from_entity_id: part.id, to_entity_id: entity.id, relationship_type: 'owned_by_a' })
  ownedByA.push(relationshipType.id, part.id, relationship.id)
  // Networks: the topology of A's entity as a well, so B's list and every well route are probed with it.
  await asA(`/networks/${entity.id}`, { branches: [{ id: 'B', nodes: [{ id: 'W', kind: 'well', entity_id: entity.id }, { id: 'X', kind: 'export' }], edges: [{ id: 'E', from: 'W', to: 'X' }] }], trunks: [] }, 'PUT')
  // Measurements: a series of a time-varying property, with a point.
  await asA('/object-types', { name: 'Metered by A', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] })
  const metered = await asA('/entities', { type: 'Metered by A', name: 'Meter of A' })
  const series = await asA('/series', { entity_id: metered.id, property: 'flow' })
  await asA('/datapoints', { items: [{ series_id: series.id, timestamps: ['2026-11-30T00:00:00Z'], values: [1] }] })
  const rule = await asA('/alert-rules', { name: 'A flows too fast', series_id: series.id, max: 0 })
  await asA('/datapoints', { items: [{ series_id: series.id, timestamps: ['2026-11-30T00:01:00Z'], values: [5] }] })
  await asA('/object-types', { name: 'device.probe' })
  const probe = await asA('/entities', { type: 'device.probe', name: 'Probe of A' })
  const command = await asA(`/devices/${probe.id}/commands`, { command: 'reboot' })
  const policy = await asA('/retention-policies', { series_id: series.id, raw_days: 36500 }, 'PUT')
  ownedByA.push(metered.id, series.id, rule.id, probe.id, command.id, policy.id)
  // Sources: a data source and a component with a file.
  const source = await asA('/data-sources', { name: 'Source of A', type: 'INPUT' })
  const component = await asA(`/data-sources/${source.id}/components`, { name: 'Component of A' })
  const put = await t.app.inject({ method: 'PUT', url: `/api/v1/components/${component.id}/file?name=a.csv`, payload: 'a,1', headers: { ...a.headers, 'content-type': 'text/csv' } })
  expect(put.statusCode, put.body).toBe(200)
  // Scenarios: a draft linking the component, with a log line.
  const scenario = await asA('/scenarios', { name: 'Scenario of A' })
  await asA(`/scenarios/${scenario.id}/components`, { component_id: component.id })
  await asA(`/scenarios/${scenario.id}/logs`, { message: 'written by A', progress: 10 })
  ownedByA.push(source.id, component.id, scenario.id)
  // Automation: an automation with a live version, and an execution of it (queued: no worker runs here).
  const automation = await asA('/automations', { name: 'Automation of A', graph: { steps: [{ id: 'x', type: 'transform', config: { expression: '1' } }] } })
  const execution = await asA(`/automations/${automation.id}/executions`, { input: { by: 'a' }, batch_id: 'batch of A' })
  const trigger = await asA(`/automations/${automation.id}/triggers`, { type: 'cron', config: { expression: '0 6 * * *', time_zone: 'Europe/Oslo' } })
  ownedByA.push(automation.id, execution.id, trigger.id)
  // Notebooks (seed 000) and processes (seed 001) are automations too, reached by their own routes.
  const notebook = await asA('/notebooks', { component_id: component.id, name: 'Notebook of A', cells: [{ id: 'c', cell_type: 'code', source: 'x = 1' }] })
  const process = await asA('/processes', { name: 'Process of A', process_type: 'recipe', definition: { steps: [{ id: 'x', type: 'transform', config: { expression: '1' } }], edges: [] } })
  const instance = await asA(`/processes/${process.id}/instances`, { batch_id: 'batch of A', parameters: {} })
  ownedByA.push(notebook.id, process.id, instance.id)
  expect(ownedByA.every((id) => typeof id === 'string')).toBe(true)
}

let operations: Operation[] = []

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha' })
  b = await signUp(t.app, { organization: 'Beta' })
  await seedOrganisation()
  await t.app.inject({ method: 'POST', url: '/api/v1/object-types', headers: b.headers, payload: { name: 'device.probe' } })
  const probeOfB = (await t.app.inject({ method: 'POST', url: '/api/v1/entities', headers: b.headers, payload: { type: 'device.probe', name: 'Probe of B' } })).json() as { id: string }
  bDevice = { authorization: `Bearer ${(await createKey(t.app, b.headers, { name: 'probe of b', scopes: [], device_id: probeOfB.id })).key}` }
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { security?: { bearer?: string[] }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>
  }
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/'))
    .flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, security: op.security, body: op.requestBody?.content?.['application/json']?.schema })),
    )
}, 60_000)
afterAll(() => t.close())

/** B's credentials for a route: its device key where the route takes the scope `device`, else B's session. */
const asB = (op: Operation) => (op.security?.[0]?.bearer?.[0] === 'device' ? bDevice : b.headers)
// Numbered sub-resources (workflow versions) take 1, every other path parameter the id.
const fill = (path: string, id: string) => path.replace(/\{version\}/g, '1').replace(/\{[^}]+\}/g, id)
const isPublic = (op: Operation) => Array.isArray(op.security) && op.security.length === 0
const inject = (op: Operation, url: string, headers: Record<string, string>) => {
  const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : (validBody(op.body) ?? {})
  return t.app.inject({
    method: op.method as 'GET',
    url,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  })
}

describe('access on every route', () => {
  it('finds the API routes to probe', () => {
    expect(operations.length).toBeGreaterThanOrEqual(30)
  })

  it('every route declares a known scope, or is public', () => {
    for (const op of operations) {
      const declared = op.security?.[0]?.bearer
      if (isPublic(op)) continue
      expect(declared?.length, `${op.method} ${op.path} declares no scope`).toBe(1)
      expect(SCOPES, `${op.method} ${op.path}`).toContain(declared![0])
    }
    expect(operations.filter(isPublic).map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'POST /api/v1/auth/accept-invitation',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/password-reset',
      'POST /api/v1/auth/signup',
      'POST /api/v1/hooks/{token}',
    ])
  })

  it('answers 401 to a request without credentials, on every non-public route', async () => {
    for (const op of operations.filter((o) => !isPublic(o))) {
      const res = await inject(op, fill(op.path, ownedByA[0]!), {})
      expect(res.statusCode, `${op.method} ${op.path}`).toBe(401)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    }
  })
})

describe('tenant isolation on every route', () => {
  it("answers 404 to organisation B for every id organisation A owns, on every route with a path id", async () => {
    let reachableByA = 0
    const probed = operations.filter((o) => o.path.includes('{'))
    expect(probed.length).toBeGreaterThanOrEqual(10)
    for (const op of probed) {
      for (const id of ownedByA) {
        const res = await inject(op, fill(op.path, id), asB(op))
        expect(res.statusCode, `${op.method} ${op.path} with ${id} as B: ${res.body}`).toBe(404)
        expect(res.body, `${op.method} ${op.path} as B`).not.toContain('owned by a')
        if (op.method === 'GET' && (await inject(op, fill(op.path, id), a.headers)).statusCode === 200) reachableByA++
      }
    }
    expect(reachableByA).toBeGreaterThanOrEqual(6) // the probe used ids that exist for A
  })

  it("never shows organisation A's rows in organisation B's lists", async () => {
    const lists = operations.filter((o) => o.method === 'GET' && !o.path.includes('{'))
    expect(lists.length).toBeGreaterThan(5)
    for (const op of lists) {
      const res = await inject(op, op.path, asB(op))
      expect(res.statusCode, `${op.method} ${op.path}: ${res.body}`).toBe(200)
      for (const id of ownedByA) expect(res.body, `${op.method} ${op.path} leaks ${id}`).not.toContain(id)
      expect(res.body).not.toContain(a.organization.id)
    }
  })
})
