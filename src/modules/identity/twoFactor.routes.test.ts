// Two-factor authentication through the HTTP API, with real authentication and a clock the test
// moves, so each TOTP time step is chosen on purpose: enrol, confirm, log in with a code (once
// per step: replays are refused) or a backup code (once each), regenerate backup codes, disable.
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { logIn, signUp, type SignedUp } from '../../../test/identity.ts'
import { OTPAuth, TOTP_PERIOD, totpCode } from './totp.ts'

const STEP_MS = TOTP_PERIOD * 1000
let now = new Date(Math.floor(Date.now() / STEP_MS) * STEP_MS + 1000)
const clock = () => now
/** Moves the clock a minute on: past any wait the sign-in throttle imposes after failures in a row. */
const coolDown = () => {
  now = new Date(now.getTime() + 61_000)
}
/** Moves the clock to one second into the next TOTP step. */
const nextStep = () => {
  now = new Date((Math.floor(now.getTime() / STEP_MS) + 1) * STEP_MS + 1000)
}

let t: Awaited<ReturnType<typeof testApp>>
let owner: SignedUp & { password: string }
let secret = ''
let backupCodes: string[] = []
const spentLoginCodes: string[] = []

const codeNow = () => totpCode(secret, now.getTime())
/** A well-formed code that matches none of the steps the server accepts now. */
function wrongCode(): string {
  const accepted = [-1, 0, 1].map((d) => totpCode(secret, now.getTime() + d * STEP_MS))
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0')
    if (!accepted.includes(code)) return code
  }
}

function expectProblem(res: LightMyRequestResponse, status: number, type: string, path?: string) {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json() as { type: string; status: number; detail: string; errors?: { path: string; message: string }[] }
  expect(body.type).toBe(type)
  expect(body.status).toBe(status)
  expect(body.detail.length).toBeGreaterThan(0)
  if (path) expect(body.errors?.map((e) => e.path)).toContain(path)
  return body
}

const post = (url: string, payload?: Record<string, unknown>) => t.app.inject({ method: 'POST', url: `/api/v1/auth/totp${url}`, headers: owner.headers, ...(payload ? { payload } : {}) })
const status = async () => (await t.app.inject({ method: 'GET', url: '/api/v1/auth/totp', headers: owner.headers })).json() as { enabled: boolean; backup_codes_left: number }
const login = (extra: Record<string, string> = {}) => logIn(t.app, owner.user.email, owner.password, extra)

beforeAll(async () => {
  t = await testApp({}, { realAuth: true, clock })
  owner = await signUp(t.app)
})
afterAll(() => t?.close())

describe('two-factor authentication (TOTP)', () => {
  it('is off for a new account', async () => {
    expect(await status()).toEqual({ enabled: false, backup_codes_left: 0 })
    expect((await login()).statusCode).toBe(200)
  })

  it('enrol answers a secret, an otpauth:// URI for Stratum and the e-mail, and an SVG QR code', async () => {
    const res = await post('/enroll')
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json() as { secret: string; otpauth_uri: string; qr_svg: string }
    secret = body.secret
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    const uri = new URL(body.otpauth_uri)
    expect(uri.protocol).toBe('otpauth:')
    expect(uri.host).toBe('totp')
    expect(decodeURIComponent(uri.pathname)).toBe(`/Stratum:${owner.user.email}`)
    expect(uri.searchParams.get('issuer')).toBe('Stratum')
    expect(uri.searchParams.get('secret')).toBe(secret)
    const parsed = OTPAuth.URI.parse(body.otpauth_uri) as OTPAuth.TOTP
    expect(parsed).toBeInstanceOf(OTPAuth.TOTP)
    expect([parsed.issuer, parsed.label, parsed.algorithm, parsed.digits, parsed.period]).toEqual(['Stratum', owner.user.email, 'SHA1', 6, 30])
    expect(body.qr_svg.startsWith('<svg') || body.qr_svg.startsWith('<?xml')).toBe(true)
    expect(body.qr_svg).toContain('</svg>')
    // Enrolment alone does not turn the second factor on.
    expect(await status()).toEqual({ enabled: false, backup_codes_left: 0 })
    expect((await login()).statusCode).toBe(200)
  })

  it('confirm refuses a wrong code (422 naming /body/code) and a malformed one', async () => {
    expectProblem(await post('/confirm', { code: wrongCode() }), 422, '/problems/validation', '/body/code')
    expectProblem(await post('/confirm', { code: '12345' }), 422, '/problems/validation', '/body/code')
    expectProblem(await post('/confirm', {}), 422, '/problems/validation', '/body/code')
    expect((await status()).enabled).toBe(false)
  })

  it('confirm with the current code turns it on and answers 10 unique backup codes', async () => {
    const code = codeNow()
    const res = await post('/confirm', { code })
    expect(res.statusCode, res.body).toBe(200)
    backupCodes = (res.json() as { backup_codes: string[] }).backup_codes
    expect(backupCodes).toHaveLength(10)
    expect(new Set(backupCodes).size).toBe(10)
    for (const c of backupCodes) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/)
    spentLoginCodes.push(code)
    expect(await status()).toEqual({ enabled: true, backup_codes_left: 10 })
    const me = (await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: owner.headers })).json() as { user: { totp_enabled: boolean } }
    expect(me.user.totp_enabled).toBe(true)
  })

  it('once on, enrol and confirm again answer 409', async () => {
    expectProblem(await post('/enroll'), 409, '/problems/conflict')
    expectProblem(await post('/confirm', { code: codeNow() }), 409, '/problems/conflict')
  })

  it('log-in without a code answers 401 second-factor-required', async () => {
    expectProblem(await login(), 401, '/problems/second-factor-required')
  })

  it('the code spent on confirm cannot log in during its step', async () => {
    expectProblem(await login({ totp_code: spentLoginCodes[0]! }), 401, '/problems/unauthorized')
  })

  it('a current code logs in once, even when sent twice at the same moment; again later it is refused (no replay)', async () => {
    nextStep()
    const code = codeNow()
    expect(code).not.toBe(spentLoginCodes[0])
    const both = await Promise.all([login({ totp_code: code }), login({ totp_code: code })])
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 401])
    const ok = both.find((r) => r.statusCode === 200)!
    expect((ok.json() as { token: string }).token).toMatch(/^sess_/)
    expectProblem(both.find((r) => r.statusCode === 401)!, 401, '/problems/unauthorized')
    expectProblem(await login({ totp_code: code }), 401, '/problems/unauthorized')
    // The previous step's code is still inside the drift window, but older than the last one used.
    expectProblem(await login({ totp_code: spentLoginCodes[0]! }), 401, '/problems/unauthorized')
    spentLoginCodes.push(code)
  })

  it('a wrong code, or a wrong password with none, is refused without telling which', async () => {
    coolDown()
    expectProblem(await login({ totp_code: wrongCode() }), 401, '/problems/unauthorized')
    coolDown()
    const wrong = expectProblem(await logIn(t.app, owner.user.email, 'not the password at all'), 401, '/problems/unauthorized')
    expect(wrong.detail).not.toMatch(/factor|totp/i)
  })

  it('a backup code logs in once, however it is typed; used again it is refused', async () => {
    coolDown()
    const [first, second] = backupCodes as [string, string]
    const ok = await login({ backup_code: first })
    expect(ok.statusCode, ok.body).toBe(200)
    expectProblem(await login({ backup_code: first }), 401, '/problems/unauthorized')
    const typed = ` ${second.replace(/-/g, '').toUpperCase()} `
    expect((await login({ backup_code: typed })).statusCode).toBe(200)
    expectProblem(await login({ backup_code: second }), 401, '/problems/unauthorized')
    expect(await status()).toEqual({ enabled: true, backup_codes_left: 8 })
  })

  it('login history records the methods and failures', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/login-history', headers: owner.headers })
    const rows = (res.json() as { data: { success: boolean; login_method: string; failure_reason: string | null }[] }).data
    expect(rows.filter((r) => r.success).map((r) => r.login_method)).toEqual(expect.arrayContaining(['password+totp', 'password+backup_code']))
    expect(rows.map((r) => r.failure_reason)).toEqual(expect.arrayContaining(['totp_required', 'totp_replayed', 'bad_totp', 'bad_backup_code']))
  })

  it('regenerating backup codes needs a code from a step not used yet; the old codes stop working', async () => {
    coolDown()
    nextStep()
    const spent = codeNow()
    expect((await login({ totp_code: spent })).statusCode).toBe(200)
    expectProblem(await post('/backup-codes', { code: spent }), 422, '/problems/validation', '/body/code')
    expectProblem(await post('/backup-codes', { code: wrongCode() }), 422, '/problems/validation', '/body/code')
    nextStep()
    const res = await post('/backup-codes', { code: codeNow() })
    expect(res.statusCode, res.body).toBe(200)
    const fresh = (res.json() as { backup_codes: string[] }).backup_codes
    expect(fresh).toHaveLength(10)
    expect(new Set(fresh).size).toBe(10)
    expect(fresh.filter((c) => backupCodes.includes(c))).toEqual([])
    expect(await status()).toEqual({ enabled: true, backup_codes_left: 10 })
    expectProblem(await login({ backup_code: backupCodes[2]! }), 401, '/problems/unauthorized')
    expect((await login({ backup_code: fresh[0]! })).statusCode).toBe(200)
    expect(await status()).toEqual({ enabled: true, backup_codes_left: 9 })
    backupCodes = fresh
  })

  it('disable refuses a wrong code (422 naming /body/code); with a current code it answers 204 and log-in needs no code', async () => {
    nextStep()
    expectProblem(await post('/disable', { code: wrongCode() }), 422, '/problems/validation', '/body/code')
    expect((await status()).enabled).toBe(true)
    const res = await post('/disable', { code: codeNow() })
    expect(res.statusCode, res.body).toBe(204)
    expect(res.body).toBe('')
    expect(await status()).toEqual({ enabled: false, backup_codes_left: 0 })
    const plain = await login()
    expect(plain.statusCode, plain.body).toBe(200)
    expectProblem(await post('/disable', { code: codeNow() }), 409, '/problems/conflict')
    expectProblem(await post('/backup-codes', { code: codeNow() }), 409, '/problems/conflict')
  })

  it('the audit trail shows enrolment, enabling, regeneration and disabling, by the user', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/events?type_prefix=auth', headers: owner.headers })
    expect(res.statusCode, res.body).toBe(200)
    const events = (res.json() as { data: { type: string; entity_type: string; entity_id: string; actor: string | null; organization_id: string }[] }).data
    expect(events.every((e) => e.type.startsWith('auth'))).toBe(true)
    const types = events.map((e) => e.type)
    for (const type of ['auth.totp_enrolment_started', 'auth.totp_enabled', 'auth.backup_codes_regenerated', 'auth.totp_disabled']) {
      expect(types, type).toContain(type)
      const event = events.find((e) => e.type === type)!
      expect(event).toMatchObject({ entity_type: 'user', entity_id: owner.user.id, actor: `user:${owner.user.id}`, organization_id: owner.organization.id })
    }
    // Newest first: disabled comes before enabled.
    expect(types.indexOf('auth.totp_disabled')).toBeLessThan(types.indexOf('auth.totp_enabled'))
    const only = (await t.app.inject({ method: 'GET', url: '/api/v1/events?type=auth.totp_enabled', headers: owner.headers })).json() as { data: unknown[] }
    expect(only.data).toHaveLength(1)
  })

  it('guessing codes to manage two-factor is throttled like sign-in (429 after 3 wrong codes)', async () => {
    coolDown()
    const enrol = (await post('/enroll')).json() as { secret: string }
    secret = enrol.secret
    for (let i = 0; i < 3; i++) expectProblem(await post('/confirm', { code: wrongCode() }), 422, '/problems/validation', '/body/code')
    const refused = await post('/confirm', { code: codeNow() })
    expectProblem(refused, 429, '/problems/rate-limited')
    coolDown()
    nextStep()
    const ok = await post('/confirm', { code: codeNow() })
    expect(ok.statusCode, ok.body).toBe(200)
  })
})
