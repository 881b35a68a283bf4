// Log-in throttling and session expiry, end to end through the HTTP API with real
// authentication, on an app whose clock the test moves: nothing here waits in real time.
// Each test signs in from an address of its own, so the per-address throttle bucket one test
// fills never slows another down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, signUp, uniqueEmail } from '../../../test/identity.ts'

interface Answer {
  statusCode: number
  headers: Record<string, unknown>
  body: string
  json(): any
}

let now = new Date('2031-03-01T08:00:00.000Z')
const advance = (ms: number) => (now = new Date(now.getTime() + ms))
const SECOND = 1000
const MINUTE = 60 * SECOND

type TestApp = Awaited<ReturnType<typeof testApp>>

function client(t: TestApp, ip: string) {
  return {
    login: (email: string, password: string): Promise<Answer> => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: ip }),
    me: (token: string): Promise<Answer> => t.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) }),
  }
}

function expectThrottled(res: Answer, retryAfter: number) {
  expect(res.statusCode, res.body).toBe(429)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.headers['retry-after']).toBe(String(retryAfter))
  expect(res.json()).toMatchObject({ type: '/problems/rate-limited', status: 429, retry_after: retryAfter })
}

/**
 * Logs in with a wrong password until `failures` attempts have been answered 401, waiting out
 * (on the test clock) every delay the server asks for; returns the Retry-After values met.
 */
async function fail(login: (email: string, password: string) => Promise<Answer>, email: string, failures: number): Promise<number[]> {
  const waits: number[] = []
  for (let answered = 0; answered < failures; ) {
    const res = await login(email, 'not the password')
    if (res.statusCode === 429) {
      const wait = Number(res.headers['retry-after'])
      expect(wait).toBeGreaterThan(0)
      waits.push(wait)
      advance(wait * SECOND)
      continue
    }
    expect(res.statusCode, res.body).toBe(401)
    answered++
  }
  return waits
}

describe('log-in throttling', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp({}, { realAuth: true, clock: () => now })
  })
  afterAll(() => t.close())

  it('makes the attempt after 3 failures wait, even with the right password, and shows it in my history', async () => {
    const { login, me } = client(t, '192.0.2.1')
    const owner = await signUp(t.app)
    expect(await fail(login, owner.user.email, 3)).toEqual([])
    expectThrottled(await login(owner.user.email, owner.password), 1)
    advance(SECOND)
    const ok = await login(owner.user.email, owner.password)
    expect(ok.statusCode, ok.body).toBe(200)
    expect((await me(ok.json().token)).statusCode).toBe(200)

    const history = (await t.app.inject({ method: 'GET', url: '/api/v1/auth/login-history', headers: owner.headers })).json().data as { success: boolean; failure_reason: string | null }[]
    expect(history.map((h) => h.failure_reason).sort()).toEqual(['bad_password', 'bad_password', 'bad_password', 'throttled', null].sort())
  })

  it('doubles the delay with each further failure', async () => {
    const { login } = client(t, '192.0.2.2')
    const owner = await signUp(t.app)
    await fail(login, owner.user.email, 3)
    advance(SECOND)
    expect((await login(owner.user.email, 'not the password')).statusCode).toBe(401)
    expectThrottled(await login(owner.user.email, owner.password), 2)
    advance(SECOND)
    expectThrottled(await login(owner.user.email, owner.password), 1)
    advance(SECOND)
    expect((await login(owner.user.email, owner.password)).statusCode).toBe(200)
  })

  it('locks an account for 15 minutes after 10 failures; then the right password works and clears the count', async () => {
    const { login } = client(t, '192.0.2.3')
    const owner = await signUp(t.app)
    expect(await fail(login, owner.user.email, 10)).toEqual([1, 2, 4, 8, 16, 32, 60])
    expectThrottled(await login(owner.user.email, owner.password), 15 * 60)
    advance(14 * MINUTE)
    expectThrottled(await login(owner.user.email, owner.password), 60)
    advance(MINUTE)
    const ok = await login(owner.user.email, owner.password)
    expect(ok.statusCode, ok.body).toBe(200)
    // Cleared: three failures are free again (a count still at 10 would lock at the first).
    expect(await fail(login, owner.user.email, 3)).toEqual([])
    expectThrottled(await login(owner.user.email, owner.password), 1)
  })

  it('throttles and locks an unknown e-mail exactly like a real account', async () => {
    const { login } = client(t, '192.0.2.4')
    const nobody = uniqueEmail('nobody')
    expect(await fail(login, nobody, 10)).toEqual([1, 2, 4, 8, 16, 32, 60])
    expectThrottled(await login(nobody, 'anything at all'), 15 * 60)
    expectThrottled(await login(nobody.toUpperCase(), 'anything at all'), 15 * 60)
    advance(15 * MINUTE)
    const after = await login(nobody, 'anything at all')
    expect(after.statusCode, after.body).toBe(401)
  })

  it('counts attempts sent in parallel: 20 at once get 3 answers and 17 refusals', async () => {
    const { login } = client(t, '192.0.2.9')
    const owner = await signUp(t.app)
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(owner.user.email, 'not the password')))
    const statuses = answers.map((a) => a.statusCode).sort()
    expect(statuses.filter((s) => s === 401)).toHaveLength(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(17)
  })

  it('does not count a right password that still needs a second factor', async () => {
    // The account key is reserved before the check and given back: three such answers in a row
    // leave the fourth attempt free.
    const { login } = client(t, '192.0.2.10')
    const owner = await signUp(t.app)
    const { totpCode } = await import('./totp.ts')
    const enrol = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/totp/enroll', headers: owner.headers })).json() as { secret: string }
    const confirm = await t.app.inject({ method: 'POST', url: '/api/v1/auth/totp/confirm', headers: owner.headers, payload: { code: totpCode(enrol.secret, now.getTime()) } })
    expect(confirm.statusCode, confirm.body).toBe(200)
    for (let i = 0; i < 4; i++) expect((await login(owner.user.email, owner.password)).json().type).toBe('/problems/second-factor-required')
  })

  it('keeps a lock for its 15 minutes even when the failures began almost an hour earlier', async () => {
    const { login } = client(t, '192.0.2.5')
    const owner = await signUp(t.app)
    await fail(login, owner.user.email, 1)
    advance(57 * MINUTE)
    await fail(login, owner.user.email, 9) // locked about 59 minutes after the first failure
    advance(2 * MINUTE) // the hour of counting has passed; the lock has not
    expectThrottled(await login(owner.user.email, owner.password), 13 * 60)
    advance(13 * MINUTE)
    expect((await login(owner.user.email, owner.password)).statusCode).toBe(200)
  })
})

describe('session expiry', () => {
  let t: TestApp
  beforeAll(async () => {
    // The authenticator caches a session for AUTH_CACHE_TTL_MS of real time, but it checks the
    // idle and absolute limits against the (test) clock on every request, cached or not, so the
    // default cache is kept: no change here is made behind the authenticator's back.
    t = await testApp({ SESSION_IDLE_MINUTES: '5', SESSION_MAX_AGE_HOURS: '1' }, { realAuth: true, clock: () => now })
  })
  afterAll(() => t.close())

  it('ends a session left idle longer than SESSION_IDLE_MINUTES; use keeps it alive', async () => {
    const { me } = client(t, '192.0.2.10')
    const owner = await signUp(t.app)
    advance(4 * MINUTE)
    expect((await me(owner.token)).statusCode).toBe(200)
    advance(4 * MINUTE) // 8 minutes after sign-up, 4 after last use
    expect((await me(owner.token)).statusCode).toBe(200)
    advance(5 * MINUTE)
    const res = await me(owner.token)
    expect(res.statusCode, res.body).toBe(401)
    expect(res.json()).toMatchObject({ type: '/problems/unauthorized', detail: expect.stringContaining('idle') })
  })

  it('ends a session SESSION_MAX_AGE_HOURS after sign-in, however active', async () => {
    const { login, me } = client(t, '192.0.2.11')
    const owner = await signUp(t.app)
    const session = await login(owner.user.email, owner.password)
    expect(new Date(session.json().expires_at).getTime()).toBe(now.getTime() + 60 * MINUTE)
    for (let used = 0; used < 14; used++) {
      advance(4 * MINUTE)
      expect((await me(session.json().token)).statusCode).toBe(200)
    }
    advance(4 * MINUTE) // 60 minutes
    const res = await me(session.json().token)
    expect(res.statusCode, res.body).toBe(401)
    expect(res.json()).toMatchObject({ type: '/problems/unauthorized', detail: expect.stringContaining('expired') })
    const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer((await login(owner.user.email, owner.password)).json().token) })
    const ended = sessions.json().data.find((s: { current: boolean; expires_at: string }) => !s.current && s.expires_at === session.json().expires_at)
    expect(ended).toMatchObject({ is_active: false })
  })
})
