// Accounts end to end, through the HTTP API with real authentication, as a user sees them:
// sign-up, log-in and its history, sessions, password change and reset, and the audit trail.
// Throttling and session expiry, which need a clock of their own, are in accounts.throttle.test.ts.
import { verify } from '@node-rs/argon2'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { systemContext } from '../../core/context.ts'
import { firstRow } from '../../core/db/database.ts'
import { testApp } from '../../../test/app.ts'
import { bearer, logIn, signUp, uniqueEmail } from '../../../test/identity.ts'
import { sessions } from './identity.schema.ts'
import { createIdentity, type Identity } from './index.ts'

// argon2's verify, counted (and still run) so a test can see that an unknown e-mail costs the
// same password verification as a wrong password, without measuring any time.
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const real = await importOriginal<typeof import('@node-rs/argon2')>()
  return { ...real, verify: vi.fn(real.verify) }
})

interface Answer {
  statusCode: number
  headers: Record<string, unknown>
  body: string
  json(): any
}

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
const PASSWORD = 'correct horse battery staple'

let t: Awaited<ReturnType<typeof testApp>>
let identity: Identity
let skew = 0 // how far the app's clock runs ahead of real time (expiring reset tokens)

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock: () => new Date(Date.now() + skew) })
  // The accounts service as the CLI reaches it (`createPasswordReset` has no HTTP route).
  const { config, database, events, files, log, clock, localWorker } = t.rt
  identity = createIdentity({ config, database, events, files, log, clock, localWorker })
})
afterAll(async () => {
  await identity.authenticator.close?.()
  await t.close()
})

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url: `/api/v1${url}`, payload: payload as object, headers })
const get = (url: string, token: string) => t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: bearer(token) })
const login = (email: string, password: string, options: { ip?: string; ua?: string } = {}) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: options.ip ?? '127.0.0.1', headers: options.ua ? { 'user-agent': options.ua } : {} })

/** Asserts a problem+json answer; returns its body. `path` must be one of its errors[].path. */
function expectProblem(res: Answer, status: number, type: string, path?: string) {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json()
  expect(body.type).toBe(type)
  expect(typeof body.detail).toBe('string')
  if (path) expect(body.errors.map((e: { path: string }) => e.path)).toContain(path)
  return body
}

const count = async (table: string) => (await firstRow<{ n: number }>(t.rt.database.db, sql`select count(*)::int as n from ${sql.identifier(table)}`))!.n

describe('sign-up', () => {
  it('creates an organisation, its owner and a session', async () => {
    const email = uniqueEmail('owner')
    const res = await post('/auth/signup', { organization_name: 'Acme Labs', email, password: PASSWORD })
    expect(res.statusCode, res.body).toBe(201)
    const body = res.json()
    expect(body.token).toMatch(/^sess_/)
    expect(new Date(body.expires_at).getTime()).toBeGreaterThan(Date.now())
    expect(body.user).toMatchObject({ email, is_active: true, totp_enabled: false })
    expect(body.organization).toMatchObject({ name: 'Acme Labs', slug: 'acme-labs' })

    const me = await get('/me', body.token)
    expect(me.statusCode, me.body).toBe(200)
    expect(me.json().user.id).toBe(body.user.id)
    expect(me.json().organizations).toEqual([expect.objectContaining({ id: body.organization.id, role: 'owner' })])
    expect(me.json().credential.kind).toBe('session')
  })

  it('refuses an e-mail already taken, in any letter case, and writes nothing', async () => {
    const taken = await signUp(t.app)
    const tables = ['organizations', 'users', 'memberships', 'sessions', 'events']
    const before = await Promise.all(tables.map(count))
    for (const email of [taken.user.email, taken.user.email.toUpperCase()]) {
      const res = await post('/auth/signup', { organization_name: 'Second', email, password: PASSWORD })
      expectProblem(res, 409, '/problems/conflict')
    }
    expect(await Promise.all(tables.map(count))).toEqual(before)
  })

  it('is 403 when open sign-up is off', async () => {
    const closed = await testApp({ STRATUM_SIGNUP_OPEN: 'false' }, { realAuth: true })
    try {
      const res = await closed.app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Nope', email: uniqueEmail(), password: PASSWORD } })
      expectProblem(res, 403, '/problems/forbidden')
    } finally {
      await closed.close()
    }
  })
})

describe('input validation', () => {
  const signup = (fields: Record<string, unknown>) => post('/auth/signup', { organization_name: 'Valid', email: uniqueEmail(), password: PASSWORD, ...fields })

  it('names /body/email when it is missing or not an e-mail', async () => {
    const missing = await post('/auth/signup', { organization_name: 'Valid', password: PASSWORD })
    expectProblem(missing, 422, '/problems/validation', '/body/email')
    expectProblem(await signup({ email: 'not-an-email' }), 422, '/problems/validation', '/body/email')
  })

  it('names /body/password when it is shorter than 8 characters', async () => {
    const body = expectProblem(await signup({ password: 'seven77' }), 422, '/problems/validation', '/body/password')
    expect(body.detail).toContain('8')
  })

  it('refuses passwords longer than 256 characters on sign-up and log-in, and says so', async () => {
    const long = 'x'.repeat(257)
    const onSignup = expectProblem(await signup({ password: long }), 422, '/problems/validation', '/body/password')
    expect(JSON.stringify(onSignup.errors)).toContain('256')
    const onLogin = expectProblem(await login(uniqueEmail(), long), 422, '/problems/validation', '/body/password')
    expect(JSON.stringify(onLogin.errors)).toContain('256')
    expect((await signup({ password: 'x'.repeat(256) })).statusCode).toBe(201) // the limit itself is allowed
  })
})

describe('log-in', () => {
  it('answers a session token for the right password, in any letter case of the e-mail', async () => {
    const owner = await signUp(t.app)
    for (const email of [owner.user.email, owner.user.email.toUpperCase()]) {
      const res = await login(email, owner.password)
      expect(res.statusCode, res.body).toBe(200)
      expect(Object.keys(res.json()).sort()).toEqual(['expires_at', 'token'])
      const me = await get('/me', res.json().token)
      expect(me.statusCode).toBe(200)
      expect(me.json().user.id).toBe(owner.user.id)
    }
  })

  it('answers a wrong password and an unknown e-mail alike, each after one password verification', async () => {
    const owner = await signUp(t.app)
    const verifications = vi.mocked(verify)
    verifications.mockClear()
    const wrong = await login(owner.user.email, 'not the password', { ip: '198.51.100.1' })
    expect(verifications).toHaveBeenCalledTimes(1)
    verifications.mockClear()
    const unknown = await login(uniqueEmail('nobody'), 'not the password', { ip: '198.51.100.1' })
    expect(verifications).toHaveBeenCalledTimes(1)
    const a = expectProblem(wrong, 401, '/problems/unauthorized')
    const b = expectProblem(unknown, 401, '/problems/unauthorized')
    expect([b.status, b.type, b.title, b.detail]).toEqual([a.status, a.type, a.title, a.detail])
  })

  it('records each attempt in my login history', async () => {
    const owner = await signUp(t.app)
    expect((await login(owner.user.email, 'not the password', { ip: '198.51.100.2' })).statusCode).toBe(401)
    const ok = await login(owner.user.email, owner.password, { ip: '198.51.100.3', ua: CHROME })
    expect(ok.statusCode).toBe(200)
    const res = await get('/auth/login-history', ok.json().token)
    expect(res.statusCode, res.body).toBe(200)
    const history = res.json().data
    expect(history).toHaveLength(2)
    expect(history).toContainEqual(expect.objectContaining({ success: false, failure_reason: 'bad_password', ip_address: '198.51.100.2', login_method: 'password' }))
    expect(history).toContainEqual(expect.objectContaining({ success: true, failure_reason: null, ip_address: '198.51.100.3', login_method: 'password', user_agent: CHROME }))
  })
})

describe('sessions', () => {
  it('lists my sessions, marks the one in use and describes its browser', async () => {
    const owner = await signUp(t.app)
    const chrome = (await login(owner.user.email, owner.password, { ua: CHROME })).json().token as string
    const res = await get('/auth/sessions', chrome)
    expect(res.statusCode, res.body).toBe(200)
    const mine = res.json().data
    expect(mine).toHaveLength(2)
    const current = mine.filter((s: { current: boolean }) => s.current)
    expect(current).toHaveLength(1)
    expect(current[0]).toMatchObject({ device_type: 'desktop', browser: 'Chrome 124', user_agent: CHROME, is_active: true, logged_out_at: null })
    // The same list, seen from the sign-up session, marks that one instead.
    const fromSignup = (await get('/auth/sessions', owner.token)).json().data
    expect(fromSignup.find((s: { current: boolean }) => s.current).id).not.toBe(current[0].id)
  })

  it('ends another of my sessions at once', async () => {
    const owner = await signUp(t.app)
    const other = (await login(owner.user.email, owner.password)).json().token as string
    expect((await get('/me', other)).statusCode).toBe(200) // cached by the authenticator now
    const otherId = (await get('/me', other)).json().credential.id
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${otherId}`, headers: owner.headers })
    expect(del.statusCode, del.body).toBe(204)
    expectProblem(await get('/me', other), 401, '/problems/unauthorized')
    const listed = (await get('/auth/sessions', owner.token)).json().data.find((s: { id: string }) => s.id === otherId)
    expect(listed).toMatchObject({ is_active: false, logged_out_at: expect.any(String) })
    expect((await get('/me', owner.token)).statusCode).toBe(200)
  })

  it("answers 404 for a session that is not mine", async () => {
    const a = await signUp(t.app)
    const b = await signUp(t.app)
    const bSession = (await get('/me', b.token)).json().credential.id
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${bSession}`, headers: a.headers })
    expectProblem(res, 404, '/problems/not-found')
    expect((await get('/me', b.token)).statusCode).toBe(200)
  })

  it('logs out the session in use', async () => {
    const owner = await signUp(t.app)
    expect((await get('/me', owner.token)).statusCode).toBe(200)
    const res = await post('/auth/logout', undefined, owner.headers)
    expect(res.statusCode, res.body).toBe(204)
    expectProblem(await get('/me', owner.token), 401, '/problems/unauthorized')
  })

  it('refuses at once a session another process ended, when AUTH_CACHE_TTL_MS is 0', async () => {
    // Another process ends a session in the database, behind this authenticator, which would
    // keep answering from its cache for AUTH_CACHE_TTL_MS (5 s of real time by default); 0 turns
    // the cache off, so the change must show on the very next request.
    const uncached = await testApp({ AUTH_CACHE_TTL_MS: '0' }, { realAuth: true })
    try {
      const owner = await signUp(uncached.app)
      const me = () => uncached.app.inject({ method: 'GET', url: '/api/v1/me', headers: owner.headers })
      expect((await me()).statusCode).toBe(200)
      await uncached.rt.database.db.update(sessions).set({ isActive: false }).where(eq(sessions.userId, owner.user.id))
      expectProblem(await me(), 401, '/problems/unauthorized')
    } finally {
      await uncached.close()
    }
  })

  it('answers 401 problems to malformed, unknown and ended tokens', async () => {
    const unknown = `sess_${'A'.repeat(43)}`
    for (const authorization of ['Bearer sess_abc', 'Bearer nonsense', 'Basic xyz', `Bearer ${unknown}`]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization } })
      expectProblem(res, 401, '/problems/unauthorized')
    }
  })
})

describe('password change', () => {
  it('refuses a wrong current password or a short new one', async () => {
    const owner = await signUp(t.app)
    const wrong = await post('/auth/password', { current_password: 'not the password', new_password: 'a brand new password' }, owner.headers)
    expectProblem(wrong, 422, '/problems/validation', '/body/current_password')
    const short = await post('/auth/password', { current_password: owner.password, new_password: 'short' }, owner.headers)
    expectProblem(short, 422, '/problems/validation', '/body/new_password')
    expect((await login(owner.user.email, owner.password)).statusCode).toBe(200) // unchanged
  })

  it('sets the new password and ends my other sessions but not this one', async () => {
    const owner = await signUp(t.app)
    const other = (await login(owner.user.email, owner.password)).json().token as string
    expect((await get('/me', other)).statusCode).toBe(200)
    const res = await post('/auth/password', { current_password: owner.password, new_password: 'a brand new password' }, owner.headers)
    expect(res.statusCode, res.body).toBe(204)
    expectProblem(await get('/me', other), 401, '/problems/unauthorized')
    expect((await get('/me', owner.token)).statusCode).toBe(200)
    expectProblem(await login(owner.user.email, owner.password), 401, '/problems/unauthorized')
    expect((await login(owner.user.email, 'a brand new password')).statusCode).toBe(200)
  })
})

describe('password reset', () => {
  const reset = (token: string, new_password: string) => post('/auth/password-reset', { token, new_password })

  it('sets a new password once per token and ends every session', async () => {
    const owner = await signUp(t.app)
    const other = (await login(owner.user.email, owner.password)).json().token as string
    const { token } = await identity.accounts.createPasswordReset(systemContext(), owner.user.email.toUpperCase())
    expect((await reset(token, 'reset to this one')).statusCode).toBe(204)
    for (const session of [owner.token, other]) expectProblem(await get('/me', session), 401, '/problems/unauthorized')
    expectProblem(await login(owner.user.email, owner.password), 401, '/problems/unauthorized')
    expect((await login(owner.user.email, 'reset to this one')).statusCode).toBe(200)
    expectProblem(await reset(token, 'and again to this'), 422, '/problems/validation', '/body/token')
    expect((await login(owner.user.email, 'reset to this one')).statusCode).toBe(200)
  })

  it('refuses a token older than an hour', async () => {
    const owner = await signUp(t.app)
    const { token, expires_at } = await identity.accounts.createPasswordReset(systemContext(), owner.user.email)
    expect(new Date(expires_at).getTime() - Date.now()).toBeLessThanOrEqual(3_600_000)
    skew = 3_600_000 + 1000
    try {
      expectProblem(await reset(token, 'too late for this'), 422, '/problems/validation', '/body/token')
    } finally {
      skew = 0
    }
    expect((await login(owner.user.email, owner.password)).statusCode).toBe(200)
  })

  it('refuses a short new password and names it', async () => {
    const owner = await signUp(t.app)
    const { token } = await identity.accounts.createPasswordReset(systemContext(), owner.user.email)
    expectProblem(await reset(token, 'short'), 422, '/problems/validation', '/body/new_password')
    expect((await reset(token, 'long enough now')).statusCode).toBe(204) // the token was not spent
  })
})

describe('audit trail', () => {
  const events = async (token: string, query: string) => {
    const res = await get(`/events?limit=100&${query}`, token)
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data as { type: string; actor: string | null; entity_id: string; data: Record<string, unknown> }[]
  }

  it('records a sign-up as the organisation, the user, the membership and the sign-up', async () => {
    const owner = await signUp(t.app)
    const all = await events(owner.token, 'sort=timestamp')
    // The assets module mirrors the organisation and the user as entities in the same transaction.
    expect(all.filter((e) => e.type === 'entity.created').map((e) => e.data.entity_type).sort()).toEqual(['organization', 'user'])
    const found = all.filter((e) => !/^(entity|object_type|relationship)\./.test(e.type))
    expect(found.map((e) => e.type)).toEqual(['organization.created', 'user.created', 'membership.added', 'auth.signed_up'])
    expect(found.every((e) => e.actor === `user:${owner.user.id}`)).toBe(true)
    expect(found[0]!.entity_id).toBe(owner.organization.id)
  })

  it('records log-ins, failures, log-outs and password changes in the owner organisation', async () => {
    const owner = await signUp(t.app)
    expect((await login(owner.user.email, 'not the password', { ip: '198.51.100.9' })).statusCode).toBe(401)
    const second = (await login(owner.user.email, owner.password)).json().token as string
    expect((await post('/auth/logout', undefined, bearer(second))).statusCode).toBe(204)
    expect((await post('/auth/password', { current_password: owner.password, new_password: 'a brand new password' }, owner.headers)).statusCode).toBe(204)

    const found = await events(owner.token, 'type_prefix=auth.&sort=timestamp')
    expect(found.map((e) => e.type)).toEqual(['auth.signed_up', 'auth.login_failed', 'auth.login_succeeded', 'auth.logged_out', 'auth.password_changed'])
    expect(found[1]!.data).toMatchObject({ reason: 'bad_password', ip: '198.51.100.9', method: 'password' })
    expect(found[4]!.data).toMatchObject({ via: 'change' })
    // No other organisation sees them.
    const stranger = await signUp(t.app)
    expect((await events(stranger.token, 'type_prefix=auth.')).map((e) => e.type)).toEqual(['auth.signed_up'])
  })

  it('records a reset request and the reset', async () => {
    const owner = await signUp(t.app)
    const { token } = await identity.accounts.createPasswordReset(systemContext(), owner.user.email)
    expect((await post('/auth/password-reset', { token, new_password: 'reset to this one' })).statusCode).toBe(204)
    const fresh = (await logIn(t.app, owner.user.email, 'reset to this one')).json().token as string
    const found = await events(fresh, 'type_prefix=auth.password&sort=timestamp')
    expect(found.map((e) => [e.type, e.data.via])).toEqual([
      ['auth.password_reset_requested', undefined],
      ['auth.password_changed', 'reset'],
    ])
    expect(found[0]!.actor).toBe('system:stratum')
  })
})
