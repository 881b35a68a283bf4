// Well networks through the HTTP API with real authentication: put, read, list and delete a
// topology, its schema, the route to the export point and the wells upstream of a node; the
// bad documents a client can send; and two organisations that cannot see each other's wells.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { signUp, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let a: SignedUp
let b: SignedUp

async function api(headers: Record<string, string>, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: String(res.headers['content-type']), headers: res.headers }
}
const asA = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(a.headers, method, url, payload)
const asB = (method: Parameters<typeof api>[1], url: string, payload?: unknown) => api(b.headers, method, url, payload)

function expectProblem(res: { status: number; body: Json; type: string }, status: number, detail?: RegExp) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.type).toMatch(/^application\/problem\+json/)
  if (detail) expect(res.body.detail).toMatch(detail)
}
const pathsOf = (res: { body: Json }) => (res.body.errors as { path: string }[]).map((e) => e.path)

async function entity(as: typeof asA, name: string, type = 'Well') {
  const res = await as('POST', '/entities', { type, name })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body.id as string
}

/** Well-12 and Well-14 meet at J1, then a manifold, the separator and the export point. */
function topology(well: string, other: string, extra: { manifold?: string } = {}): Json {
  return {
    branches: [
      {
        id: 'B-12',
        name: 'Well-12 flowline',
        nodes: [
          { id: 'W12', kind: 'well', name: 'Well-12', entity_id: well },
          { id: 'J1', kind: 'joint' },
        ],
        edges: [{ id: 'FL-12', from: 'W12', to: 'J1', length: 1250, diameter: 0.1016 }],
      },
      {
        id: 'B-14',
        nodes: [{ id: 'W14', kind: 'well', name: 'Well-14', entity_id: other }],
        edges: [{ id: 'FL-14', from: 'W14', to: 'J1', length: 800 }],
      },
    ],
    trunks: [
      {
        id: 'T-1',
        name: 'Main line',
        nodes: [
          { id: 'M1', kind: 'manifold', ...(extra.manifold ? { entity_id: extra.manifold } : {}) },
          { id: 'SEP', kind: 'separator' },
          { id: 'EXP', kind: 'export', name: 'Export' },
        ],
        edges: [
          { id: 'TL-1', from: 'J1', to: 'M1', length: 3400, diameter: 0.2032 },
          { id: 'TL-2', from: 'M1', to: 'SEP', length: 100 },
          { id: 'TL-3', from: 'SEP', to: 'EXP', length: 150 },
        ],
      },
    ],
    paths: [{ id: 'P-12', name: 'Well-12 to export', nodes: ['W12', 'J1', 'M1', 'SEP', 'EXP'] }],
  }
}

let well12: string
let well14: string
let manifold: string

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  a = await signUp(t.app, { organization: 'Alpha Networks' })
  b = await signUp(t.app, { organization: 'Beta Networks' })
  for (const as of [asA, asB]) {
    for (const name of ['Well', 'Manifold']) {
      const res = await as('POST', '/object-types', { name })
      expect(res.status, JSON.stringify(res.body)).toBe(201)
    }
  }
  well12 = await entity(asA, 'Well-12')
  well14 = await entity(asA, 'Well-14')
  manifold = await entity(asA, 'M-1', 'Manifold')
})
afterAll(() => t.close())

describe('a well network', () => {
  it('is created by PUT (201, Location, network.created) and read back', async () => {
    const res = await asA('PUT', `/networks/${well12}`, topology(well12, well14, { manifold }))
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    expect(res.headers.location).toBe(`/api/v1/networks/${well12}`)
    expect(res.body).toMatchObject({ well_id: well12, organization_id: a.organization.id, paths: [{ id: 'P-12' }], branches: [{ id: 'B-12' }, { id: 'B-14' }], trunks: [{ id: 'T-1' }] })
    expect(res.body.branches[0].nodes[0]).toEqual({ id: 'W12', kind: 'well', name: 'Well-12', entity_id: well12 })
    expect(Date.now() - Date.parse(res.body.audit_at)).toBeLessThan(60_000)
    const got = await asA('GET', `/networks/${well12}`)
    expect(got.status).toBe(200)
    expect(got.body).toEqual(res.body)
    const [event] = (await asA('GET', '/events?type=network.created')).body.data
    expect(event).toMatchObject({ entity_type: 'network', entity_id: res.body.id, data: { well_id: well12, well: 'Well-12', nodes: 6, edges: 5, wells: 2, exports: 1 } })
  })

  it('is replaced by a second PUT (200, same id, later audit_at, network.updated)', async () => {
    const before = (await asA('GET', `/networks/${well12}`)).body
    const doc = topology(well12, well14)
    doc.paths = []
    const res = await asA('PUT', `/networks/${well12}`, doc)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.id).toBe(before.id)
    expect(res.body.paths).toEqual([])
    expect(res.body.trunks[0].nodes[0]).toEqual({ id: 'M1', kind: 'manifold' })
    expect(Date.parse(res.body.audit_at)).toBeGreaterThanOrEqual(Date.parse(before.audit_at))
    expect((await asA('GET', '/events?type=network.updated')).body.data).toHaveLength(1)
  })

  it('gives the route from the well to the export point, with its length', async () => {
    const res = await asA('GET', `/networks/${well12}/route`)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toMatchObject({ well_id: well12, from: 'W12', to: 'EXP', length: 1250 + 3400 + 100 + 150 })
    expect(res.body.nodes.map((n: Json) => n.id)).toEqual(['W12', 'J1', 'M1', 'SEP', 'EXP'])
    expect(res.body.nodes[0]).toEqual({ id: 'W12', kind: 'well', name: 'Well-12', entity_id: well12, segment_id: 'B-12' })
    expect(res.body.edges.map((e: Json) => [e.id, e.segment_id])).toEqual([
      ['FL-12', 'B-12'],
      ['TL-1', 'T-1'],
      ['TL-2', 'T-1'],
      ['TL-3', 'T-1'],
    ])
    const fromManifold = await asA('GET', `/networks/${well12}/route?from=M1`)
    expect(fromManifold.body).toMatchObject({ from: 'M1', to: 'EXP', length: 250 })
  })

  it('lists the wells upstream of a node (by default of the export point)', async () => {
    const res = await asA('GET', `/networks/${well12}/upstream?node=SEP`)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.node).toMatchObject({ id: 'SEP', kind: 'separator', segment_id: 'T-1' })
    expect(res.body.wells).toEqual([
      { node_id: 'W12', name: 'Well-12', entity_id: well12, segment_id: 'B-12', pipes: 3 },
      { node_id: 'W14', name: 'Well-14', entity_id: well14, segment_id: 'B-14', pipes: 3 },
    ])
    const byDefault = await asA('GET', `/networks/${well12}/upstream`)
    expect(byDefault.body.node.id).toBe('EXP')
    expect(byDefault.body.wells.map((w: Json) => w.entity_id)).toEqual([well12, well14])
    expect((await asA('GET', `/networks/${well12}/upstream?node=W14`)).body.wells.map((w: Json) => w.node_id)).toEqual(['W14'])
  })

  it('answers 422 naming the query for a node the network does not have', async () => {
    const route = await asA('GET', `/networks/${well12}/route?from=NOPE`)
    expectProblem(route, 422, /no node NOPE/)
    expect(pathsOf(route)).toEqual(['/query/from'])
    const upstream = await asA('GET', `/networks/${well12}/upstream?node=NOPE`)
    expectProblem(upstream, 422)
    expect(pathsOf(upstream)).toEqual(['/query/node'])
  })

  it('publishes its JSON Schema (2020-12)', async () => {
    const res = await asA('GET', '/networks/schema')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['branches', 'trunks'] })
    expect(res.body.properties.branches.items.properties.nodes.items.properties.kind.enum).toContain('export')
    expect((await asB('GET', '/networks/schema')).status).toBe(200)
  })

  it('is listed newest first, page by page', async () => {
    const well15 = await entity(asA, 'Well-15')
    expect((await asA('PUT', `/networks/${well15}`, topology(well15, well14))).status).toBe(201)
    const first = await asA('GET', '/networks?limit=1')
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect(first.body.data.map((n: Json) => n.well_id)).toEqual([well15])
    const second = await asA('GET', `/networks?limit=1&cursor=${first.body.next_cursor}`)
    expect(second.body.data.map((n: Json) => n.well_id)).toEqual([well12])
    expect(second.body.next_cursor).toBeNull()
    expectProblem(await asA('GET', '/networks?cursor=nonsense'), 400)
  })

  it('is deleted (204, network.deleted), then is gone', async () => {
    const well16 = await entity(asA, 'Well-16')
    const put = await asA('PUT', `/networks/${well16}`, topology(well16, well14))
    expect(put.status).toBe(201)
    const res = await asA('DELETE', `/networks/${well16}`)
    expect(res.status).toBe(204)
    expectProblem(await asA('GET', `/networks/${well16}`), 404)
    expectProblem(await asA('GET', `/networks/${well16}/route`), 404)
    expectProblem(await asA('DELETE', `/networks/${well16}`), 404)
    const [event] = (await asA('GET', '/events?type=network.deleted')).body.data
    expect(event).toMatchObject({ entity_type: 'network', entity_id: put.body.id, data: { well_id: well16 } })
  })
})

describe('a bad network document', () => {
  it('is refused with each schema misfit at its JSON path', async () => {
    const doc = topology(well12, well14)
    doc.branches[0].nodes[1].kind = 'junction'
    delete doc.trunks[0].edges[0].to
    doc.trunks[0].edges[1].length = -5
    const res = await asA('PUT', `/networks/${well12}`, doc)
    expectProblem(res, 422)
    expect(pathsOf(res)).toEqual(expect.arrayContaining(['/body/branches/0/nodes/1/kind', '/body/trunks/0/edges/0/to', '/body/trunks/0/edges/1/length']))
  })

  it('is refused when an edge leads to an undeclared node', async () => {
    const doc = topology(well12, well14)
    doc.trunks[0].edges[2].to = 'EXPORT'
    const res = await asA('PUT', `/networks/${well12}`, doc)
    expectProblem(res, 422, /not a valid topology/)
    expect(res.body.errors).toContainEqual({ path: '/body/trunks/0/edges/2/to', message: 'no node EXPORT is declared' })
  })

  it('is refused when the flow runs in a cycle', async () => {
    const doc = topology(well12, well14)
    doc.trunks[0].edges.push({ id: 'RECYCLE', from: 'SEP', to: 'J1' })
    const res = await asA('PUT', `/networks/${well12}`, doc)
    expectProblem(res, 422)
    expect(res.body.errors).toEqual([{ path: '/body/trunks/0/edges/3/to', message: 'closes a cycle: J1 -> M1 -> SEP -> J1; flow must run one way' }])
  })

  it('is refused without an export point, or without the well', async () => {
    const noExport = topology(well12, well14)
    noExport.trunks[0].nodes[2].kind = 'tank'
    const res = await asA('PUT', `/networks/${well12}`, noExport)
    expectProblem(res, 422)
    expect(pathsOf(res)).toContain('/body/trunks')
    const noWell = topology(well12, well14)
    delete noWell.branches[0].nodes[0].entity_id
    const missing = await asA('PUT', `/networks/${well12}`, noWell)
    expectProblem(missing, 422)
    expect(missing.body.errors).toContainEqual({ path: '/body/branches', message: `must declare the network's well as a node of kind well with entity_id ${well12}` })
  })

  it('is refused when a node links an entity of another organisation, an unknown one or a deleted one', async () => {
    const theirs = await entity(asB, 'Well-12')
    const doc = topology(well12, theirs)
    const res = await asA('PUT', `/networks/${well12}`, doc)
    expectProblem(res, 422, /links entities/)
    expect(res.body.errors).toEqual([{ path: '/body/branches/1/nodes/0/entity_id', message: `no entity ${theirs} exists in this organisation` }])
    expect(res.body.detail).not.toContain('Well-12')

    const gone = await entity(asA, 'Well-17')
    expect((await asA('DELETE', `/entities/${gone}`)).status).toBeLessThan(300) // soft delete
    const deleted = await asA('PUT', `/networks/${well12}`, topology(well12, gone))
    expectProblem(deleted, 422)
    expect(deleted.body.errors).toEqual([{ path: '/body/branches/1/nodes/0/entity_id', message: 'entity Well-17 is deleted' }])
    // Nothing was written by the refusals.
    expect((await asA('GET', `/networks/${well12}`)).body.branches[1].nodes[0].entity_id).toBe(well14)
  })

  it("is refused for a well of another organisation (404), an unknown one (404) or a deleted one (422)", async () => {
    const res = await asB('PUT', `/networks/${well12}`, topology(well12, well14))
    expectProblem(res, 404)
    expect(pathsOf(res)).toEqual(['/params/well_id'])
    expectProblem(await asA('PUT', '/networks/0190f5c2-7c1e-7a3b-9c4d-2e5f6a7b8c9d', topology(well12, well14)), 404)
    const gone = await entity(asA, 'Well-18')
    expect((await asA('DELETE', `/entities/${gone}`)).status).toBeLessThan(300) // soft delete
    const deleted = await asA('PUT', `/networks/${gone}`, topology(gone, well14))
    expectProblem(deleted, 422, /deleted/)
    expect(pathsOf(deleted)).toEqual(['/params/well_id'])
  })
})

describe('another organisation', () => {
  it("never sees the network: 404 on every route, nothing in its list", async () => {
    for (const url of [`/networks/${well12}`, `/networks/${well12}/route`, `/networks/${well12}/upstream`]) expectProblem(await asB('GET', url), 404)
    expectProblem(await asB('DELETE', `/networks/${well12}`), 404)
    const list = await asB('GET', '/networks')
    expect(list.body).toEqual({ data: [], next_cursor: null })
    expect((await asA('GET', `/networks/${well12}`)).status).toBe(200)
  })

  it('needs assets:write to put or delete', async () => {
    const key = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: a.headers, payload: { name: 'reader', scopes: ['assets:read'] } })
    const reader = { authorization: `Bearer ${key.json().key}` }
    expect((await api(reader, 'GET', `/networks/${well12}/route`)).status).toBe(200)
    const res = await api(reader, 'PUT', `/networks/${well12}`, topology(well12, well14))
    expectProblem(res, 403)
    expect(JSON.stringify(res.body)).toContain('assets:write')
    expectProblem(await api(reader, 'DELETE', `/networks/${well12}`), 403)
  })
})
