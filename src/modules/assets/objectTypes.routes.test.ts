// Object types through the HTTP API with real authentication: names and families, property
// definitions (units from a category), versioned schemas, compatible and breaking evolution,
// the revalidation job, and the seed-001 `device.esp32` raw schema.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { ESP32_DEVICE, ESP32_SCHEMA } from '../../../test/fixtures/esp32.ts'
import { bearer, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'
import { rows } from '../../core/db/database.ts'
import { allJobHandlers } from '../../core/runtime.ts'
import { createWorker, type JobHandler, type Worker } from '../../core/jobs/worker.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let viewer: Record<string, string>
let worker: Worker | null = null

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
const paths = (res: { body: Json }) => (res.body.errors as { path: string }[]).map((e) => e.path)
const eventsOf = async (type: string) => (await asA('GET', `/events?type=${type}`)).body.data as Json[]

/** Progress reports of the jobs run, by job id. */
const progress = new Map<string, [number, string | undefined][]>()

async function runJobs() {
  if (worker) return
  // The runtime's handlers, with their progress reports recorded on the way.
  const handlers: JobHandler<any>[] = allJobHandlers(t.rt).map((h) => ({
    ...h,
    run: (job) =>
      h.run({
        ...job,
        progress: async (p, m) => {
          progress.set(job.id, [...(progress.get(job.id) ?? []), [p, m]])
          return job.progress(p, m)
        },
      }),
  }))
  worker = createWorker({ database: t.rt.database, handlers, events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 2, leaseMs: 30_000, pollMs: 20 })
  await worker.start()
}

async function finished(jobId: string, ms = 30_000): Promise<Json> {
  await runJobs()
  const deadline = Date.now() + ms
  for (;;) {
    const job = (await asA('GET', `/jobs/${jobId}`)).body
    if (job.status === 'completed' || job.status === 'failed') return job
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(job)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Assets' })
  b = await signUp(t.app, { organization: 'Beta Assets' })
  const inv = await asA('POST', '/invitations', { email: uniqueEmail('viewer'), role: 'viewer' })
  const accepted = await api({}, 'POST', '/auth/accept-invitation', { token: inv.body.token, password: 'a long enough passphrase' })
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
  viewer = bearer(accepted.body.token)
})
afterAll(async () => {
  await worker?.stop(2000)
  await t.close()
})

describe('object types', () => {
  let well: Json

  it('creates a type with its properties and publishes schema version 1', async () => {
    well = created(
      await asA('POST', '/object-types', {
        name: 'Well',
        description: 'A producing well',
        properties: [
          { name: 'depth', data_type: 'number', unit_category: 'Length', minimum: 0, openserver: 'DOM.Wells[{Well}].Depth', required: true },
          { name: 'whp', data_type: 'number', unit_category: 'Pressure', display_unit: 'bar' },
          { name: 'state', data_type: 'enum', enum_values: ['producing', 'shut_in'], default: 'producing' },
          { name: 'spud', data_type: 'timestamp' },
          { name: 'rate', data_type: 'number', time_varying: true, unit_category: 'Volume' },
        ],
      }),
    )
    expect(well).toMatchObject({ name: 'Well', family: 'Well', schema_version: 1, organization_id: a.organization.id, managed_by: null, raw_schema: null })
    const props = ok(await asA('GET', `/object-types/${well.id}/properties`)).data as Json[]
    expect(props.map((p) => p.name)).toEqual(['depth', 'whp', 'state', 'spud', 'rate'])
    expect(props[0]).toMatchObject({ data_type: 'number', unit: 'm', display_unit: null, openserver: 'DOM.Wells[{Well}].Depth', required: true, minimum: 0, position: 0 })
    expect(props[1]).toMatchObject({ unit: 'Pa', display_unit: 'bar' })
    expect(props[2]).toMatchObject({ enum_values: ['producing', 'shut_in'], default: 'producing', unit: null })
    expect(props[4]).toMatchObject({ time_varying: true, unit: 'm³' })
    const v1 = ok(await asA('GET', '/object-types/Well/schemas/current'))
    expect(v1).toMatchObject({ version: 1, key: 'Well.v1', entity_type: 'Well', change: 'initial', source: 'properties', valid_to: null })
    expect(v1.definition).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        depth: { type: 'number', minimum: 0, 'x-unit': 'm', 'x-openserver': 'DOM.Wells[{Well}].Depth' },
        whp: { type: 'number', 'x-unit': 'Pa' },
        state: { type: 'string', enum: ['producing', 'shut_in'], default: 'producing' },
        spud: { type: 'string', format: 'date-time' },
      },
      required: ['depth'],
      additionalProperties: false,
    })
    const [event] = await eventsOf('object_type.created')
    expect(event).toMatchObject({ entity_id: well.id, data: { name: 'Well', properties: ['depth', 'whp', 'state', 'spud', 'rate'] } })
  })

  it('refuses a second type of the same name in the organisation (409, case ignored); another organisation may use it', async () => {
    expectProblem(await asA('POST', '/object-types', { name: 'Well' }), 409, /already exists/)
    expectProblem(await asA('POST', '/object-types', { name: 'WELL' }), 409)
    created(await asB('POST', '/object-types', { name: 'Well' }))
    expectProblem(await asB('GET', `/object-types/${well.id}`), 404)
    expect(ok(await asA('GET', '/object-types/well')).id).toBe(well.id)
  })

  it('groups dotted names into families', async () => {
    for (const name of ['device', 'device.esp32', 'device.esp32.s3', 'devices']) created(await asA('POST', '/object-types', { name }))
    expect(ok(await asA('GET', '/object-types/device.esp32')).family).toBe('device')
    const family = ok(await asA('GET', '/object-types?family=device')).data.map((x: Json) => x.name)
    expect(family).toEqual(['device', 'device.esp32', 'device.esp32.s3'])
    expect(ok(await asA('GET', '/object-types?family=device.esp32')).data.map((x: Json) => x.name)).toEqual(['device.esp32', 'device.esp32.s3'])
    for (const name of ['.device', 'device.', 'device..x', 'a/b']) {
      const res = await asA('POST', '/object-types', { name })
      expectProblem(res, 422)
      expect(paths(res)).toEqual(['/body/name'])
    }
  })

  it('pages through types by name', async () => {
    const first = ok(await asA('GET', '/object-types?limit=2'))
    expect(first.data).toHaveLength(2)
    const second = ok(await asA('GET', `/object-types?limit=2&cursor=${first.next_cursor}`))
    expect(second.data[0].name > first.data[1].name).toBe(true)
  })

  it('renames a type and refuses a rename onto another type (409)', async () => {
    const t2 = created(await asA('POST', '/object-types', { name: 'Tank' }))
    expect(ok(await asA('PATCH', `/object-types/${t2.id}`, { name: 'Storage Tank', description: 'tanks' }))).toMatchObject({ name: 'Storage Tank', description: 'tanks', schema_change: null })
    expectProblem(await asA('PATCH', `/object-types/${t2.id}`, { name: 'well' }), 409)
  })

  it('deletes a type without entities, and refuses one with entities (409)', async () => {
    const gone = created(await asA('POST', '/object-types', { name: 'Scratch' }))
    expect((await asA('DELETE', `/object-types/${gone.id}`)).status).toBe(204)
    expectProblem(await asA('GET', `/object-types/${gone.id}`), 404)
    const used = created(await asA('POST', '/object-types', { name: 'Used' }))
    created(await asA('POST', '/entities', { type: 'Used', name: 'u1' }))
    expectProblem(await asA('DELETE', `/object-types/${used.id}`), 409, /1 entities/)
  })

  it('gives a viewer 403 on writes and lets them read', async () => {
    const res = await api(viewer, 'POST', '/object-types', { name: 'Viewer type' })
    expectProblem(res, 403)
    expect(JSON.stringify(res.body)).toContain('assets:write')
    expect((await api(viewer, 'GET', '/object-types/Well')).status).toBe(200)
  })

  it('keeps the identity mirror types read-only (403)', async () => {
    const user = ok(await asA('GET', '/object-types/user'))
    expect(user.managed_by).toBe('identity')
    expectProblem(await asA('PATCH', '/object-types/user', { description: 'mine' }), 403, /identity/)
    expectProblem(await asA('POST', '/object-types/user/properties', { name: 'x', data_type: 'string' }), 403)
    expectProblem(await asA('DELETE', '/object-types/organization'), 403)
  })
})

describe('property definitions', () => {
  let gauge: Json

  it('sets the base unit of the category\'s type as the unit, with an optional display unit of that type', async () => {
    gauge = created(await asA('POST', '/object-types', { name: 'Gauge' }))
    const p = created(await asA('POST', '/object-types/Gauge/properties', { name: 'pressure', data_type: 'number', unit_category: 'Pressure' }))
    expect(p).toMatchObject({ name: 'pressure', unit: 'Pa', display_unit: null, unit_category_id: expect.any(String), unit_id: expect.any(String), schema_change: { schema_version: 2, change: 'compatible', revalidation_job_id: null } })
    // A narrower category of the same type: still Pa.
    const thp = created(await asA('POST', '/object-types/Gauge/properties', { name: 'thp', data_type: 'number', unit_category: 'Tubing Head Pressure', display_unit: 'bar' }))
    expect(thp).toMatchObject({ unit: 'Pa', display_unit: 'bar' })
    const changed = ok(await asA('PATCH', `/object-types/Gauge/properties/${p.id}`, { display_unit: 'bar' }))
    expect(changed).toMatchObject({ unit: 'Pa', display_unit: 'bar' })
    // Changing only the display unit does not change the schema.
    expect(changed.schema_change).toMatchObject({ change: 'none', schema_version: 3 })
    // Another unit makes stored values mean something else: breaking, so it needs migrate.
    const refused = await asA('PATCH', `/object-types/Gauge/properties/${p.id}`, { unit_category: 'Temperature' })
    expect(refused.status).toBe(409)
    expect(refused.body.changes).toEqual([expect.objectContaining({ kind: 'unit_changed', path: '/pressure', breaking: true })])
    const temp = ok(await asA('PATCH', `/object-types/Gauge/properties/${p.id}?migrate=true`, { unit_category: 'Temperature' }))
    expect(temp).toMatchObject({ unit: 'K', display_unit: null })
    expect((await asA('GET', '/object-types/Gauge/schemas/current')).body.definition.properties.pressure['x-unit']).toBe('K')
  })

  it('refuses a display unit of another type, a unit on a non-numeric property, an unknown category, a display unit without category (422 by path)', async () => {
    const wrong = await asA('POST', '/object-types/Gauge/properties', { name: 'p2', data_type: 'number', unit_category: 'Pressure', display_unit: 'm' })
    expectProblem(wrong, 422, /not a unit of this property's category/)
    expect(paths(wrong)).toEqual(['/body/display_unit'])
    const text = await asA('POST', '/object-types/Gauge/properties', { name: 'p3', data_type: 'string', unit_category: 'Pressure' })
    expectProblem(text, 422)
    expect(paths(text)).toEqual(['/body/unit_category'])
    const unknown = await asA('POST', '/object-types/Gauge/properties', { name: 'p4', data_type: 'number', unit_category: 'No Such Category' })
    expectProblem(unknown, 422)
    expect(paths(unknown)).toEqual(['/body/unit_category'])
    const bare = await asA('POST', '/object-types/Gauge/properties', { name: 'p5', data_type: 'number', display_unit: 'bar' })
    expectProblem(bare, 422)
    expect(paths(bare)).toEqual(['/body/display_unit'])
    const badUnit = await asA('POST', '/object-types/Gauge/properties', { name: 'p6', data_type: 'number', unit_category: 'Pressure', display_unit: 'no-such-unit' })
    expectProblem(badUnit, 422)
    expect(paths(badUnit)).toEqual(['/body/display_unit'])
    // Nothing of these was stored.
    expect(ok(await asA('GET', '/object-types/Gauge/properties')).data.map((p: Json) => p.name)).toEqual(['pressure', 'thp'])
  })

  it('refuses inconsistent definitions (422 by path) and a second property of the same name (409)', async () => {
    const cases: [Json, string][] = [
      [{ name: 'e', data_type: 'enum' }, '/body/enum_values'],
      [{ name: 'e', data_type: 'string', enum_values: ['a'] }, '/body/enum_values'],
      [{ name: 'e', data_type: 'enum', enum_values: ['a', 'a'] }, '/body/enum_values'],
      [{ name: 'e', data_type: 'enum', enum_values: ['a'], default: 'b' }, '/body/default'],
      [{ name: 'n', data_type: 'integer', minimum: 10, maximum: 1 }, '/body/minimum'],
      [{ name: 'n', data_type: 'integer', minimum: 0, default: -1 }, '/body/default'],
      [{ name: 'n', data_type: 'integer', default: 1.5 }, '/body/default'],
      [{ name: 's', data_type: 'string', minimum: 1 }, '/body/minimum'],
      [{ name: 'ts', data_type: 'timestamp', default: 'not a time' }, '/body/default'],
      [{ name: 'tv', data_type: 'number', time_varying: true, required: true }, '/body/required'],
      [{ name: 'bad name', data_type: 'string' }, '/body/name'],
      [{ name: 'x', data_type: 'decimal' }, '/body/data_type'],
    ]
    for (const [body, path] of cases) {
      const res = await asA('POST', '/object-types/Gauge/properties', body)
      expectProblem(res, 422)
      expect(paths(res), JSON.stringify(body)).toContain(path)
    }
    expectProblem(await asA('POST', '/object-types/Gauge/properties', { name: 'PRESSURE', data_type: 'number' }), 409, /already has a property named/)
    const dup = await asA('POST', '/object-types', { name: 'Twice', properties: [{ name: 'a', data_type: 'string' }, { name: 'a', data_type: 'number' }] })
    expectProblem(dup, 409)
    expectProblem(await asA('GET', '/object-types/Twice'), 404)
    // Errors in a property of a new type name its index.
    const indexed = await asA('POST', '/object-types', { name: 'Indexed', properties: [{ name: 'a', data_type: 'string' }, { name: 'b', data_type: 'enum', enum_values: ['x'], default: 'y' }] })
    expectProblem(indexed, 422)
    expect(paths(indexed)).toEqual(['/body/properties/1/default'])
  })

  it('reads, renames and deletes a property', async () => {
    const all = ok(await asA('GET', '/object-types/Gauge/properties')).data as Json[]
    const thp = all.find((p) => p.name === 'thp')!
    expect(ok(await asA('GET', `/object-types/${gauge.id}/properties/${thp.id}`)).name).toBe('thp')
    // Renaming is removing one property and adding another: breaking for the closed schema.
    expectProblem(await asA('PATCH', `/object-types/Gauge/properties/${thp.id}`, { name: 'tubing_head_pressure' }), 409, /breaking/)
    expect(ok(await asA('PATCH', `/object-types/Gauge/properties/${thp.id}?migrate=true`, { name: 'tubing_head_pressure' })).schema_change.change).toBe('breaking')
    expectProblem(await asA('DELETE', `/object-types/Gauge/properties/${thp.id}`), 409, /breaking/)
    expect(ok(await asA('DELETE', `/object-types/Gauge/properties/${thp.id}?migrate=true`)).schema_change).toMatchObject({ change: 'breaking', changes: [{ kind: 'property_removed', path: '/tubing_head_pressure', breaking: true }] })
    expectProblem(await asA('GET', `/object-types/Gauge/properties/${thp.id}`), 404)
    expectProblem(await asA('GET', `/object-types/Gauge/properties/${thp.id.replace(/.$/, '0')}`), 404)
  })
})

describe('schema versions and evolution', () => {
  let type: Json
  const version = async () => ok(await asA('GET', `/object-types/${type.id}/schemas/current`))

  it('publishes a new version per change and closes the previous one', async () => {
    type = created(await asA('POST', '/object-types', { name: 'Pump', properties: [{ name: 'power', data_type: 'number', minimum: 0, maximum: 500 }, { name: 'mode', data_type: 'enum', enum_values: ['auto', 'manual'] }] }))
    created(await asA('POST', '/entities', { type: 'Pump', name: 'P-1', properties: { power: 100, mode: 'auto' } }))
    // Compatible: an optional property.
    const added = created(await asA('POST', '/object-types/Pump/properties', { name: 'vendor', data_type: 'string' }))
    expect(added.schema_change).toMatchObject({ schema_version: 2, change: 'compatible', changes: [{ kind: 'property_added', path: '/vendor', breaking: false }], revalidation_job_id: null })
    const versions = ok(await asA('GET', '/object-types/Pump/schemas')).data as [Json, Json]
    expect(versions.map((v) => [v.version, v.change])).toEqual([[2, 'compatible'], [1, 'initial']])
    expect(versions[0].valid_to).toBeNull()
    expect(versions[1].valid_to).toBe(versions[0].valid_from)
    expect(ok(await asA('GET', '/object-types/Pump/schemas/1')).definition.properties.vendor).toBeUndefined()
    expect((await version()).definition.properties.vendor).toEqual({ type: 'string' })
    expect(ok(await asA('GET', '/object-types/Pump')).schema_version).toBe(2)
    expectProblem(await asA('GET', '/object-types/Pump/schemas/9'), 404)
    expectProblem(await asA('GET', '/object-types/Pump/schemas/latest'), 422)
    const [event] = await eventsOf('object_type.schema_changed')
    expect(event).toMatchObject({ entity_id: type.id, data: { name: 'Pump', version: 2, change: 'compatible' } })
    // Pages newest first.
    const page = ok(await asA('GET', '/object-types/Pump/schemas?limit=1'))
    expect(page.data[0].version).toBe(2)
    expect(ok(await asA('GET', `/object-types/Pump/schemas?limit=1&cursor=${page.next_cursor}`)).data.map((v: Json) => v.version)).toEqual([1])
  })

  it('is compatible to widen an enum, relax a bound, make a property optional or add a default', async () => {
    const props = ok(await asA('GET', '/object-types/Pump/properties')).data as Json[]
    const mode = props.find((p) => p.name === 'mode')!
    const power = props.find((p) => p.name === 'power')!
    expect(ok(await asA('PATCH', `/object-types/Pump/properties/${mode.id}`, { enum_values: ['auto', 'manual', 'off'] })).schema_change).toMatchObject({ schema_version: 3, change: 'compatible', changes: [{ kind: 'enum_widened', path: '/mode' }] })
    expect(ok(await asA('PATCH', `/object-types/Pump/properties/${power.id}`, { maximum: 1000 })).schema_change).toMatchObject({ schema_version: 4, change: 'compatible', changes: [{ kind: 'bound_relaxed', path: '/power' }] })
    expect(ok(await asA('PATCH', `/object-types/Pump/properties/${power.id}`, { minimum: null })).schema_change).toMatchObject({ schema_version: 5, change: 'compatible' })
    expect(ok(await asA('PATCH', `/object-types/Pump/properties/${mode.id}`, { default: 'auto' })).schema_change).toMatchObject({ schema_version: 6, change: 'compatible', changes: [{ kind: 'default_changed' }] })
    // The same definition again: no new version.
    expect(ok(await asA('PATCH', `/object-types/Pump/properties/${mode.id}`, { default: 'auto' })).schema_change).toMatchObject({ schema_version: 6, change: 'none' })
    const required = created(await asA('POST', '/object-types/Pump/properties', { name: 'rpm', data_type: 'integer', required: true, default: 1500 }))
    expect(required.schema_change).toMatchObject({ schema_version: 7, change: 'compatible' })
  })

  it('refuses a breaking change without migrate (409 listing it), storing nothing', async () => {
    const before = await version()
    const props = ok(await asA('GET', '/object-types/Pump/properties')).data as Json[]
    const mode = props.find((p) => p.name === 'mode')!
    const power = props.find((p) => p.name === 'power')!
    const cases: [() => ReturnType<typeof asA>, string][] = [
      [() => asA('POST', '/object-types/Pump/properties', { name: 'serial', data_type: 'string', required: true }), 'property_added'],
      [() => asA('PATCH', `/object-types/Pump/properties/${mode.id}`, { enum_values: ['auto', 'off'], default: 'auto' }), 'enum_narrowed'],
      [() => asA('PATCH', `/object-types/Pump/properties/${power.id}`, { data_type: 'string', maximum: null }), 'type_changed'],
      [() => asA('PATCH', `/object-types/Pump/properties/${power.id}`, { maximum: 10 }), 'bound_tightened'],
      [() => asA('PATCH', `/object-types/Pump/properties/${power.id}`, { required: true }), 'property_required'],
      [() => asA('DELETE', `/object-types/Pump/properties/${power.id}`), 'property_removed'],
    ]
    for (const [attempt, kind] of cases) {
      const res = await attempt()
      expectProblem(res, 409, /breaking change.*migrate=true/)
      expect(res.body.breaking).toBe(true)
      expect(res.body.changes.filter((c: Json) => c.breaking).map((c: Json) => c.kind)).toContain(kind)
    }
    expect((await version()).version).toBe(before.version)
    expect(ok(await asA('GET', '/object-types/Pump/properties')).data.map((p: Json) => [p.name, p.data_type, p.maximum, p.enum_values])).toEqual([
      ['power', 'number', 1000, null],
      ['mode', 'enum', null, ['auto', 'manual', 'off']],
      ['vendor', 'string', null, null],
      ['rpm', 'integer', null, null],
    ])
    expect((await eventsOf('object_type.property_added')).map((e) => e.data.property)).not.toContain('serial')
  })
})

describe('a breaking change with migrate revalidates existing entities as a job', () => {
  const N = 1100
  let jobId: string
  let bad: string[]

  it('enqueues assets.revalidate and answers with its id', async () => {
    created(await asA('POST', '/object-types', { name: 'Meter', properties: [{ name: 'reading', data_type: 'number', minimum: 0 }, { name: 'kind', data_type: 'enum', enum_values: ['gas', 'water', 'oil'] }] }))
    const items = Array.from({ length: N }, (_, i) => ({ type: 'Meter', name: `M-${i}`, properties: { reading: i, kind: i % 250 === 0 ? 'oil' : 'gas' } }))
    expect(ok(await asA('POST', '/entities/bulk', { items }))).toMatchObject({ created: N })
    const props = ok(await asA('GET', '/object-types/Meter/properties')).data as Json[]
    const kind = props.find((p) => p.name === 'kind')!
    // oil is no longer a kind: 5 meters (0, 250, ..., 1000) fail.
    const res = ok(await asA('PATCH', `/object-types/Meter/properties/${kind.id}?migrate=true`, { enum_values: ['gas', 'water'] }))
    expect(res.schema_change).toMatchObject({ schema_version: 2, change: 'breaking', changes: [{ kind: 'enum_narrowed', path: '/kind', breaking: true }], revalidation_job_id: expect.any(String) })
    jobId = res.schema_change.revalidation_job_id
    const job = ok(await asA('GET', `/jobs/${jobId}`))
    expect(job).toMatchObject({ type: 'assets.revalidate', status: 'pending', params: { version: 2 } })
    const [event] = await eventsOf('object_type.schema_changed')
    expect(event!.data).toMatchObject({ name: 'Meter', version: 2, change: 'breaking', revalidation_job_id: jobId })
    const list = ok(await asA('GET', '/entities?type=Meter&properties.kind=oil&limit=10')).data as Json[]
    bad = list.map((e) => e.id)
    expect(bad).toHaveLength(5)
  })

  it('reports progress and lists every failing entity with its errors in the result', async () => {
    const job = await finished(jobId)
    expect(job).toMatchObject({ status: 'completed', progress: 100, progress_message: `${N} of ${N} entities checked, 5 invalid` })
    expect(job.result).toMatchObject({ schema_version: 2, checked: N, valid: N - 5, invalid: 5 })
    expect(job.result.failures.map((f: Json) => f.id).sort()).toEqual([...bad].sort())
    expect(job.result.failures[0]).toMatchObject({ name: expect.stringMatching(/^M-/), errors: [{ path: '/properties/kind', message: 'must be one of "gas", "water"' }] })
    const reports = progress.get(jobId)!
    expect(reports.length).toBeGreaterThanOrEqual(2)
    expect(reports[0]![0]).toBeLessThan(100)
    expect(reports.map(([p]) => p)).toEqual([...reports.map(([p]) => p)].sort((x, y) => x - y))
    expect(reports[0]![1]).toMatch(new RegExp(`^500 of ${N} entities checked`))
    const [event] = await eventsOf('object_type.revalidated')
    expect(event!.data).toMatchObject({ name: 'Meter', schema_version: 2, checked: N, invalid: 5 })
  })

  it('moves valid entities to the new version; failing ones stay stale until fixed', async () => {
    const stale = ok(await asA('GET', '/entities?type=Meter&stale=true')).data as Json[]
    expect(stale.map((e) => e.id).sort()).toEqual([...bad].sort())
    expect(stale.every((e) => e.schema_version === 1)).toBe(true)
    const fine = ok(await asA('GET', '/entities?type=Meter&properties.reading=1')).data[0]
    expect(fine.schema_version).toBe(2)
    const fixed = ok(await asA('PATCH', `/entities/${bad[0]}`, { properties: { kind: 'water' } }))
    expect(fixed.schema_version).toBe(2)
    expect(ok(await asA('GET', '/entities?type=Meter&stale=true')).data).toHaveLength(4)
  })
})

describe('the seed-001 device.esp32 raw schema', () => {
  let type: Json

  it('stores the raw schema as version 1 and validates exactly as the seed shows: required, enum, default', async () => {
    type = created(await asA('POST', '/object-types', { name: 'sensor.esp32', description: 'ESP32 device', schema: ESP32_SCHEMA }))
    expect(type.raw_schema).toEqual(ESP32_SCHEMA)
    const v1 = ok(await asA('GET', '/object-types/sensor.esp32/schemas/1'))
    expect(v1).toMatchObject({ source: 'raw', key: 'sensor.esp32.v1' })
    expect(v1.definition).toEqual({ ...ESP32_SCHEMA, additionalProperties: false })

    const device = created(await asA('POST', '/entities', { type: 'sensor.esp32', name: 'esp-001', properties: ESP32_DEVICE }))
    expect(device.properties).toEqual(ESP32_DEVICE)
    const minimal = created(await asA('POST', '/entities', { type: 'sensor.esp32', name: 'esp-002', properties: { name: 'ESP32 Device 2', hardware: { model: 'ESP32-S3' } } }))
    expect(minimal.properties).toEqual({ name: 'ESP32 Device 2', status: 'offline', hardware: { model: 'ESP32-S3' } })

    const res = await asA('POST', '/entities', { type: 'sensor.esp32', name: 'esp-bad', properties: { status: 'asleep', hardware: { macAddress: 'x', sensors: [{ type: 'temperature', range: { min: 'cold' } }] }, config: { readingInterval: 0 }, firmware: { lastUpdate: 'soon' } } })
    expectProblem(res, 422)
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/properties/name', message: 'is required' },
        { path: '/body/properties/status', message: 'must be one of "online", "offline", "maintenance", "error"' },
        { path: '/body/properties/hardware/model', message: 'is required' },
        { path: '/body/properties/hardware/sensors/0/range/min', message: 'must be number' },
        { path: '/body/properties/config/readingInterval', message: 'must be >= 1' },
        { path: '/body/properties/firmware/lastUpdate', message: expect.stringMatching(/date-time/) },
      ]),
    )
    expect(res.body.errors).toHaveLength(6)
  })

  it('accepts a raw schema with an $id, and a new version of it', async () => {
    const withId = { ...ESP32_SCHEMA, $id: 'https://example.com/schemas/esp32' }
    created(await asA('POST', '/object-types', { name: 'sensor.esp32b', schema: withId }))
    const next = structuredClone(withId) as Json
    next.properties.status.enum.push('rebooting')
    expect(ok(await asA('PATCH', '/object-types/sensor.esp32b', { schema: next })).schema_change).toMatchObject({ schema_version: 2, change: 'compatible' })
  })

  it('merges static properties over the raw schema', async () => {
    const p = created(await asA('POST', '/object-types/sensor.esp32/properties', { name: 'battery', data_type: 'number', minimum: 0, maximum: 100 }))
    expect(p.schema_change).toMatchObject({ schema_version: 2, change: 'compatible' })
    const v2 = ok(await asA('GET', '/object-types/sensor.esp32/schemas/current'))
    expect(v2.source).toBe('raw')
    expect(v2.definition.properties.battery).toMatchObject({ type: 'number', minimum: 0, maximum: 100 })
    expect(v2.definition.properties.hardware).toEqual((ESP32_SCHEMA.properties as Json).hardware)
  })

  it('answers 409 to a breaking raw schema change, and applies it with migrate in the body, revalidating', async () => {
    const narrowed = structuredClone(ESP32_SCHEMA) as Json
    narrowed.properties.status.enum = ['online', 'offline']
    narrowed.properties.hardware.required = ['model', 'macAddress']
    const refused = await asA('PATCH', '/object-types/sensor.esp32', { schema: narrowed })
    expectProblem(refused, 409, /breaking/)
    expect(refused.body.changes.filter((c: Json) => c.breaking).map((c: Json) => [c.kind, c.path])).toEqual([
      ['enum_narrowed', '/status'],
      ['property_required', '/hardware/macAddress'],
    ])
    // Nothing changed: not even the raw schema.
    expect(ok(await asA('GET', '/object-types/sensor.esp32')).raw_schema).toEqual(ESP32_SCHEMA)
    const applied = ok(await asA('PATCH', '/object-types/sensor.esp32', { schema: narrowed, migrate: true }))
    expect(applied).toMatchObject({ schema_version: 3, raw_schema: narrowed, schema_change: { schema_version: 3, change: 'breaking', revalidation_job_id: expect.any(String) } })
    const job = await finished(applied.schema_change.revalidation_job_id)
    expect(job.status).toBe('completed')
    // esp-001 has its macAddress; esp-002 does not.
    expect(job.result).toMatchObject({ checked: 2, valid: 1, invalid: 1, failures: [{ name: 'esp-002', errors: [{ path: '/properties/hardware/macAddress', message: 'is required' }] }] })
  })
})

describe('range indexes on numeric properties', () => {
  it('builds one as a job when a property becomes indexed, and the range filter then uses it', async () => {
    const type = created(await asA('POST', '/object-types', { name: 'Indexed Tank', properties: [{ name: 'level_reading', data_type: 'number', indexed: true }, { name: 'tag', data_type: 'string' }] }))
    const props = ok(await asA('GET', `/object-types/${type.id}/properties`)).data as Json[]
    expect(props.find((p) => p.name === 'level_reading')).toMatchObject({ indexed: true })
    const added = created(await asA('POST', `/object-types/${type.id}/properties`, { name: 'capacity_m3', data_type: 'integer', indexed: true }))
    expect(added.index_job_id).toEqual(expect.any(String))
    const job = await finished(added.index_job_id)
    expect(job, JSON.stringify(job)).toMatchObject({ status: 'completed', progress: 100, result: { property: 'capacity_m3', index: expect.stringMatching(/^entities_num_/) } })
    const [found] = await rows<{ indexdef: string }>(t.rt.database.db, sql`select indexdef from pg_indexes where indexname = ${job.result.index}`)
    expect(found!.indexdef).toMatch(/stratum_jsonb_number\(\(properties -> 'capacity_m3'::text\)\)/)
    // Turning it on again, or changing something else, builds nothing more.
    expect(ok(await asA('PATCH', `/object-types/${type.id}/properties/${added.id}`, { description: 'nominal' })).index_job_id).toBeNull()
    ok(await asA('POST', '/entities/bulk', { items: [10, 20, 30].map((c) => ({ type: 'Indexed Tank', name: `T-${c}`, properties: { capacity_m3: c, level_reading: c / 10 } })) }))
    const big = ok(await asA('GET', '/entities?type=Indexed%20Tank&properties.capacity_m3[gte]=20')).data as Json[]
    expect(big.map((e) => e.name).sort()).toEqual(['T-20', 'T-30'])
  })

  it('refuses an index on a non-numeric or time-varying property (422 naming /body/indexed)', async () => {
    created(await asA('POST', '/object-types', { name: 'Unindexable' }))
    for (const body of [{ name: 'label', data_type: 'string', indexed: true }, { name: 'flow', data_type: 'number', time_varying: true, indexed: true }]) {
      const res = await asA('POST', '/object-types/Unindexable/properties', body)
      expectProblem(res, 422)
      expect(res.body.errors.map((e: Json) => e.path)).toContain('/body/indexed')
    }
  })
})
