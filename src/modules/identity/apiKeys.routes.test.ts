// API keys through the HTTP API with real authentication and a clock the test moves: the key is
// shown once, its checksum is checked before any lookup, its scopes never exceed its creator's,
// rate limits, expiry, revocation (in this process and in another one on the same database),
// usage accounting, device keys and the audit trail.
import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { sql } from 'drizzle-orm'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, logIn, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'
import { createApp, openRuntime } from '../../core/runtime.ts'
import type { App } from '../../core/http/app.ts'
import { newApiKey } from './tokens.ts'

const MINUTE = 60_000
let now = new Date(Math.floor(Date.now() / MINUTE) * MINUTE + 1000)
const clock = () => now
const advance = (ms: number) => {
  now = new Date(now.getTime() + ms)
}
/** One second into the next clock minute: a fresh rate-limit window. */
const nextMinute = () => {
  now = new Date((Math.floor(now.getTime() / MINUTE) + 1) * MINUTE + 1000)
}

let t: Awaited<ReturnType<typeof testApp>>
let owner: SignedUp & { password: string }
const shownKeys: string[] = []

interface KeyView {
  id: string
  key?: string
  prefix: string
  scopes: string[]
  status: string
  device_id: string | null
  last_used_at: string | null
  revoked_at: string | null
  rate_limit_per_minute: number | null
}

function expectProblem(res: LightMyRequestResponse, status: number, type: string, path?: string) {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json() as { type: string; detail: string; errors?: { path: string }[]; [k: string]: unknown }
  expect(body.type).toBe(type)
  expect(body.detail.length).toBeGreaterThan(0)
  if (path) expect(body.errors?.map((e) => e.path)).toContain(path)
  return body
}

const get = (url: string, headers: Record<string, string>, app: App = t.app) => app.inject({ method: 'GET', url, headers })
const postKey = (headers: Record<string, string>, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers, payload })
async function newKey(body: Record<string, unknown>, headers = owner.headers) {
  const k = await createKey(t.app, headers, { name: 'test key', ...body })
  shownKeys.push(k.key)
  return k as typeof k & KeyView
}

/** A member with `role`, invited by the owner and signed in through the invitation. */
async function member(role: 'viewer' | 'editor' | 'admin') {
  const inv = await t.app.inject({ method: 'POST', url: '/api/v1/invitations', headers: owner.headers, payload: { email: uniqueEmail(role), role } })
  expect(inv.statusCode, inv.body).toBe(201)
  const accepted = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invitation', payload: { token: inv.json().token, password: 'correct horse battery staple' } })
  expect(accepted.statusCode, accepted.body).toBe(200)
  const body = accepted.json() as { token: string; user: { id: string } }
  return { headers: bearer(body.token), userId: body.user.id }
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock })
  owner = await signUp(t.app)
})
afterAll(() => t?.close())

describe('creating and reading keys', () => {
  it('answers the key once; list and read show only its prefix', async () => {
    const res = await postKey(owner.headers, { name: 'ci', scopes: ['jobs:read', 'files:read'] })
    expect(res.statusCode, res.body).toBe(201)
    const created = res.json() as KeyView & { key: string }
    shownKeys.push(created.key)
    expect(created.key).toMatch(/^stratum_[0-9A-Za-z]{38}$/)
    expect(created).toMatchObject({ prefix: created.key.slice(0, 16), scopes: ['jobs:read', 'files:read'], status: 'active', device_id: null, last_used_at: null, revoked_at: null })
    const list = await get('/api/v1/api-keys', owner.headers)
    const one = await get(`/api/v1/api-keys/${created.id}`, owner.headers)
    for (const r of [list, one]) {
      expect(r.statusCode, r.body).toBe(200)
      expect(r.body).not.toContain(created.key.slice(16))
      expect(r.body).toContain(created.prefix)
    }
    expect(one.json()).not.toHaveProperty('key')
    expect((list.json() as { data: KeyView[] }).data.find((k) => k.id === created.id)).not.toHaveProperty('key')
  })

  it('the key authenticates: /me shows an api_key credential with its scopes (and self)', async () => {
    const k = await newKey({ scopes: ['jobs:read', 'files:read'] })
    const me = await get('/api/v1/me', bearer(k.key))
    expect(me.statusCode, me.body).toBe(200)
    expect(me.json()).toMatchObject({ organization_id: owner.organization.id, user: { id: owner.user.id }, credential: { kind: 'api_key', id: k.id, device_id: null } })
    expect([...me.json().credential.scopes].sort()).toEqual(['files:read', 'jobs:read', 'self'])
    expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
  })

  it('a key whose checksum does not match is refused (401) without touching the database', async () => {
    const { key } = await newKey({ scopes: ['jobs:read'] })
    const last = key.at(-1)!
    const broken = key.slice(0, -1) + (last === 'a' ? 'b' : 'a')
    const select = vi.spyOn(t.rt.database.db, 'select')
    try {
      for (const bad of [broken, 'stratum_short', `${key}x`]) {
        expectProblem(await get('/api/v1/me', bearer(bad)), 401, '/problems/unauthorized')
      }
      expect(select).not.toHaveBeenCalled()
      // The spy does see lookups: a well-formed unknown key costs exactly one.
      expectProblem(await get('/api/v1/me', bearer(newApiKey().key)), 401, '/problems/unauthorized')
      expect(select).toHaveBeenCalledTimes(1)
    } finally {
      select.mockRestore()
    }
  })
})

describe('scopes never widen', () => {
  it("a viewer cannot give a key jobs:write (403) but can give it what a viewer holds", async () => {
    const viewer = await member('viewer')
    const denied = expectProblem(await postKey(viewer.headers, { name: 'v', scopes: ['jobs:read', 'jobs:write'] }), 403, '/problems/forbidden')
    expect(denied.denied_scopes).toEqual(['jobs:write'])
    expect((await postKey(viewer.headers, { name: 'v', scopes: ['jobs:read'] })).statusCode).toBe(201)
    // A non-admin sees and revokes only their own keys.
    const owners = await newKey({ scopes: ['jobs:read'] })
    const listed = (await get('/api/v1/api-keys', viewer.headers)).json() as { data: KeyView[] }
    expect(listed.data).toHaveLength(1)
    expect(listed.data.map((k) => k.id)).not.toContain(owners.id)
    expectProblem(await get(`/api/v1/api-keys/${owners.id}`, viewer.headers), 404, '/problems/not-found')
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${owners.id}`, headers: viewer.headers }), 404, '/problems/not-found')
    expect((await get('/api/v1/jobs', bearer(owners.key))).statusCode).toBe(200)
  })

  it('nobody, not even the owner, can give a key account, owner or device', async () => {
    for (const scope of ['account', 'owner', 'device']) {
      const body = expectProblem(await postKey(owner.headers, { name: 'x', scopes: ['jobs:read', scope] }), 403, '/problems/forbidden')
      expect(body.denied_scopes).toEqual([scope])
    }
  })

  it('an unknown scope is 422 naming its index', async () => {
    expectProblem(await postKey(owner.headers, { name: 'x', scopes: ['nope:read'] }), 422, '/problems/validation', '/body/scopes/0')
    expectProblem(await postKey(owner.headers, { name: 'x', scopes: ['jobs:read', 'jobs:admin'] }), 422, '/problems/validation', '/body/scopes/1')
  })

  it('a key cannot carry api_keys:write, so no key mints keys that outlive its revocation', async () => {
    const body = expectProblem(await postKey(owner.headers, { name: 'minter', scopes: ['api_keys:write', 'jobs:read'] }), 403, '/problems/forbidden')
    expect(body.denied_scopes).toEqual(['api_keys:write'])
    const reader = await newKey({ scopes: ['api_keys:read', 'jobs:read'] })
    expect((await get('/api/v1/api-keys', bearer(reader.key))).statusCode).toBe(200)
    expectProblem(await postKey(bearer(reader.key), { name: 'child', scopes: ['jobs:read'] }), 403, '/problems/forbidden')
  })

  it("a key is narrowed at once when its creator's role is lowered", async () => {
    const editor = await member('editor')
    const k = await newKey({ scopes: ['jobs:read', 'jobs:write'] }, editor.headers)
    const cancel = () => t.app.inject({ method: 'POST', url: `/api/v1/jobs/${randomUUID()}/cancel`, headers: bearer(k.key) })
    expect((await cancel()).statusCode).toBe(404) // allowed through, no such job
    const demoted = await t.app.inject({ method: 'PATCH', url: `/api/v1/members/${editor.userId}`, headers: owner.headers, payload: { role: 'viewer' } })
    expect(demoted.statusCode, demoted.body).toBe(200)
    expectProblem(await cancel(), 403, '/problems/forbidden')
    expect((await get('/api/v1/me', bearer(k.key))).json().credential.scopes).toEqual(['self', 'jobs:read'])
  })

  it('a jobs:read key gets 403 on routes needing jobs:write or files:read, naming the scope', async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    const cancel = await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${randomUUID()}/cancel`, headers: bearer(k.key) })
    expect(expectProblem(cancel, 403, '/problems/forbidden').required_scope).toBe('jobs:write')
    expect(expectProblem(await get('/api/v1/files', bearer(k.key)), 403, '/problems/forbidden').required_scope).toBe('files:read')
    expect(expectProblem(await get('/api/v1/api-keys', bearer(k.key)), 403, '/problems/forbidden').required_scope).toBe('api_keys:read')
    expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
  })
})

describe('rate limits', () => {
  it('answer RateLimit-* headers, refuse the 4th request of a minute with 429 + Retry-After, and reset the next minute', async () => {
    nextMinute()
    const k = await newKey({ scopes: ['jobs:read'], rate_limit_per_minute: 3 })
    expect(k.rate_limit_per_minute).toBe(3)
    for (const remaining of ['2', '1', '0']) {
      const res = await get('/api/v1/jobs', bearer(k.key))
      expect(res.statusCode, res.body).toBe(200)
      expect([res.headers['ratelimit-limit'], res.headers['ratelimit-remaining'], res.headers['ratelimit-reset']]).toEqual(['3', remaining, '59'])
    }
    advance(30_000)
    const refused = await get('/api/v1/jobs', bearer(k.key))
    const body = expectProblem(refused, 429, '/problems/rate-limited')
    expect(refused.headers['retry-after']).toBe('29')
    expect(body.retry_after).toBe(29)
    expect([refused.headers['ratelimit-limit'], refused.headers['ratelimit-remaining'], refused.headers['ratelimit-reset']]).toEqual(['3', '0', '29'])
    // Another key of the same user has its own budget.
    const other = await newKey({ scopes: ['jobs:read'], rate_limit_per_minute: 3 })
    expect((await get('/api/v1/jobs', bearer(other.key))).statusCode).toBe(200)
    nextMinute()
    const again = await get('/api/v1/jobs', bearer(k.key))
    expect(again.statusCode, again.body).toBe(200)
    expect(again.headers['ratelimit-remaining']).toBe('2')
  })

  it('a key without a limit gets the default (600 a minute)', async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    expect((await get('/api/v1/jobs', bearer(k.key))).headers['ratelimit-limit']).toBe('600')
  })
})

describe('expiry and revocation', () => {
  it('expires_at in the past is refused at creation (422 naming /body/expires_at)', async () => {
    for (const at of [new Date(now.getTime() - 1000), now]) {
      expectProblem(await postKey(owner.headers, { name: 'old', scopes: ['jobs:read'], expires_at: at.toISOString() }), 422, '/problems/validation', '/body/expires_at')
    }
  })

  it('a key stops working when its expires_at passes', async () => {
    const k = await newKey({ scopes: ['jobs:read'], expires_at: new Date(now.getTime() + 10 * MINUTE).toISOString() })
    expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
    advance(10 * MINUTE)
    expect(expectProblem(await get('/api/v1/jobs', bearer(k.key)), 401, '/problems/unauthorized').detail).toMatch(/expired/)
    expect((await get(`/api/v1/api-keys/${k.id}`, owner.headers)).json().status).toBe('expired')
  })

  it('revoke answers 200 revoked, and the key (cached a moment ago) is refused at once', async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: owner.headers })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ id: k.id, status: 'revoked', revoked_at: now.toISOString() })
    expect(expectProblem(await get('/api/v1/jobs', bearer(k.key)), 401, '/problems/unauthorized').detail).toMatch(/revoked/)
    const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: owner.headers })
    expect(again.statusCode).toBe(200)
    expect(again.json().status).toBe('revoked')
  })
})

describe('another process on the same database', () => {
  // createApp(t.rt) would share t.rt's identity module, and so its key cache. A second runtime
  // over the same database builds its own modules and caches, like a second server process.
  async function secondProcess(authCacheTtlMs: number) {
    const rt = await openRuntime({ ...t.rt.config, authCacheTtlMs }, t.rt.log, { database: t.rt.database, migrate: false, clock })
    const app = await createApp(rt)
    await app.ready()
    return app
  }

  it('keeps its cached copy of a revoked key for up to AUTH_CACHE_TTL_MS (so its cache is its own)', async () => {
    const other = await secondProcess(300_000)
    try {
      const k = await newKey({ scopes: ['jobs:read'] })
      expect((await get('/api/v1/jobs', bearer(k.key), other)).statusCode).toBe(200)
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: owner.headers })).statusCode).toBe(200)
      expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(401)
      expect((await get('/api/v1/jobs', bearer(k.key), other)).statusCode).toBe(200)
    } finally {
      await other.close()
    }
  })

  it('with AUTH_CACHE_TTL_MS=0 sees a revocation made elsewhere, or written straight to the database, at once', async () => {
    const other = await secondProcess(0)
    try {
      const a = await newKey({ scopes: ['jobs:read'] })
      expect((await get('/api/v1/jobs', bearer(a.key), other)).statusCode).toBe(200)
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${a.id}`, headers: owner.headers })).statusCode).toBe(200)
      expectProblem(await get('/api/v1/jobs', bearer(a.key), other), 401, '/problems/unauthorized')

      const b = await newKey({ scopes: ['jobs:read'] })
      expect((await get('/api/v1/jobs', bearer(b.key), other)).statusCode).toBe(200)
      await t.rt.database.db.execute(sql`update api_keys set is_active = false, revoked_at = now() where id = ${b.id}`)
      expectProblem(await get('/api/v1/jobs', bearer(b.key), other), 401, '/problems/unauthorized')

      // Sessions too: a log-out in the first process ends the session in the second at once.
      const session = (await logIn(t.app, owner.user.email, owner.password)).json().token as string
      expect((await get('/api/v1/me', bearer(session), other)).statusCode).toBe(200)
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(session) })).statusCode).toBe(204)
      expectProblem(await get('/api/v1/me', bearer(session), other), 401, '/problems/unauthorized')
    } finally {
      await other.close()
    }
  })
})

describe('usage', () => {
  it('counts the requests made with the key, by endpoint pattern and status class, and sets last_used_at', async () => {
    nextMinute()
    const k = await newKey({ scopes: ['jobs:read'] })
    for (let i = 0; i < 3; i++) expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
    expect((await get(`/api/v1/jobs/${randomUUID()}`, bearer(k.key))).statusCode).toBe(404)
    advance(5000)
    const lastAt = now.toISOString()
    expect((await get('/api/v1/files', bearer(k.key))).statusCode).toBe(403)
    advance(5000)
    await new Promise((resolve) => setImmediate(resolve)) // let the last answer's onResponse hook run
    // Read twice with the owner's session: those reads are not the key's usage.
    for (let i = 0; i < 2; i++) {
      const res = await get(`/api/v1/api-keys/${k.id}/usage`, owner.headers)
      expect(res.statusCode, res.body).toBe(200)
      const usage = res.json()
      expect(usage).toMatchObject({ api_key_id: k.id, requests: 5, errors: 2, last_used_at: lastAt, last_request_at: lastAt })
      expect(usage.by_status).toEqual([
        { status_class: '2xx', requests: 3 },
        { status_class: '4xx', requests: 2 },
      ])
      const endpoints = (usage.by_endpoint as { method: string; endpoint: string; requests: number; errors: number }[]).map(({ method, endpoint, requests, errors }) => ({ method, endpoint, requests, errors }))
      expect(endpoints).toEqual([
        { method: 'GET', endpoint: '/api/v1/jobs', requests: 3, errors: 0 },
        { method: 'GET', endpoint: '/api/v1/files', requests: 1, errors: 1 },
        { method: 'GET', endpoint: '/api/v1/jobs/:id', requests: 1, errors: 1 },
      ])
    }
    expect((await get(`/api/v1/api-keys/${k.id}`, owner.headers)).json().last_used_at).toBe(lastAt)
  })

  it('rolls requests up per minute with timings, and counts those refused for the rate limit', async () => {
    nextMinute()
    const k = await newKey({ scopes: ['jobs:read'], rate_limit_per_minute: 2 })
    for (const expected of [200, 200, 429, 429]) expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(expected)
    nextMinute()
    expect((await get('/api/v1/jobs', bearer(k.key))).statusCode).toBe(200)
    await new Promise((resolve) => setImmediate(resolve))
    const usage = (await get(`/api/v1/api-keys/${k.id}/usage`, owner.headers)).json()
    expect(usage).toMatchObject({ requests: 5, errors: 2, by_status: [{ status_class: '2xx', requests: 3 }, { status_class: '4xx', requests: 2 }] })
    expect(usage.p95_response_time_ms).toBeGreaterThan(0)
    expect(usage.max_response_time_ms).toBeGreaterThanOrEqual(0)
    expect(usage.avg_response_time_ms).toBeGreaterThanOrEqual(0)
    // Two minutes with traffic, each one row per (method, endpoint, status).
    const rows = await t.rt.database.db.execute(sql`select minute, status_code, request_count from api_usage where api_key_id = ${k.id} order by minute, status_code`)
    expect((rows as unknown as { rows: { status_code: number; request_count: number }[] }).rows.map((r) => [r.status_code, r.request_count])).toEqual([
      [200, 2],
      [429, 2],
      [200, 1],
    ])
    // Only the minutes since `since` count.
    const later = (await get(`/api/v1/api-keys/${k.id}/usage?since=${encodeURIComponent(now.toISOString())}`, owner.headers)).json()
    expect(later.requests).toBe(1)
  })

  it("refuses a key sent with another organisation's X-Organization (403)", async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    const other = await signUp(t.app)
    expect((await get('/api/v1/jobs', { ...bearer(k.key), 'x-organization': other.organization.slug })).statusCode).toBe(403)
    expect((await get('/api/v1/jobs', { ...bearer(k.key), 'x-organization': owner.organization.slug })).statusCode).toBe(200)
    expect((await get('/api/v1/jobs', { ...bearer(k.key), 'x-organization': owner.organization.id })).statusCode).toBe(200)
  })

  it('a key nobody used has empty usage', async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    const usage = (await get(`/api/v1/api-keys/${k.id}/usage`, owner.headers)).json()
    expect(usage).toMatchObject({ requests: 0, errors: 0, last_used_at: null, first_request_at: null, by_status: [], by_endpoint: [] })
  })
})

describe('device keys', () => {
  /** A device entity (of the device family) in the owner's organisation. */
  async function device(type = 'device.esp32', name = `ESP32 ${randomUUID().slice(0, 8)}`): Promise<string> {
    const types = await t.app.inject({ method: 'GET', url: `/api/v1/object-types/${type}`, headers: owner.headers })
    if (types.statusCode === 404) expect((await t.app.inject({ method: 'POST', url: '/api/v1/object-types', headers: owner.headers, payload: { name: type } })).statusCode).toBe(201)
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/entities', headers: owner.headers, payload: { type, name } })
    expect(res.statusCode, res.body).toBe(201)
    return res.json().id
  }

  it('carry only self and device, and get 403 on ordinary routes', async () => {
    const deviceId = await device()
    const k = await newKey({ scopes: [], device_id: deviceId })
    expect(k).toMatchObject({ scopes: ['self', 'device'], device_id: deviceId })
    const me = (await get('/api/v1/me', bearer(k.key))).json()
    expect(me.credential).toEqual({ kind: 'api_key', id: k.id, scopes: ['self', 'device'], device_id: deviceId })
    expect(expectProblem(await get('/api/v1/jobs', bearer(k.key)), 403, '/problems/forbidden').required_scope).toBe('jobs:read')
  })

  it('stop working when their device is deleted, and stay revoked when it is restored', async () => {
    const deviceId = await device()
    const k = await newKey({ scopes: [], device_id: deviceId })
    const other = await newKey({ scopes: [], device_id: await device() })
    expect((await get('/api/v1/me', bearer(k.key))).statusCode).toBe(200)
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/entities/${deviceId}`, headers: owner.headers })).statusCode).toBe(200)
    expect((await get('/api/v1/me', bearer(k.key))).statusCode).toBe(401)
    expect((await get('/api/v1/me', bearer(other.key))).statusCode).toBe(200)
    const revoked = (await get(`/api/v1/events?type=api_key.revoked&entity_id=${k.id}`, owner.headers)).json().data
    expect(revoked).toEqual([expect.objectContaining({ data: expect.objectContaining({ reason: 'device deleted', device_id: deviceId }) })])
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/entities/${deviceId}/restore`, headers: owner.headers })).statusCode).toBe(200)
    expect((await get('/api/v1/me', bearer(k.key))).statusCode).toBe(401)
  })

  it('name a live device entity of the organisation (422 otherwise, and no key is made)', async () => {
    const well = await device('Well')
    const deleted = await device('device', 'retired sensor')
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/entities/${deleted}`, headers: owner.headers })).statusCode).toBe(200)
    const before = (await get('/api/v1/api-keys', owner.headers)).json().data.length
    for (const [id, why] of [[randomUUID(), /not an entity of this organisation/], [well, /not a device/], [deleted, /deleted device/]] as const) {
      const problem = expectProblem(await postKey(owner.headers, { name: 'd', scopes: [], device_id: id }), 422, '/problems/validation', '/body/device_id')
      expect(problem.detail).toMatch(why)
    }
    expect((await get('/api/v1/api-keys', owner.headers)).json().data.length).toBe(before)
  })

  it('cannot be given other scopes (422), and need assets:write to create (403 for a viewer)', async () => {
    expectProblem(await postKey(owner.headers, { name: 'd', scopes: ['jobs:read'], device_id: randomUUID() }), 422, '/problems/validation', '/body/scopes')
    const viewer = await member('viewer')
    expectProblem(await postKey(viewer.headers, { name: 'd', scopes: [], device_id: randomUUID() }), 403, '/problems/forbidden')
  })
})

describe('audit trail', () => {
  it('records api_key.created and api_key.revoked, never with the key itself', async () => {
    const k = await newKey({ scopes: ['jobs:read'] })
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${k.id}`, headers: owner.headers })).statusCode).toBe(200)
    const res = await get('/api/v1/events?type_prefix=api_key.&limit=200', owner.headers)
    expect(res.statusCode, res.body).toBe(200)
    const events = (res.json() as { data: { type: string; entity_type: string; entity_id: string; actor: string; data: Record<string, unknown> }[] }).data
    const mine = events.filter((e) => e.entity_id === k.id)
    expect(mine.map((e) => e.type)).toEqual(['api_key.revoked', 'api_key.created'])
    expect(mine[1]).toMatchObject({ entity_type: 'api_key', actor: `user:${owner.user.id}`, data: { prefix: k.prefix, scopes: ['jobs:read'] } })
    for (const key of shownKeys) expect(res.body).not.toContain(key.slice(16))
    expect(events.filter((e) => e.type === 'api_key.created').length).toBeGreaterThanOrEqual(shownKeys.length)
  })
})
