// The relationship graph through the HTTP API with real authentication: types, the rules a new
// relationship must keep, ending and history, and the as-of graph reads (neighbours, shortest
// path, the Field -> Platform -> Well asset tree), across two organisations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp
let viewer: Record<string, string>

async function api(headers: Record<string, string>, method: Method, url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']), headers: res.headers }
}
const asA = (method: Method, url: string, payload?: unknown) => api(a.headers, method, url, payload)
const asB = (method: Method, url: string, payload?: unknown) => api(b.headers, method, url, payload)

function expectProblem(res: { status: number; body: Json; type: string }, status: number, detail?: RegExp, path?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  if (detail) expect(res.body.detail).toMatch(detail)
  if (path) expect(res.body.errors?.map((e: Json) => e.path), JSON.stringify(res.body)).toContain(path)
}

async function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}

const eventsOf = async (type: string) => (await asA('GET', `/events?type=${type}`)).body.data as Json[]
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString()
const DAY = 86_400_000

/** One entity per name, of an object type created on first use. */
async function entity(as: typeof asA, type: string, name: string): Promise<string> {
  const existing = await as('GET', `/object-types/${type}`)
  if (existing.status === 404) await ok(await as('POST', '/object-types', { name: type, properties: [{ name: 'code', data_type: 'string' }] }), 201)
  return (await ok(await as('POST', '/entities', { type, name }), 201)).id
}
const relate = (from: string, to: string, relationship_type: string, extra: Json = {}) => asA('POST', '/relationships', { from_entity_id: from, to_entity_id: to, relationship_type, ...extra })

const ids: Record<string, string> = {}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Graph' })
  b = await signUp(t.app, { organization: 'Beta Graph' })
  const inv = await asA('POST', '/invitations', { email: uniqueEmail('viewer'), role: 'viewer' })
  const accepted = await api({}, 'POST', '/auth/accept-invitation', { token: inv.body.token, password: 'a long enough passphrase' })
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
  viewer = bearer(accepted.body.token)
  for (const [type, name] of [
    ['Field', 'North Field'],
    ['Platform', 'Alpha Platform'],
    ['Platform', 'Bravo Platform'],
    ['Well', 'W-1'],
    ['Well', 'W-2'],
    ['Well', 'W-3'],
    ['Sensor', 'S-1'],
    ['Sensor', 'S-2'],
    ['Sensor', 'S-3'],
    ['Sensor', 'Lonely'],
  ] as const)
    ids[name] = await entity(asA, type, name)
  ids.beta = await entity(asB, 'Well', 'Beta well')
}, 60_000)
afterAll(() => t.close())

describe('relationship types', () => {
  it('lists the built-ins, part_of hierarchical', async () => {
    const list = (await ok(await asA('GET', '/relationship-types'))).data as Json[]
    expect(list.map((r) => r.name)).toEqual(expect.arrayContaining(['monitors', 'belongs_to', 'owns', 'manages', 'participates_in', 'part_of']))
    expect(list.find((r) => r.name === 'part_of')).toMatchObject({ hierarchical: true, built_in: true, organization_id: null, inverse_name: 'has_part' })
    expect(list.find((r) => r.name === 'monitors')).toMatchObject({ hierarchical: false, built_in: true })
  })

  it('adds an own type (event recorded), invisible to another organisation', async () => {
    const feeds = await ok(await asA('POST', '/relationship-types', { name: 'feeds', inverse_name: 'fed_by', description: 'A pipeline feeds a separator' }), 201)
    expect(feeds).toMatchObject({ name: 'feeds', inverse_name: 'fed_by', hierarchical: false, built_in: false, organization_id: a.organization.id })
    await ok(await asA('POST', '/relationship-types', { name: 'contained_in', hierarchical: true }), 201)
    expect((await asA('GET', '/relationship-types')).body.data.map((r: Json) => r.name)).toEqual(expect.arrayContaining(['feeds', 'contained_in']))
    expect((await asB('GET', '/relationship-types')).body.data.map((r: Json) => r.name)).not.toContain('feeds')
    const [event] = await eventsOf('relationship_type.created')
    expect(event).toMatchObject({ entity_type: 'relationship_type', entity_id: expect.any(String), data: { name: 'contained_in', hierarchical: true } })
    // B may use the same name for its own.
    await ok(await asB('POST', '/relationship-types', { name: 'feeds' }), 201)
    await ok(await asB('POST', '/relationship-types', { name: 'beta_only' }), 201)
  })

  it('refuses a taken name (409), a built-in name included, and a malformed one (422)', async () => {
    expectProblem(await asA('POST', '/relationship-types', { name: 'feeds' }), 409, /already has a relationship type named feeds/)
    expectProblem(await asA('POST', '/relationship-types', { name: 'part_of' }), 409, /built-in/)
    expectProblem(await asA('POST', '/relationship-types', { name: 'Feeds Into' }), 422, undefined, '/body/name')
    expectProblem(await asA('POST', '/relationship-types', { name: 'x', colour: 'red' }), 422, undefined, '/body/colour')
  })

  it('gives a viewer 403 on writes, 200 on reads', async () => {
    const res = await api(viewer, 'POST', '/relationship-types', { name: 'viewer_type' })
    expectProblem(res, 403)
    expect(JSON.stringify(res.body)).toContain('assets:write')
    expect((await api(viewer, 'GET', '/relationship-types')).status).toBe(200)
    expectProblem(await api(viewer, 'POST', '/relationships', { from_entity_id: ids['S-1'], to_entity_id: ids['W-1'], relationship_type: 'monitors' }), 403)
  })
})

describe('creating a relationship', () => {
  let created: Json

  it('answers 201 with defaults, a Location header and a relationship.created event', async () => {
    const res = await relate(ids['S-1']!, ids['W-1']!, 'monitors', { properties: { channel: 3 } })
    created = await ok(res, 201)
    expect(res.headers.location).toBe(`/api/v1/relationships/${created.id}`)
    expect(created).toMatchObject({ from_entity_id: ids['S-1'], to_entity_id: ids['W-1'], relationship_type: 'monitors', properties: { channel: 3 }, strength: 1, valid_to: null, is_live: true, created_by: `user:${a.user.id}`, organization_id: a.organization.id })
    expect(Date.now() - Date.parse(created.valid_from)).toBeLessThan(60_000)
    expect(await ok(await asA('GET', `/relationships/${created.id}`))).toEqual(created)
    const [event] = await eventsOf('relationship.created')
    expect(event).toMatchObject({ entity_type: 'relationship', entity_id: created.id, data: { from_entity_id: ids['S-1'], to_entity_id: ids['W-1'], relationship_type: 'monitors', strength: 1 } })
  })

  it('keeps strength to two decimals and uses an own type', async () => {
    const r = await ok(await relate(ids['W-1']!, ids['S-3']!, 'feeds', { strength: 0.456 }), 201)
    expect(r).toMatchObject({ relationship_type: 'feeds', strength: 0.46 })
  })

  it('refuses an unknown type, or another organisation\'s (422 /body/relationship_type)', async () => {
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'watches'), 422, /no relationship type is named watches/, '/body/relationship_type')
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'beta_only'), 422, undefined, '/body/relationship_type')
  })

  it('refuses a missing entity or another organisation\'s, naming the field (422)', async () => {
    expectProblem(await relate('0190a000-0000-7000-8000-00000000dead', ids['W-2']!, 'monitors'), 422, undefined, '/body/from_entity_id')
    const res = await relate(ids['S-2']!, ids.beta!, 'monitors')
    expectProblem(res, 422, undefined, '/body/to_entity_id')
    expect(res.body.errors.map((e: Json) => e.path)).toEqual(['/body/to_entity_id'])
    // ...and B cannot reach A's entities either.
    expectProblem(await asB('POST', '/relationships', { from_entity_id: ids.beta, to_entity_id: ids['W-1'], relationship_type: 'monitors' }), 422, undefined, '/body/to_entity_id')
  })

  it('refuses a soft-deleted entity, saying it is deleted (422)', async () => {
    const gone = await entity(asA, 'Sensor', 'Decommissioned')
    expect((await asA('DELETE', `/entities/${gone}`)).status).toBeLessThan(300)
    const res = await relate(gone, ids['W-2']!, 'monitors')
    expectProblem(res, 422, /deleted/, '/body/from_entity_id')
    expect(res.body.errors[0].message).toMatch(/Decommissioned is deleted/)
    expectProblem(await relate(ids['S-2']!, gone, 'monitors'), 422, /deleted/, '/body/to_entity_id')
  })

  it('refuses a strength outside 0..1, naming the field', async () => {
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { strength: 1.5 }), 422, undefined, '/body/strength')
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { strength: -0.1 }), 422, undefined, '/body/strength')
  })

  it('refuses valid_to not after valid_from (422 /body/valid_to)', async () => {
    const at = iso(DAY)
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: at, valid_to: at }), 422, undefined, '/body/valid_to')
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: at, valid_to: iso(2 * DAY) }), 422, undefined, '/body/valid_to')
  })

  it('refuses an entity related to itself (422)', async () => {
    expectProblem(await relate(ids['S-2']!, ids['S-2']!, 'monitors'), 422, /itself/, '/body/to_entity_id')
  })

  it('refuses unknown fields and changing history through PATCH (422)', async () => {
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { weight: 2 }), 422, undefined, '/body/weight')
    expectProblem(await asA('PATCH', `/relationships/${created.id}`, { relationship_type: 'owns' }), 422, undefined, '/body/relationship_type')
    expectProblem(await asA('PATCH', `/relationships/${created.id}`, { to_entity_id: ids['W-2'] }), 422, undefined, '/body/to_entity_id')
  })

  it('refuses a relationship overlapping in time another of the same from, to and type (409); one after it is fine', async () => {
    const first = await ok(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: iso(10 * DAY), valid_to: iso(5 * DAY) }), 201)
    const res = await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: iso(6 * DAY) })
    expectProblem(res, 409, /S-2 monitors W-2 already holds/)
    expect(res.body.relationship_id).toBe(first.id)
    expectProblem(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: iso(20 * DAY), valid_to: iso(9 * DAY) }), 409)
    // Back to back (valid_to is exclusive), another type, or the other direction: no overlap.
    await ok(await relate(ids['S-2']!, ids['W-2']!, 'monitors', { valid_from: iso(5 * DAY) }), 201)
    await ok(await relate(ids['S-2']!, ids['W-2']!, 'owns', { valid_from: iso(6 * DAY) }), 201)
    await ok(await relate(ids['W-2']!, ids['S-2']!, 'monitors', { valid_from: iso(6 * DAY) }), 201)
  })

  it('serialises concurrent creators: of two identical requests one wins, the other is 409', async () => {
    const body = { valid_from: iso(3 * DAY) }
    const results = await Promise.all([relate(ids['S-3']!, ids['W-3']!, 'monitors', body), relate(ids['S-3']!, ids['W-3']!, 'monitors', body)])
    expect(results.map((r) => r.status).sort()).toEqual([201, 409])
  })
})

describe('the asset tree: Field -> Platform -> Well', () => {
  const before = iso(30 * DAY)

  beforeAll(async () => {
    await ok(await relate(ids['Alpha Platform']!, ids['North Field']!, 'part_of', { valid_from: iso(40 * DAY) }), 201)
    await ok(await relate(ids['Bravo Platform']!, ids['North Field']!, 'part_of', { valid_from: iso(20 * DAY) }), 201)
    await ok(await relate(ids['W-1']!, ids['Alpha Platform']!, 'part_of', { valid_from: iso(40 * DAY) }), 201)
    await ok(await relate(ids['W-2']!, ids['Alpha Platform']!, 'part_of', { valid_from: iso(40 * DAY) }), 201)
    await ok(await relate(ids['W-3']!, ids['Bravo Platform']!, 'part_of', { valid_from: iso(20 * DAY) }), 201)
  })

  it('nests the children below the field, and lists a well\'s ancestors up to the root', async () => {
    const tree = await ok(await asA('GET', `/entities/${ids['North Field']}/tree`))
    expect(tree).toMatchObject({ relationship_type: 'part_of', entity: { id: ids['North Field'], name: 'North Field', entity_type: 'Field' }, ancestors: [] })
    const shape = (n: Json): Json => ({ name: n.entity.name, children: n.children.map(shape) })
    expect(tree.children.map(shape)).toEqual([
      { name: 'Alpha Platform', children: [{ name: 'W-1', children: [] }, { name: 'W-2', children: [] }] },
      { name: 'Bravo Platform', children: [{ name: 'W-3', children: [] }] },
    ])
    expect(tree.children[0].relationship).toMatchObject({ relationship_type: 'part_of', from_entity_id: ids['Alpha Platform'], to_entity_id: ids['North Field'] })

    const well = await ok(await asA('GET', `/entities/${ids['W-3']}/tree`))
    expect(well.children).toEqual([])
    expect(well.ancestors.map((n: Json) => n.entity.name)).toEqual(['Bravo Platform', 'North Field'])
    const depth1 = await ok(await asA('GET', `/entities/${ids['North Field']}/tree?depth=1`))
    expect(depth1.children.map(shape)).toEqual([
      { name: 'Alpha Platform', children: [] },
      { name: 'Bravo Platform', children: [] },
    ])
  })

  it('answers as of a time: before Bravo was built the field had one platform', async () => {
    const tree = await ok(await asA('GET', `/entities/${ids['North Field']}/tree?at=${encodeURIComponent(before)}`))
    expect(tree.children.map((n: Json) => n.entity.name)).toEqual(['Alpha Platform'])
    expect(tree.at).toBe(before)
  })

  it('refuses a part_of that would close a cycle (409 naming it), for an own hierarchical type too', async () => {
    const res = await relate(ids['North Field']!, ids['W-1']!, 'part_of')
    expectProblem(res, 409, /cycle: North Field part_of W-1 part_of Alpha Platform part_of North Field/)
    expect(res.body.cycle).toEqual([ids['North Field'], ids['W-1'], ids['Alpha Platform'], ids['North Field']])
    await ok(await relate(ids['S-1']!, ids['S-2']!, 'contained_in'), 201)
    await ok(await relate(ids['S-2']!, ids['S-3']!, 'contained_in'), 201)
    expectProblem(await relate(ids['S-3']!, ids['S-1']!, 'contained_in'), 409, /cycle/)
    // A non-hierarchical type may go round in circles.
    await ok(await relate(ids['S-3']!, ids['S-1']!, 'feeds'), 201)
  })

  it('allows what was a cycle only once the edge closing it has ended', async () => {
    // Lonely part_of S-1 (future-proofing a sensor rack), then ended; S-1 part_of Lonely later is no cycle.
    const rack = await ok(await relate(ids.Lonely!, ids['S-1']!, 'part_of', { valid_from: iso(10 * DAY), valid_to: iso(8 * DAY) }), 201)
    expect(rack.is_live).toBe(false)
    await ok(await relate(ids['S-1']!, ids.Lonely!, 'part_of', { valid_from: iso(7 * DAY), valid_to: iso(6 * DAY) }), 201)
    expectProblem(await relate(ids['S-1']!, ids.Lonely!, 'part_of', { valid_from: iso(9 * DAY), valid_to: iso(7.5 * DAY) }), 409, /cycle/)
  })

  it('refuses an unknown type (422) and another organisation\'s entity (404)', async () => {
    expectProblem(await asA('GET', `/entities/${ids['North Field']}/tree?type=nope`), 422, undefined, '/query/type')
    expectProblem(await asB('GET', `/entities/${ids['North Field']}/tree`), 404)
  })
})

describe('history: PATCH and end', () => {
  let rel: Json
  const start = iso(2 * DAY)

  beforeAll(async () => {
    rel = await ok(await relate(ids['S-1']!, ids['W-3']!, 'monitors', { valid_from: start, properties: { channel: 1, note: 'temporary' } }), 201)
  })

  it('changes properties by merge patch and strength, with a relationship.updated event', async () => {
    const res = await ok(await asA('PATCH', `/relationships/${rel.id}`, { properties: { note: null, gain: 2 }, strength: 0.5 }))
    expect(res).toMatchObject({ properties: { channel: 1, gain: 2 }, strength: 0.5, from_entity_id: ids['S-1'], valid_from: start })
    const [event] = await eventsOf('relationship.updated')
    expect(event).toMatchObject({ entity_id: rel.id, data: { diff: { strength: { from: 1, to: 0.5 } } } })
    expectProblem(await asA('PATCH', `/relationships/${rel.id}`, { strength: 2 }), 422, undefined, '/body/strength')
  })

  it('ends it: still there as of before the end, gone as of now', async () => {
    const beforeEnd = new Date().toISOString()
    await new Promise((r) => setTimeout(r, 5))
    const ended = await ok(await asA('POST', `/relationships/${rel.id}/end`, {}))
    expect(ended.is_live).toBe(false)
    expect(Date.parse(ended.valid_to)).toBeGreaterThan(Date.parse(beforeEnd))
    const [event] = await eventsOf('relationship.ended')
    expect(event).toMatchObject({ entity_type: 'relationship', entity_id: rel.id, data: { valid_to: ended.valid_to, relationship_type: 'monitors' } })

    const then = await ok(await asA('GET', `/entities/${ids['W-3']}/neighbors?type=monitors&at=${encodeURIComponent(beforeEnd)}`))
    expect(then.data.map((n: Json) => n.entity.name)).toContain('S-1')
    const now = await ok(await asA('GET', `/entities/${ids['W-3']}/neighbors?type=monitors`))
    expect(now.data.map((n: Json) => n.entity.name)).not.toContain('S-1')
    // The row itself stays.
    expect((await ok(await asA('GET', `/relationships/${rel.id}`))).valid_to).toBe(ended.valid_to)
  })

  it('refuses to end it twice (409) or to change it once ended (409)', async () => {
    expectProblem(await asA('POST', `/relationships/${rel.id}/end`, {}), 409, /already ended/)
    expectProblem(await asA('PATCH', `/relationships/${rel.id}`, { strength: 0.1 }), 409, /ended/)
  })

  it('refuses an end before the start (422 /body/valid_to)', async () => {
    const r = await ok(await relate(ids['S-2']!, ids['W-1']!, 'monitors', { valid_from: iso(DAY) }), 201)
    expectProblem(await asA('POST', `/relationships/${r.id}/end`, { valid_to: iso(2 * DAY) }), 422, undefined, '/body/valid_to')
    const ended = await ok(await asA('POST', `/relationships/${r.id}/end`, { valid_to: iso(DAY / 2) }))
    expect(ended.is_live).toBe(false)
    // No body at all: ends now.
    const other = await ok(await relate(ids['S-3']!, ids['W-1']!, 'monitors', { valid_from: iso(DAY) }), 201)
    expect((await ok(await asA('POST', `/relationships/${other.id}/end`))).is_live).toBe(false)
  })

  it('ends an entity\'s relationships when the entity is deleted', async () => {
    const temp = await entity(asA, 'Sensor', 'Temporary')
    const r = await ok(await relate(temp, ids['W-1']!, 'monitors', { valid_from: iso(DAY) }), 201)
    expect((await asA('DELETE', `/entities/${temp}`)).status).toBeLessThan(300)
    expect((await ok(await asA('GET', `/relationships/${r.id}`))).is_live).toBe(false)
  })
})

describe('listing relationships', () => {
  it('filters by entity, direction, type, time and liveness, newest first', async () => {
    const all = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&limit=1000`))).data as Json[]
    expect(all.length).toBeGreaterThanOrEqual(5)
    expect(all.every((r) => r.from_entity_id === ids['W-2'] || r.to_entity_id === ids['W-2'])).toBe(true)
    const created = all.map((r) => r.created_at)
    expect([...created].sort().reverse()).toEqual(created)
    const out = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&direction=out`))).data as Json[]
    expect(out.every((r) => r.from_entity_id === ids['W-2'])).toBe(true)
    expect(out.map((r) => r.relationship_type).sort()).toEqual(['monitors', 'part_of'])
    const incoming = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&direction=in&type=monitors`))).data as Json[]
    expect(incoming.length).toBe(2)
    const tenDaysAgo = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&direction=in&type=monitors&at=${encodeURIComponent(iso(8 * DAY))}`))).data as Json[]
    expect(tenDaysAgo.map((r) => r.is_live)).toEqual([false])
    const live = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&direction=in&type=monitors&active=true`))).data as Json[]
    expect(live.map((r) => r.is_live)).toEqual([true])
    const ended = (await ok(await asA('GET', `/relationships?entity_id=${ids['W-2']}&direction=in&type=monitors&active=false`))).data as Json[]
    expect(ended.map((r) => r.is_live)).toEqual([false])
  })

  it('pages with a cursor', async () => {
    const all = (await ok(await asA('GET', '/relationships?limit=1000'))).data.map((r: Json) => r.id)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: Json = await ok(await asA('GET', `/relationships?limit=3${cursor ? `&cursor=${cursor}` : ''}`))
      seen.push(...page.data.map((r: Json) => r.id))
      cursor = page.next_cursor
    } while (cursor)
    expect(seen).toEqual(all)
    expectProblem(await asA('GET', '/relationships?cursor=nonsense'), 400)
  })

  it("shows another organisation none of A's relationships", async () => {
    // B sees its own (its user's membership mirror), none of A's.
    const list = (await ok(await asB('GET', '/relationships?limit=1000'))).data as Json[]
    expect(list.every((r) => r.organization_id === b.organization.id)).toBe(true)
    const ofA = new Set(((await ok(await asA('GET', '/relationships?limit=1000'))).data as Json[]).map((r) => r.id))
    expect(list.filter((r) => ofA.has(r.id))).toEqual([])
    expect((await ok(await asB('GET', `/relationships?entity_id=${ids['W-2']}`))).data).toEqual([])
  })
})

describe('neighbours', () => {
  it('returns the entities one step away with the relationship that reached them', async () => {
    const res = await ok(await asA('GET', `/entities/${ids['Alpha Platform']}/neighbors`))
    expect(res).toMatchObject({ entity_id: ids['Alpha Platform'], depth: 1, direction: 'both' })
    expect(res.data.map((n: Json) => n.entity.name)).toEqual(['North Field', 'W-1', 'W-2'])
    const field = res.data[0]
    expect(field).toMatchObject({ depth: 1, path: [ids['Alpha Platform'], ids['North Field']], entity: { id: ids['North Field'], entity_type: 'Field', is_active: true, status: 'active' }, relationship: { relationship_type: 'part_of', direction: 'out', strength: 1 } })
    expect(res.data[1].relationship.direction).toBe('in')
  })

  it('walks to a depth, with direction and type filters', async () => {
    const two = await ok(await asA('GET', `/entities/${ids['W-1']}/neighbors?depth=2&type=part_of`))
    expect(two.data.map((n: Json) => [n.entity.name, n.depth])).toEqual([
      ['Alpha Platform', 1],
      ['North Field', 2],
      ['W-2', 2],
    ])
    const up = await ok(await asA('GET', `/entities/${ids['W-1']}/neighbors?depth=5&type=part_of&direction=out`))
    expect(up.data.map((n: Json) => n.entity.name)).toEqual(['Alpha Platform', 'North Field'])
    const down = await ok(await asA('GET', `/entities/${ids['North Field']}/neighbors?depth=2&direction=in`))
    expect(down.data.map((n: Json) => n.entity.name)).toEqual(['Alpha Platform', 'Bravo Platform', 'W-1', 'W-2', 'W-3'])
    expect(down.data.every((n: Json) => n.relationship.direction === 'in')).toBe(true)
  })

  it('is safe on cycles: S-1 -> S-2 -> S-3 -> S-1 visits each entity once', async () => {
    const res = await ok(await asA('GET', `/entities/${ids['S-1']}/neighbors?depth=10&direction=both`))
    const names = res.data.map((n: Json) => n.entity.name)
    expect(new Set(names).size).toBe(names.length)
    expect(names).not.toContain('S-1')
    expect(names).toEqual(expect.arrayContaining(['S-2', 'S-3', 'W-1', 'North Field', 'Bravo Platform']))
    expect(res.data.every((n: Json) => n.path.length === n.depth + 1 && new Set(n.path).size === n.path.length)).toBe(true)
  })

  it('answers 404 for an unknown entity or another organisation\'s, 400 for a depth out of range', async () => {
    expectProblem(await asB('GET', `/entities/${ids['W-1']}/neighbors`), 404)
    expectProblem(await asA('GET', '/entities/0190a000-0000-7000-8000-00000000dead/neighbors'), 404)
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/neighbors?depth=11`), 400, undefined, '/query/depth')
    // A's entity is not reachable from B's graph reads.
    expect((await ok(await asB('GET', `/entities/${ids.beta}/neighbors?depth=10`))).data).toEqual([])
  })
})

describe('shortest path', () => {
  it('finds the shortest path, ignoring direction, with the relationships in order', async () => {
    const res = await ok(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['W-3']}&type=part_of`))
    expect(res.length).toBe(4)
    expect(res.entities.map((e: Json) => e.name)).toEqual(['W-1', 'Alpha Platform', 'North Field', 'Bravo Platform', 'W-3'])
    expect(res.relationships.map((r: Json) => r.direction)).toEqual(['out', 'out', 'in', 'in'])
    res.relationships.forEach((r: Json, i: number) => expect([r.from_entity_id, r.to_entity_id].sort()).toEqual([res.entities[i].id, res.entities[i + 1].id].sort()))
    const trivial = await ok(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['W-1']}`))
    expect(trivial).toMatchObject({ length: 0, relationships: [] })
  })

  it('follows direction=out only forwards, and answers 404 when there is no path', async () => {
    const up = await ok(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['North Field']}&direction=out&type=part_of`))
    expect(up.length).toBe(2)
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['W-3']}&direction=out&type=part_of`), 404, /no path from W-1 to W-3/)
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['W-3']}&type=part_of&max_depth=3`), 404)
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids.Lonely}&type=part_of`), 404)
    // Before Bravo Platform was built there was no path to W-3.
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids['W-3']}&type=part_of&at=${encodeURIComponent(iso(30 * DAY))}`), 404)
  })

  it('needs `to` (422), an entity of the organisation', async () => {
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path`), 422, undefined, '/query/to')
    expectProblem(await asA('GET', `/entities/${ids['W-1']}/path?to=${ids.beta}`), 422, undefined, '/query/to')
    expectProblem(await asB('GET', `/entities/${ids['W-1']}/path?to=${ids['W-3']}`), 404)
  })
})

describe('tenant isolation', () => {
  it("answers 404 to another organisation for A's relationship, on every route", async () => {
    const rel = (await asA('GET', '/relationships?limit=1')).body.data[0]
    expectProblem(await asB('GET', `/relationships/${rel.id}`), 404)
    expectProblem(await asB('PATCH', `/relationships/${rel.id}`, { strength: 0.2 }), 404)
    expectProblem(await asB('POST', `/relationships/${rel.id}/end`, {}), 404)
    expect((await asA('GET', `/relationships/${rel.id}`)).body.strength).toBe(rel.strength)
  })
})
