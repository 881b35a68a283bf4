// Entities through the HTTP API with real authentication: validation against the type's schema
// (defaults, unknown properties, every error by JSON path), names, soft delete and restore,
// merge patches, bulk upsert (all or nothing), the filtered list, unit systems, the identity
// mirrors, and the events every change writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { ESP32_DEVICE, ESP32_SCHEMA } from '../../../test/fixtures/esp32.ts'
import { bearer, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']) }
}
const asA = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(a.headers, method, url, payload)
const asB = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(b.headers, method, url, payload)

function expectProblem(res: { status: number; body: Json; type: string }, status: number, detail?: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  if (detail) expect(res.body.detail).toMatch(detail)
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
const created = (res: { status: number; body: Json }) => ok(res, 201)
const eventsOf = async (type: string, headers = a.headers) => (await api(headers, 'GET', `/events?type=${type}&limit=500`)).body.data as Json[]
const names = (res: { body: Json }) => (res.body.data as Json[]).map((e) => e.name)
const list = async (query: string) => names({ body: ok(await asA('GET', `/entities?${query}`)) })

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Entities' })
  b = await signUp(t.app, { organization: 'Beta Entities' })
  created(
    await asA('POST', '/object-types', {
      name: 'Well',
      properties: [
        { name: 'depth', data_type: 'number', unit_category: 'Length', minimum: 0, required: true },
        { name: 'whp', data_type: 'number', unit_category: 'Pressure' },
        { name: 'state', data_type: 'enum', enum_values: ['producing', 'shut_in', 'abandoned'], default: 'producing' },
        { name: 'slots', data_type: 'integer', minimum: 1, maximum: 64 },
        { name: 'offshore', data_type: 'boolean' },
        { name: 'spud', data_type: 'timestamp' },
        { name: 'meta', data_type: 'json' },
        { name: 'rate', data_type: 'number', time_varying: true, unit_category: 'Volume' },
      ],
    }),
  )
  created(await asA('POST', '/object-types', { name: 'device', properties: [{ name: 'serial', data_type: 'string' }] }))
  created(await asA('POST', '/object-types', { name: 'device.esp32', schema: ESP32_SCHEMA }))
  created(await asA('POST', '/object-types', { name: 'device.gateway', properties: [{ name: 'ip', data_type: 'string' }] }))
  created(await asA('POST', '/object-types', { name: 'devices', properties: [{ name: 'serial', data_type: 'string' }] }))
  created(await asB('POST', '/object-types', { name: 'Well', properties: [{ name: 'depth', data_type: 'number' }] }))
})
afterAll(() => t.close())

describe('creating and reading entities', () => {
  let w1: Json

  it('validates properties, fills in defaults, and records the schema version and an entity.created event', async () => {
    w1 = created(await asA('POST', '/entities', { type: 'Well', name: 'W-1', description: 'first well', properties: { depth: 2450.5, whp: 2e6, slots: 4 }, external_id: 'ERP-W-1' }))
    expect(w1).toMatchObject({
      entity_type: 'Well',
      name: 'W-1',
      description: 'first well',
      properties: { depth: 2450.5, whp: 2e6, slots: 4, state: 'producing' },
      status: 'active',
      is_active: true,
      schema_version: 1,
      external_id: 'ERP-W-1',
      managed_by: null,
      organization_id: a.organization.id,
      created_by: `user:${a.user.id}`,
      units: { depth: 'm', whp: 'Pa' },
    })
    expect(ok(await asA('GET', `/entities/${w1.id}`))).toMatchObject({ id: w1.id, properties: w1.properties })
    const [event] = await eventsOf('entity.created')
    expect(event).toMatchObject({ entity_type: 'Well', entity_id: w1.id, actor: `user:${a.user.id}`, data: { name: 'W-1', entity_type: 'Well', properties: w1.properties, status: 'active', external_id: 'ERP-W-1' } })
  })

  it('validates the esp32 document: defaults, nested structure', async () => {
    const d = created(await asA('POST', '/entities', { type: 'device.esp32', name: 'esp-1', properties: { name: 'ESP32 Device', hardware: { model: 'ESP32-S3' } }, status: 'online' }))
    expect(d.properties).toEqual({ name: 'ESP32 Device', status: 'offline', hardware: { model: 'ESP32-S3' } })
    expect(d.status).toBe('online')
    created(await asA('POST', '/entities', { type: 'device.esp32', name: 'esp-2', properties: ESP32_DEVICE }))
  })

  it('lists every error of properties failing the schema, each with its JSON path (422)', async () => {
    const res = await asA('POST', '/entities', { type: 'Well', name: 'W-bad', properties: { depth: -5, state: 'drilling', slots: 2.5, offshore: 'yes', spud: 'last week', whp: '3 bar' } })
    expectProblem(res, 422, /do not match the schema of Well \(version 1\)/)
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/properties/depth', message: 'must be >= 0' },
        { path: '/body/properties/whp', message: 'must be number' },
        { path: '/body/properties/state', message: 'must be one of "producing", "shut_in", "abandoned"' },
        { path: '/body/properties/slots', message: 'must be integer' },
        { path: '/body/properties/offshore', message: 'must be boolean' },
        { path: '/body/properties/spud', message: 'must match format "date-time"' },
      ]),
    )
    expect(res.body.errors).toHaveLength(6)
    expect(res.body.detail).toMatch(/; and 3 more$/)
    const missing = await asA('POST', '/entities', { type: 'Well', name: 'W-bad', properties: { slots: 100 } })
    expectProblem(missing, 422)
    expect(missing.body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/properties/depth', message: 'is required' },
        { path: '/body/properties/slots', message: 'must be <= 64' },
      ]),
    )
    expect(missing.body.errors).toHaveLength(2)
    const nested = await asA('POST', '/entities', { type: 'device.esp32', name: 'esp-bad', properties: { name: 'x', status: 'asleep', hardware: { sensors: [{ range: { max: 'hot' } }] } } })
    expectProblem(nested, 422)
    expect(nested.body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/properties/status', message: 'must be one of "online", "offline", "maintenance", "error"' },
        { path: '/body/properties/hardware/model', message: 'is required' },
        { path: '/body/properties/hardware/sensors/0/range/max', message: 'must be number' },
      ]),
    )
    expect(nested.body.errors).toHaveLength(3)
    expect(await list('q=W-bad&active=all')).toEqual([])
  })

  it('refuses a property of another type: 422 naming it', async () => {
    const res = await asA('POST', '/entities', { type: 'Well', name: 'W-x', properties: { depth: 1, hardware: { model: 'ESP32' } } })
    expectProblem(res, 422, /: \/hardware is not a property of this type$/)
    expect(res.body.errors).toEqual([{ path: '/body/properties/hardware', message: 'is not a property of this type' }])
    // Time-varying properties are series, not entity properties.
    const series = await asA('POST', '/entities', { type: 'Well', name: 'W-x', properties: { depth: 1, rate: 5 } })
    expectProblem(series, 422, /rate/)
    expect(series.body.errors).toEqual([{ path: '/body/properties/rate', message: 'is not a property of this type' }])
  })

  it('accepts unknown properties when the type\'s schema allows them', async () => {
    created(await asA('POST', '/object-types', { name: 'Note', schema: { type: 'object', additionalProperties: true }, properties: [{ name: 'text', data_type: 'string', required: true }] }))
    const n = created(await asA('POST', '/entities', { type: 'Note', name: 'n1', properties: { text: 'hi', anything: { goes: [1, 2] } } }))
    expect(n.properties).toEqual({ text: 'hi', anything: { goes: [1, 2] } })
    const res = await asA('POST', '/entities', { type: 'Note', name: 'n2', properties: { text: 5 } })
    expectProblem(res, 422)
    expect(res.body.errors).toEqual([{ path: '/body/properties/text', message: 'must be string' }])
  })

  it('refuses an unknown type (422 /body/type), a second entity of the same name and type (409, case ignored), allows it in another type or organisation', async () => {
    const res = await asA('POST', '/entities', { type: 'Nope', name: 'n' })
    expectProblem(res, 422)
    expect(res.body.errors).toEqual([{ path: '/body/type', message: 'no object type is named Nope' }])
    expectProblem(await asA('POST', '/entities', { type: 'Well', name: 'W-1', properties: { depth: 1 } }), 409, /named W-1 already exists/)
    expectProblem(await asA('POST', '/entities', { type: 'well', name: 'w-1', properties: { depth: 1 } }), 409)
    expectProblem(await asA('POST', '/entities', { type: 'Well', name: 'W-1b', properties: { depth: 1 }, external_id: 'ERP-W-1' }), 409, /external id/)
    created(await asA('POST', '/entities', { type: 'device', name: 'W-1' }))
    created(await asB('POST', '/entities', { type: 'Well', name: 'W-1', properties: { depth: 1 } }))
    // The other organisation's type by id is not found either.
    expectProblem(await asB('GET', `/entities/${w1.id}`), 404)
    expectProblem(await asA('GET', '/entities/not-a-uuid'), 400)
  })
})

describe('changing entities', () => {
  let w: Json
  let d: Json

  it('applies properties as a JSON merge patch, revalidated, with an entity.updated event carrying the diff', async () => {
    w = created(await asA('POST', '/entities', { type: 'Well', name: 'W-2', properties: { depth: 1000, whp: 1e6, meta: { rig: 'R1', crew: 5 } } }))
    const res = ok(await asA('PATCH', `/entities/${w.id}`, { name: 'W-2A', status: 'suspended', properties: { whp: 1.5e6, meta: { crew: null, shift: 'night' }, slots: 8 } }))
    expect(res).toMatchObject({ name: 'W-2A', status: 'suspended', properties: { depth: 1000, whp: 1.5e6, state: 'producing', slots: 8, meta: { rig: 'R1', shift: 'night' } } })
    const [event] = await eventsOf('entity.updated')
    expect(event).toMatchObject({
      entity_id: w.id,
      entity_type: 'Well',
      data: {
        name: 'W-2A',
        entity_type: 'Well',
        schema_version: 1,
        diff: {
          name: { from: 'W-2', to: 'W-2A' },
          status: { from: 'active', to: 'suspended' },
          properties: { whp: { from: 1e6, to: 1.5e6 }, slots: { from: null, to: 8 }, meta: { from: { rig: 'R1', crew: 5 }, to: { rig: 'R1', shift: 'night' } } },
        },
      },
    })
    expect(Object.keys(event!.data.diff.properties)).toHaveLength(3)
    // null removes a key.
    expect(ok(await asA('PATCH', `/entities/${w.id}`, { properties: { slots: null } })).properties.slots).toBeUndefined()
  })

  it('answers an empty change without a new event', async () => {
    const before = (await eventsOf('entity.updated')).length
    ok(await asA('PATCH', `/entities/${w.id}`, { name: 'W-2A', properties: { depth: 1000 } }))
    expect((await eventsOf('entity.updated')).length).toBe(before)
  })

  it('refuses an invalid patch with every error by path, leaving the entity as it was', async () => {
    const res = await asA('PATCH', `/entities/${w.id}`, { properties: { depth: null, state: 'gone', bogus: 1 } })
    expectProblem(res, 422)
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/properties/depth', message: 'is required' },
        { path: '/body/properties/state', message: 'must be one of "producing", "shut_in", "abandoned"' },
        { path: '/body/properties/bogus', message: 'is not a property of this type' },
      ]),
    )
    expect(res.body.errors).toHaveLength(3)
    expect(ok(await asA('GET', `/entities/${w.id}`)).properties).toMatchObject({ depth: 1000, state: 'producing' })
  })

  it('merges into nested esp32 documents', async () => {
    d = created(await asA('POST', '/entities', { type: 'device.esp32', name: 'esp-3', properties: ESP32_DEVICE }))
    const res = ok(await asA('PATCH', `/entities/${d.id}`, { properties: { config: { alertThresholds: { temperature: { max: 35 } } }, firmware: { version: '1.1.0' } } }))
    expect(res.properties.config).toEqual({ readingInterval: 300, alertThresholds: { temperature: { min: 15, max: 35 } } })
    expect(res.properties.firmware).toEqual({ version: '1.1.0', lastUpdate: '2024-03-20T10:00:00Z' })
    const [event] = await eventsOf('entity.updated')
    expect(Object.keys(event!.data.diff.properties).sort()).toEqual(['config', 'firmware'])
    const bad = await asA('PATCH', `/entities/${d.id}`, { properties: { hardware: { model: null } } })
    expectProblem(bad, 422)
    expect(bad.body.errors).toEqual([{ path: '/body/properties/hardware/model', message: 'is required' }])
  })

  it('changes the external id, and refuses one in use (409)', async () => {
    expect(ok(await asA('PATCH', `/entities/${w.id}`, { external_id: 'ERP-W-2' })).external_id).toBe('ERP-W-2')
    expectProblem(await asA('PATCH', `/entities/${w.id}`, { external_id: 'ERP-W-1' }), 409)
    expectProblem(await asA('PATCH', `/entities/${w.id}`, { name: 'W-1' }), 409)
    const [event] = await eventsOf('entity.updated')
    expect(event!.data.diff).toEqual({ external_id: { from: null, to: 'ERP-W-2' } })
  })

  it('soft deletes (is_active false) and restores, with events; a deleted entity is listed only on request and cannot change', async () => {
    const deleted = ok(await asA('DELETE', `/entities/${w.id}`))
    expect(deleted).toMatchObject({ id: w.id, is_active: false })
    expect(ok(await asA('GET', `/entities/${w.id}`)).is_active).toBe(false)
    expect(await list('type=Well')).not.toContain('W-2A')
    expect(await list('type=Well&active=false')).toEqual(['W-2A'])
    expect(await list('type=Well&active=all')).toContain('W-2A')
    expectProblem(await asA('PATCH', `/entities/${w.id}`, { status: 'x' }), 409, /restore it first/)
    // Its name stays taken.
    expectProblem(await asA('POST', '/entities', { type: 'Well', name: 'W-2A', properties: { depth: 1 } }), 409)
    expect(ok(await asA('DELETE', `/entities/${w.id}`)).is_active).toBe(false)
    const restored = ok(await asA('POST', `/entities/${w.id}/restore`))
    expect(restored).toMatchObject({ is_active: true, name: 'W-2A' })
    expect(await list('type=Well')).toContain('W-2A')
    const [del] = await eventsOf('entity.deleted')
    expect(del).toMatchObject({ entity_id: w.id, data: { name: 'W-2A', entity_type: 'Well' } })
    const [res] = await eventsOf('entity.restored')
    expect(res).toMatchObject({ entity_id: w.id, data: { name: 'W-2A' } })
    expect((await eventsOf('entity.deleted')).filter((e) => e.entity_id === w.id)).toHaveLength(1)
    expectProblem(await asB('DELETE', `/entities/${w.id}`), 404)
    expectProblem(await asB('POST', `/entities/${w.id}/restore`), 404)
  })
})

describe('bulk upsert', () => {
  const count = async (type: string) => (ok(await asA('GET', `/entities?type=${type}&active=all&limit=1000`)).data as Json[]).length

  it('creates, then matches by external id or (type, name): unchanged, updated, with events', async () => {
    created(await asA('POST', '/object-types', { name: 'Valve', properties: [{ name: 'size', data_type: 'number', minimum: 0 }, { name: 'open', data_type: 'boolean', default: false }] }))
    const items = [
      { type: 'Valve', name: 'V-1', properties: { size: 2 }, external_id: 'v-1' },
      { type: 'Valve', name: 'V-2', properties: { size: 3 } },
      { type: 'device.esp32', name: 'esp-bulk', properties: ESP32_DEVICE, external_id: 'esp-bulk' },
    ]
    const first = ok(await asA('POST', '/entities/bulk', { items }))
    expect(first).toMatchObject({ created: 3, updated: 0, unchanged: 0 })
    expect(first.items.map((i: Json) => [i.index, i.result])).toEqual([[0, 'created'], [1, 'created'], [2, 'created']])
    const v1 = ok(await asA('GET', `/entities/${first.items[0].id}`))
    expect(v1.properties).toEqual({ size: 2, open: false })
    const bulkCreated = (await eventsOf('entity.created')).filter((e) => e.data.bulk)
    expect(bulkCreated.map((e) => e.data.name).sort()).toEqual(['V-1', 'V-2', 'esp-bulk'])

    // The same rows again: nothing changes (nested objects compare by value, whatever the key order jsonb keeps).
    const again = ok(await asA('POST', '/entities/bulk', { items }))
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3 })
    expect(again.items.map((i: Json) => i.id)).toEqual(first.items.map((i: Json) => i.id))

    // Renamed through its external id; changed through its name.
    const changed = ok(await asA('POST', '/entities/bulk', { items: [{ type: 'Valve', name: 'V-1 renamed', properties: { size: 2 }, external_id: 'v-1' }, { type: 'valve', name: 'v-2', properties: { size: 4, open: true } }] }))
    expect(changed).toMatchObject({ created: 0, updated: 2, unchanged: 0, items: [{ id: first.items[0].id, result: 'updated' }, { id: first.items[1].id, result: 'updated' }] })
    expect(ok(await asA('GET', `/entities/${first.items[0].id}`)).name).toBe('V-1 renamed')
    const [event] = (await eventsOf('entity.updated')).filter((e) => e.entity_id === first.items[1].id)
    expect(event!.data).toMatchObject({ bulk: true, diff: { name: { from: 'V-2', to: 'v-2' }, properties: { size: { from: 3, to: 4 }, open: { from: false, to: true } } } })
    const [renamed] = (await eventsOf('entity.updated')).filter((e) => e.entity_id === first.items[0].id)
    expect(renamed!.data.diff).toEqual({ name: { from: 'V-1', to: 'V-1 renamed' }, properties: {} })
  })

  it('restores a soft-deleted entity it matches', async () => {
    const [v] = ok(await asA('GET', '/entities?type=Valve&external_id=v-1')).data as [Json]
    ok(await asA('DELETE', `/entities/${v.id}`))
    const res = ok(await asA('POST', '/entities/bulk', { items: [{ type: 'Valve', name: 'V-1 renamed', properties: { size: 2 }, external_id: 'v-1' }] }))
    expect(res).toMatchObject({ updated: 1, items: [{ id: v.id, result: 'updated' }] })
    expect(ok(await asA('GET', `/entities/${v.id}`)).is_active).toBe(true)
    expect((await eventsOf('entity.restored')).some((e) => e.entity_id === v.id)).toBe(true)
  })

  it('writes nothing when one row is bad, listing every error by index and path', async () => {
    const before = await count('Valve')
    const eventsBefore = (await eventsOf('entity.created')).length
    const res = await asA('POST', '/entities/bulk', {
      items: [
        { type: 'Valve', name: 'V-10', properties: { size: 1 } },
        { type: 'Valve', name: 'V-11', properties: { size: -1, colour: 'red' } },
        { type: 'Valve', name: 'V-12', properties: { size: 1 } },
        { type: 'Nope', name: 'V-13' },
        { type: 'Valve', name: 'V-10', properties: { size: 1 } },
        { type: 'device.esp32', name: 'esp-b', properties: { name: 'x', hardware: {} } },
        { type: 'Valve', name: 'V-1x', external_id: 'esp-bulk' },
      ],
    })
    expectProblem(res, 422, /5 of 7 entities are not valid; nothing was written/)
    expect(res.body.errors).toEqual([
      { path: '/body/items/1/properties/colour', message: 'is not a property of this type' },
      { path: '/body/items/1/properties/size', message: 'must be >= 0' },
      { path: '/body/items/3/type', message: expect.stringMatching(/no object type is named Nope/) },
      { path: '/body/items/4/name', message: 'appears twice in this request' },
      { path: '/body/items/5/properties/hardware/model', message: 'is required' },
      { path: '/body/items/6/type', message: expect.stringMatching(/another type/) },
    ])
    expect(await count('Valve')).toBe(before)
    expect((await eventsOf('entity.created')).length).toBe(eventsBefore)
    expect(await list('q=V-10&active=all')).toEqual([])
  })

  it('refuses, by index, a new external id on a taken name and two rows of one name (nothing written)', async () => {
    created(await asA('POST', '/entities', { type: 'Valve', name: 'V-plain', properties: { size: 1 } }))
    const res = await asA('POST', '/entities/bulk', {
      items: [
        { type: 'Valve', name: 'V-new', properties: { size: 1 }, external_id: 'new-1' },
        { type: 'Valve', name: 'v-plain', properties: { size: 1 }, external_id: 'new-2' },
        { type: 'Valve', name: 'V-twin', properties: { size: 1 }, external_id: 'twin-1' },
        { type: 'Valve', name: 'V-TWIN', properties: { size: 1 }, external_id: 'twin-2' },
      ],
    })
    expectProblem(res, 422, /2 of 4/)
    expect(res.body.errors).toEqual([
      { path: '/body/items/1/name', message: 'an entity of type Valve named V-plain already exists' },
      { path: '/body/items/3/name', message: 'appears twice in this request' },
    ])
    expect(await list('external_id=new-1&active=all')).toEqual([])
  })

  it('refuses a request body that breaks the request schema (422 by path)', async () => {
    const res = await asA('POST', '/entities/bulk', { items: [{ type: 'Valve' }] })
    expectProblem(res, 422)
    expect(res.body.errors).toEqual([{ path: '/body/items/0/name', message: 'is required' }])
    expectProblem(await asA('POST', '/entities/bulk', { items: [] }), 422)
  })

  it('refuses the mirrors of users and organisations in a bulk request', async () => {
    const res = await asA('POST', '/entities/bulk', { items: [{ type: 'user', name: 'someone', properties: { email: 'x@example.com' } }] })
    expectProblem(res, 422)
    expect(res.body.errors[0].path).toBe('/body/items/0/type')
  })

  it('takes 10,000 rows in one request, all or nothing, and refuses 10,001', async () => {
    created(await asA('POST', '/object-types', { name: 'Tag', properties: [{ name: 'n', data_type: 'integer' }] }))
    const items = Array.from({ length: 10_000 }, (_, i) => ({ type: 'Tag', name: `T-${i}`, properties: { n: i }, external_id: `tag-${i}` }))
    const res = ok(await asA('POST', '/entities/bulk', { items }))
    expect(res).toMatchObject({ created: 10_000, updated: 0, unchanged: 0 })
    expect(res.items).toHaveLength(10_000)
    const bad = items.map((item, i) => (i === 9_999 ? { ...item, properties: { n: 'last' } } : { ...item, properties: { n: item.properties.n + 1 } }))
    const refused = await asA('POST', '/entities/bulk', { items: bad })
    expectProblem(refused, 422, /1 of 10000/)
    expect(refused.body.errors).toEqual([{ path: '/body/items/9999/properties/n', message: 'must be integer' }])
    expect(ok(await asA('GET', '/entities?type=Tag&properties.n=0')).data).toHaveLength(1)
    const over = await asA('POST', '/entities/bulk', { items: [...items, { type: 'Tag', name: 'one too many' }] })
    expectProblem(over, 422)
    expect(over.body.errors[0].path).toBe('/body/items')
  }, 120_000)
})

describe('listing entities', () => {
  beforeAll(async () => {
    created(await asA('POST', '/object-types', { name: 'Field Well', properties: [{ name: 'depth', data_type: 'number' }, { name: 'zone', data_type: 'string' }, { name: 'state', data_type: 'enum', enum_values: ['on', 'off', 'test'] }, { name: 'tags', data_type: 'json' }, { name: 'offshore', data_type: 'boolean' }, { name: 'code', data_type: 'string' }] }))
    const rows: [string, Json, string?, string?][] = [
      ['FW-1', { depth: 500, zone: 'north', state: 'on', offshore: true, code: '5' }, 'Shallow gas producer'],
      ['FW-2', { depth: 1500, zone: 'north', state: 'off', tags: { crew: 'a' }, offshore: false }, 'Deep oil producer in the northern block'],
      ['FW-3', { depth: 2500, zone: 'south', state: 'test', code: 'x' }, 'Appraisal well', 'planned'],
      ['FW-4', { depth: 3500.5, zone: 'south', state: 'on', tags: { crew: 'b' } }, 'Deep water injector'],
      ['FW-5', { zone: 'east' }, undefined, 'planned'],
    ]
    for (const [name, properties, description, status] of rows) created(await asA('POST', '/entities', { type: 'Field Well', name, properties, ...(description ? { description } : {}), ...(status ? { status } : {}) }))
  })
  const fw = (q: string) => list(`type=Field%20Well&${q}`)

  it('filters by type and by family (device.*: the family and its members, not a prefix)', async () => {
    created(await asA('POST', '/entities', { type: 'device.gateway', name: 'gw-1' }))
    created(await asA('POST', '/entities', { type: 'devices', name: 'not-in-family' }))
    expect((await list('type=Field%20Well')).sort()).toEqual(['FW-1', 'FW-2', 'FW-3', 'FW-4', 'FW-5'])
    const family = ok(await asA('GET', '/entities?type=device.*&limit=1000')).data as Json[]
    expect([...new Set(family.map((e) => e.entity_type))].sort()).toEqual(['device', 'device.esp32', 'device.gateway'])
    expect(family.map((e) => e.name)).toContain('gw-1')
    expect(family.map((e) => e.name)).not.toContain('not-in-family')
    expect(await list('type=device.gateway')).toEqual(['gw-1'])
    expect(await list('type=NoSuchType')).toEqual([])
  })

  it('filters by status, text, external id and property values', async () => {
    expect((await fw('status=planned')).sort()).toEqual(['FW-3', 'FW-5'])
    expect((await list('q=producer')).sort()).toEqual(['FW-1', 'FW-2'])
    expect(await list('q=deep%20oil')).toEqual(['FW-2'])
    expect(await list('q=FW-4')).toEqual(['FW-4'])
    expect(await list('external_id=ERP-W-1')).toEqual(['W-1'])
    expect((await fw('properties.zone=north')).sort()).toEqual(['FW-1', 'FW-2'])
    expect((await fw('properties.state[in]=off,test')).sort()).toEqual(['FW-2', 'FW-3'])
    expect((await fw('properties.zone[ne]=north')).sort()).toEqual(['FW-3', 'FW-4', 'FW-5'])
    expect((await fw('properties.tags[exists]=true')).sort()).toEqual(['FW-2', 'FW-4'])
    expect((await fw('properties.tags[exists]=false')).sort()).toEqual(['FW-1', 'FW-3', 'FW-5'])
    expect(await fw('properties.tags.crew=b')).toEqual(['FW-4'])
    expect(await fw('properties.offshore=true')).toEqual(['FW-1'])
    expect(await fw('properties.offshore=false')).toEqual(['FW-2'])
    // "5" matches the string "5" and the number 5.
    expect(await fw('properties.code=5')).toEqual(['FW-1'])
    expect(await fw('properties.depth=500')).toEqual(['FW-1'])
    expect(await list('type=device.*&properties.hardware.model=ESP32-WROOM-32&limit=1000')).toEqual(expect.arrayContaining(['esp-2', 'esp-3', 'esp-bulk']))
    expect(await fw('properties.zone=north&properties.state=off')).toEqual(['FW-2'])
  })

  it('filters numeric ranges', async () => {
    expect((await fw('properties.depth[gte]=1500')).sort()).toEqual(['FW-2', 'FW-3', 'FW-4'])
    expect((await fw('properties.depth[gt]=1500&properties.depth[lt]=3500.5')).sort()).toEqual(['FW-3'])
    expect((await fw('properties.depth[lte]=3500.5')).sort()).toEqual(['FW-1', 'FW-2', 'FW-3', 'FW-4'])
    expect((await fw('properties.depth[lt]=-1'))).toEqual([])
  })

  it('refuses a malformed filter (400 naming it)', async () => {
    const op = await asA('GET', '/entities?properties.depth[between]=1')
    expectProblem(op, 400)
    expect(op.body.errors[0].path).toBe('/query/properties.depth[between]')
    const nan = await asA('GET', '/entities?properties.depth[gt]=deep')
    expectProblem(nan, 400, /not one/)
    expectProblem(await asA('GET', '/entities?properties.tags[exists]=maybe'), 400)
    expectProblem(await asA('GET', '/entities?colour=red'), 400)
  })

  it('pages with a cursor, newest first, without gaps or repeats', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = ok(await asA('GET', `/entities?type=Field%20Well&limit=2${cursor ? `&cursor=${cursor}` : ''}`))
      expect(page.data.length).toBeLessThanOrEqual(2)
      seen.push(...page.data.map((e: Json) => e.name))
      cursor = page.next_cursor
    } while (cursor)
    expect(seen).toEqual(['FW-5', 'FW-4', 'FW-3', 'FW-2', 'FW-1'])
    expectProblem(await asA('GET', '/entities?cursor=garbage'), 400)
  })

  it('never lists another organisation\'s entities', async () => {
    expect(await names({ body: ok(await asB('GET', '/entities?type=Well')) })).toEqual(['W-1'])
    expect(await names({ body: ok(await asB('GET', '/entities?q=FW-1')) })).toEqual([])
  })
})

describe('unit systems', () => {
  let w: Json

  it('returns unit-bearing properties in the requested unit system, naming each unit', async () => {
    w = created(await asA('POST', '/entities', { type: 'Well', name: 'W-units', properties: { depth: 1000, whp: 6894.757293168, slots: 2 } }))
    expect(w.units).toEqual({ depth: 'm', whp: 'Pa' })
    const oil = ok(await asA('GET', `/entities/${w.id}?unit_system=Oil%20Field`))
    expect(oil.properties.depth).toBeCloseTo(3280.839895, 5)
    expect(oil.properties.whp).toBeCloseTo(1, 9)
    expect(oil.properties.slots).toBe(2)
    expect(oil.units).toEqual({ depth: 'ft', whp: 'psi' })
    const listed = (ok(await asA('GET', '/entities?type=Well&unit_system=Oil%20Field&properties.depth=1000')).data as Json[])[0]!
    expect(listed.properties.depth).toBeCloseTo(3280.839895, 5)
    expect(listed.units).toEqual({ depth: 'ft', whp: 'psi' })
    const si = ok(await asA('GET', `/entities/${w.id}?unit_system=SI`))
    expect(si.properties).toMatchObject({ depth: 1000, whp: 6894.757293168 })
    // Stored values are untouched.
    expect(ok(await asA('GET', `/entities/${w.id}`)).properties.depth).toBe(1000)
  })

  it('uses the caller\'s preferred system for unit_system=preferred, and refuses an unknown system (422)', async () => {
    ok(await asA('PUT', '/unit-preferences/me', { unit_system: 'Oil Field' }))
    const mine = ok(await asA('GET', `/entities/${w.id}?unit_system=preferred`))
    expect(mine.units).toEqual({ depth: 'ft', whp: 'psi' })
    expect((await asA('DELETE', '/unit-preferences/me')).status).toBe(204)
    const res = await asA('GET', `/entities/${w.id}?unit_system=Martian`)
    expectProblem(res, 422)
    expect(res.body.errors[0].path).toBe('/query/unit_system')
    // Also for a page without unit-bearing properties.
    expectProblem(await asA('GET', '/entities?type=Field%20Well&unit_system=Martian'), 422, /Martian/)
  })
})

describe('a unit per property', () => {
  it('returns a property in the unit asked for, before any system, and refuses a unit of another type or an unknown property (422)', async () => {
    const w = created(await asA('POST', '/entities', { type: 'Well', name: 'W-per-unit', properties: { depth: 1000, whp: 100000 } }))
    const shown = ok(await asA('GET', `/entities/${w.id}?units=depth:km,whp:bar&unit_system=Oil%20Field`))
    expect(shown.properties.depth).toBeCloseTo(1, 12)
    expect(shown.properties.whp).toBeCloseTo(1, 12)
    expect(shown.units).toEqual({ depth: 'km', whp: 'bar' })
    const listed = (ok(await asA('GET', `/entities?type=Well&q=W-per-unit&units=depth:ft`)).data as Json[])[0]!
    expect(listed.properties.depth).toBeCloseTo(3280.839895, 5)
    expect(listed.units).toEqual({ depth: 'ft', whp: 'Pa' })
    for (const bad of ['depth:psi', 'slots:m', 'depth', 'depth:no-such-unit']) {
      const res = await asA('GET', `/entities/${w.id}?units=${bad}`)
      expectProblem(res, 422)
      expect(res.body.errors[0].path, bad).toBe('/query/units')
    }
  })
})

describe('users and organisations as entities', () => {
  it('mirrors the organisation and its owner, with a belongs_to relationship', async () => {
    const [org] = ok(await asA('GET', '/entities?type=organization')).data as [Json]
    expect(org).toMatchObject({ name: 'Alpha Entities', entity_type: 'organization', managed_by: 'identity', external_id: `organization:${a.organization.id}`, properties: { slug: a.organization.slug } })
    const [user] = ok(await asA('GET', '/entities?type=user')).data as [Json]
    expect(user).toMatchObject({ entity_type: 'user', managed_by: 'identity', external_id: `user:${a.user.id}`, properties: { email: a.user.email, role: 'owner' } })
    const rel = (await eventsOf('relationship.created')).find((e) => e.data.from_entity_id === user.id)
    expect(rel?.data).toMatchObject({ to_entity_id: org.id, relationship_type: 'belongs_to' })
    // Each organisation has its own.
    const [orgB] = ok(await asB('GET', '/entities?type=organization')).data as [Json]
    expect(orgB.name).toBe('Beta Entities')
  })

  it('keeps the mirrors read-only through the API (403)', async () => {
    const [user] = ok(await asA('GET', '/entities?type=user')).data as [Json]
    expectProblem(await asA('PATCH', `/entities/${user.id}`, { name: 'renamed' }), 403, /identity/)
    expectProblem(await asA('DELETE', `/entities/${user.id}`), 403)
    expectProblem(await asA('POST', `/entities/${user.id}/restore`), 403)
    expectProblem(await asA('POST', '/entities', { type: 'user', name: 'fake', properties: { email: 'fake@example.com' } }), 403)
    expectProblem(await asA('POST', '/entities', { type: 'organization', name: 'fake org' }), 403)
  })

  it('follows the organisation\'s name and settings', async () => {
    ok(await asA('PATCH', '/organization', { name: 'Alpha Entities Renamed', settings: { unit_system: 'Oil Field', time_zone: 'Europe/Oslo' } }))
    const [org] = ok(await asA('GET', '/entities?type=organization')).data as [Json]
    expect(org).toMatchObject({ name: 'Alpha Entities Renamed', properties: { slug: a.organization.slug, unit_system: 'Oil Field', timezone: 'Europe/Oslo' } })
  })

  it('adds a member\'s mirror, follows role changes, and soft-deletes it and ends the relationship when the membership ends', async () => {
    const email = uniqueEmail('member')
    const inv = await asA('POST', '/invitations', { email, role: 'editor' })
    const accepted = await api({}, 'POST', '/auth/accept-invitation', { token: inv.body.token, password: 'a long enough passphrase' })
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
    const memberId = accepted.body.user.id as string
    const find = async () => (ok(await asA('GET', `/entities?type=user&external_id=user:${memberId}&active=all`)).data as Json[])[0]!
    const mirror = await find()
    expect(mirror).toMatchObject({ is_active: true, properties: { email, role: 'editor' } })
    // The member sees it too.
    expect((ok(await api(bearer(accepted.body.token), 'GET', '/entities?type=user')).data as Json[]).length).toBe(2)

    ok(await asA('PATCH', `/members/${memberId}`, { role: 'viewer' }))
    expect((await find()).properties.role).toBe('viewer')
    const [roleEvent] = (await eventsOf('entity.updated')).filter((e) => e.entity_id === mirror.id)
    expect(roleEvent!.data.diff.properties).toEqual({ role: { from: 'editor', to: 'viewer' } })

    expect((await asA('DELETE', `/members/${memberId}`)).status).toBe(204)
    expect((await find()).is_active).toBe(false)
    expect(await list('type=user')).toHaveLength(1)
    expect((await eventsOf('entity.deleted')).some((e) => e.entity_id === mirror.id)).toBe(true)
    expect((await eventsOf('relationship.ended')).length).toBeGreaterThanOrEqual(1)

    // Invited again: the same mirror comes back.
    const inv2 = await asA('POST', '/invitations', { email, role: 'editor' })
    expect((await api({}, 'POST', '/auth/accept-invitation', { token: inv2.body.token, password: 'a long enough passphrase' })).status).toBe(200)
    const back = await find()
    expect(back).toMatchObject({ id: mirror.id, is_active: true, properties: { role: 'editor' } })
  })
})
