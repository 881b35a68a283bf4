// Attacks and odd input a security review found, each through the HTTP API: the authentication
// hook decided on the matched route, keys confined to their organisation, invitations and keys
// that do not outlive their maker's authority, owners that cannot demote each other at once,
// reset tokens that die with a password change, and bad input that is a 4xx, never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, logIn, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'
import { addressKey } from './throttle.ts'
import { createIdentity } from './index.ts'
import { systemContext } from '../../core/context.ts'

let t: Awaited<ReturnType<typeof testApp>>
let owner: SignedUp & { password: string }

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  owner = await signUp(t.app)
})
afterAll(() => t.close())

const inject = (method: string, url: string, headers: Record<string, string> = {}, payload?: unknown) =>
  t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) })

async function invite(by: Record<string, string>, role: string, email = uniqueEmail(role)) {
  const res = await inject('POST', '/api/v1/invitations', by, { email, role })
  expect(res.statusCode, res.body).toBe(201)
  return res.json().token as string
}

async function join(token: string) {
  const res = await inject('POST', '/api/v1/auth/accept-invitation', {}, { token, password: 'correct horse battery staple' })
  expect(res.statusCode, res.body).toBe(200)
  const body = res.json() as { token: string; user: { id: string; email: string } }
  return { headers: bearer(body.token), userId: body.user.id, email: body.user.email }
}

describe('the authentication hook', () => {
  it('runs on the matched route, however the path is spelled', async () => {
    expect((await inject('GET', '/%61pi/v1/me')).statusCode).toBe(401)
    expect((await inject('GET', '/%61pi/v1/auth/sessions')).statusCode).toBe(401)
    const mine = await inject('GET', '/%61pi/v1/auth/sessions', owner.headers)
    expect(mine.statusCode, mine.body).toBe(200)
  })

  it('ignores a stale token sent to a public route', async () => {
    const res = await logIn(t.app, owner.user.email, owner.password, {})
    expect(res.statusCode).toBe(200)
    const stale = await inject('POST', '/api/v1/auth/login', bearer('sess_' + 'x'.repeat(43)), { email: owner.user.email, password: owner.password })
    expect(stale.statusCode, stale.body).toBe(200)
  })
})

describe("keys stay inside their organisation and their maker's authority", () => {
  it("GET /me with a key shows only the key's organisation", async () => {
    const u = await signUp(t.app)
    const other = await signUp(t.app)
    const token = await invite(other.headers, 'editor', u.user.email)
    const accepted = await inject('POST', '/api/v1/auth/accept-invitation', {}, { token, password: u.password })
    expect(accepted.statusCode, accepted.body).toBe(200)
    const key = await createKey(t.app, { ...u.headers, 'x-organization': u.organization.slug }, { name: 'mine', scopes: ['jobs:read'] })
    const me = (await inject('GET', '/api/v1/me', bearer(key.key))).json() as { organizations: { id: string }[] }
    expect(me.organizations.map((o) => o.id)).toEqual([u.organization.id])
  })

  it("a removed member's keys stay revoked when they are invited back", async () => {
    const m = await join(await invite(owner.headers, 'editor'))
    const key = await createKey(t.app, m.headers, { name: 'editor key', scopes: ['jobs:read'] })
    expect((await inject('GET', '/api/v1/jobs', bearer(key.key))).statusCode).toBe(200)
    expect((await inject('DELETE', `/api/v1/members/${m.userId}`, owner.headers)).statusCode).toBe(204)
    const back = await inject('POST', '/api/v1/invitations', owner.headers, { email: m.email, role: 'editor' })
    const rejoined = await inject('POST', '/api/v1/auth/accept-invitation', {}, { token: back.json().token, password: 'correct horse battery staple' })
    expect(rejoined.statusCode, rejoined.body).toBe(200)
    expect((await inject('GET', '/api/v1/jobs', bearer(key.key))).statusCode).toBe(401)
    expect((await inject('GET', `/api/v1/api-keys/${key.id}`, owner.headers)).json().status).toBe('revoked')
  })

  it("an invitation stops working when its sender may no longer invite", async () => {
    const admin = await join(await invite(owner.headers, 'admin'))
    const stashed = await invite(admin.headers, 'admin')
    expect((await inject('DELETE', `/api/v1/members/${admin.userId}`, owner.headers)).statusCode).toBe(204)
    const res = await inject('POST', '/api/v1/auth/accept-invitation', {}, { token: stashed, password: 'correct horse battery staple' })
    expect(res.statusCode, res.body).toBe(422)
    expect(res.json().errors[0].path).toBe('/body/token')
  })
})

describe('owners', () => {
  it('two owners demoting each other at the same moment leave one owner', async () => {
    const org = await signUp(t.app)
    const second = await join(await invite(org.headers, 'owner'))
    const [a, b] = await Promise.all([
      inject('PATCH', `/api/v1/members/${second.userId}`, org.headers, { role: 'viewer' }),
      inject('PATCH', `/api/v1/members/${org.user.id}`, second.headers, { role: 'viewer' }),
    ])
    // The loser is refused either way: 409 when it would leave no owner, or 403 when the winner's
    // demotion of it committed first and it is no longer an owner (which one depends on timing).
    const [won, lost] = a.statusCode === 200 ? [a, b] : [b, a]
    expect(won.statusCode, won.body).toBe(200)
    expect([403, 409], lost.body).toContain(lost.statusCode)
    const members = (await inject('GET', '/api/v1/members', a.statusCode === 200 ? org.headers : second.headers)).json().data as { role: string }[]
    expect(members.filter((m) => m.role === 'owner')).toHaveLength(1)
  })
})

describe('password resets', () => {
  it('a reset token made before a password change no longer works after it', async () => {
    const u = await signUp(t.app)
    const identity = createIdentity(t.rt)
    const reset = await identity.accounts.createPasswordReset(systemContext(), u.user.email)
    const changed = await inject('POST', '/api/v1/auth/password', u.headers, { current_password: u.password, new_password: 'another long passphrase' })
    expect(changed.statusCode, changed.body).toBe(204)
    const res = await inject('POST', '/api/v1/auth/password-reset', {}, { token: reset.token, new_password: 'a third passphrase' })
    expect(res.statusCode).toBe(422)
    await identity.authenticator.close?.()
  })
})

describe('bad input is a 4xx, never a 500', () => {
  const cursor = (k: unknown) => Buffer.from(JSON.stringify({ v: 1, k })).toString('base64url')

  it('cursors with the right shape but impossible values, or null', async () => {
    for (const c of [cursor(['x', 'y']), cursor(['2026-01-01T00:00:00.000000Z', 'not-a-uuid']), Buffer.from('null').toString('base64url')]) {
      for (const path of ['/api/v1/auth/sessions', '/api/v1/auth/login-history', '/api/v1/api-keys', '/api/v1/invitations', '/api/v1/jobs', '/api/v1/events']) {
        const res = await inject('GET', `${path}?cursor=${c}`, owner.headers)
        expect(res.statusCode, `${path} ${res.body}`).toBe(400)
      }
    }
  })

  it('NUL characters in JSON strings', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/signup', headers: { 'content-type': 'application/json' }, payload: '{"organization_name":"a\\u0000b","email":"nul@example.com","password":"long enough 1"}' })
    expect(res.statusCode, res.body).toBe(400)
    const escaped = await t.app.inject({ method: 'PATCH', url: '/api/v1/organization', headers: { ...owner.headers, 'content-type': 'application/json' }, payload: '{"name":"back\\\\u0000slash"}' })
    expect(escaped.statusCode, escaped.body).toBe(200) // a backslash followed by "u0000" is text, not NUL
  })

  it('timestamps a Date or PostgreSQL cannot hold (leap second, year 0000)', async () => {
    for (const expires_at of ['2030-12-31T23:59:60Z', '0000-01-01T00:00:00Z']) {
      const res = await inject('POST', '/api/v1/api-keys', owner.headers, { name: 'k', scopes: ['jobs:read'], expires_at })
      expect(res.statusCode, res.body).toBe(422)
    }
  })

  it('an organisation name that grows under Unicode normalisation', async () => {
    const res = await inject('POST', '/api/v1/auth/signup', {}, { organization_name: '\ufb03'.repeat(50), email: uniqueEmail('lig'), password: 'long enough 1' })
    expect(res.statusCode, res.body).toBe(201)
  })

  it('sign-ups racing for one organisation name all succeed with different slugs', async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => inject('POST', '/api/v1/auth/signup', {}, { organization_name: 'Race Co', email: uniqueEmail('race'), password: 'long enough 1' })))
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201, 201])
    expect(new Set(answers.map((a) => a.json().organization.slug)).size).toBe(4)
  })

  it('sign-ins racing for one account all succeed (one clears the throttle row while others lock it)', async () => {
    const owner = await signUp(t.app)
    // Three at once: attempts in flight count as failures until they succeed, and three are free.
    for (let round = 0; round < 8; round++) {
      const answers = await Promise.all(Array.from({ length: 3 }, () => logIn(t.app, owner.user.email, owner.password, {})))
      expect(answers.map((a) => a.statusCode), answers.find((a) => a.statusCode !== 200)?.body).toEqual([200, 200, 200])
    }
  })
})

describe('client addresses', () => {
  it('IPv4 counts per address, IPv6 per /64', () => {
    expect(addressKey('192.0.2.1')).toBe('login:ip:192.0.2.1')
    expect(addressKey('::ffff:192.0.2.1')).toBe('login:ip:192.0.2.1')
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'))
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'))
    expect(addressKey('::1')).toBe('login:ip6:0000:0000:0000:0000::/64')
  })
})
