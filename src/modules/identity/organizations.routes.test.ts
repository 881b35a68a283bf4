// The organisation a request acts in, and how people join it, end to end through the HTTP API
// with real authentication: settings, invitations (new and existing users), several
// organisations per user (X-Organization), and invitations when open sign-up is off.
// Roles and membership changes are in organizations.roles.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, signUp, uniqueEmail } from '../../../test/identity.ts'
import { createIdentity } from './index.ts'
import { totpCode } from './totp.ts'

type TestApp = Awaited<ReturnType<typeof testApp>>
type Json = Record<string, any>
type SignedUp = Awaited<ReturnType<typeof signUp>>

const PASSWORD = 'a long enough passphrase'

function client(t: TestApp) {
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string> = {}, payload?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
    return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: res.headers['content-type'], headers: res.headers }
  }
}

/** A problem+json answer with this status, naming these paths in errors[]. */
function expectProblem(res: { status: number; body: Json; type: unknown }, status: number, paths: string[] = []) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(String(res.type)).toMatch(/^application\/problem\+json/)
  expect(res.body.status).toBe(status)
  expect(typeof res.body.detail).toBe('string')
  for (const p of paths) expect(res.body.errors?.map((e: { path: string }) => e.path)).toContain(p)
}

describe('the organisation', () => {
  let t: TestApp
  let api: ReturnType<typeof client>
  let owner: SignedUp

  beforeAll(async () => {
    t = await testApp({}, { realAuth: true })
    api = client(t)
    owner = await signUp(t.app, { organization: 'Settings Org' })
  })
  afterAll(() => t.close())

  it("GET /organization answers the caller's organisation", async () => {
    const res = await api('GET', '/organization', owner.headers)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: owner.organization.id, name: 'Settings Org', slug: owner.organization.slug, settings: { unit_system: 'SI', time_zone: 'UTC' } })
  })

  it('an owner renames it and changes its settings; a partial settings patch keeps the rest', async () => {
    const res = await api('PATCH', '/organization', owner.headers, { name: 'Renamed Org', settings: { unit_system: 'imperial', time_zone: 'Europe/Oslo' } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toMatchObject({ id: owner.organization.id, name: 'Renamed Org', settings: { unit_system: 'imperial', time_zone: 'Europe/Oslo' } })
    const partial = await api('PATCH', '/organization', owner.headers, { settings: { time_zone: 'America/New_York' } })
    expect(partial.body).toMatchObject({ name: 'Renamed Org', settings: { unit_system: 'imperial', time_zone: 'America/New_York' } })
    expect((await api('GET', '/organization', owner.headers)).body).toMatchObject({ name: 'Renamed Org', settings: { unit_system: 'imperial', time_zone: 'America/New_York' } })
  })

  it('refuses a time zone that is not IANA, naming /body/settings/time_zone, and changes nothing', async () => {
    const res = await api('PATCH', '/organization', owner.headers, { name: 'Not applied', settings: { time_zone: 'Mars/Olympus_Mons' } })
    expectProblem(res, 422, ['/body/settings/time_zone'])
    expect(res.body.type).toBe('/problems/validation')
    expect((await api('GET', '/organization', owner.headers)).body).toMatchObject({ name: 'Renamed Org', settings: { time_zone: 'America/New_York' } })
  })

  it('refuses unknown fields in settings and in the body', async () => {
    expectProblem(await api('PATCH', '/organization', owner.headers, { settings: { colour: 'red' } }), 422, ['/body/settings/colour'])
    expectProblem(await api('PATCH', '/organization', owner.headers, { slug: 'new-slug' }), 422, ['/body/slug'])
  })

  it('writes an organization.updated event for each change', async () => {
    const res = await api('GET', '/events?type=organization.updated', owner.headers)
    expect(res.status).toBe(200)
    expect(res.body.data).toHaveLength(2)
    expect(res.body.data[0]).toMatchObject({
      type: 'organization.updated',
      entity_type: 'organization',
      entity_id: owner.organization.id,
      organization_id: owner.organization.id,
      actor: `user:${owner.user.id}`,
      data: { name: 'Renamed Org', settings: { unit_system: 'imperial', time_zone: 'America/New_York' } },
    })
  })
})

describe('invitations', () => {
  let t: TestApp
  let api: ReturnType<typeof client>
  let alpha: SignedUp
  const invite = (by: SignedUp, email: string, role: string) => api('POST', '/invitations', by.headers, { email, role })

  beforeAll(async () => {
    t = await testApp({}, { realAuth: true })
    api = client(t)
    alpha = await signUp(t.app, { organization: 'Alpha' })
  })
  afterAll(() => t.close())

  it('a new user accepts an invitation once: the account is created with the role invited', async () => {
    const email = uniqueEmail('editor')
    const created = await invite(alpha, email, 'editor')
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(created.body).toMatchObject({ email, role: 'editor', status: 'pending', organization_id: alpha.organization.id, invited_by: alpha.user.id, accepted_at: null })
    expect(created.body.token).toEqual(expect.any(String))

    const listed = await api('GET', '/invitations', alpha.headers)
    expect(listed.status).toBe(200)
    const row = listed.body.data.find((i: Json) => i.id === created.body.id)
    expect(row).toMatchObject({ email, role: 'editor', status: 'pending' })
    expect(row).not.toHaveProperty('token')
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token)

    const accepted = await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: PASSWORD })
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
    expect(accepted.body.user.email).toBe(email)
    expect(accepted.body.organization).toMatchObject({ id: alpha.organization.id, slug: alpha.organization.slug })

    const me = await api('GET', '/me', bearer(accepted.body.token))
    expect(me.status).toBe(200)
    expect(me.body.organizations).toEqual([expect.objectContaining({ id: alpha.organization.id, role: 'editor' })])
    expect(me.body.organization_id).toBe(alpha.organization.id)
    expect(me.body.credential.scopes).toContain('jobs:write')
    expect(me.body.credential.scopes).not.toContain('admin')

    expectProblem(await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: PASSWORD }), 422, ['/body/token'])
    expect((await api('GET', `/invitations/${created.body.id}`, alpha.headers)).body).toMatchObject({ status: 'accepted', accepted_at: expect.any(String) })
  })

  it('a revoked invitation cannot be accepted', async () => {
    const email = uniqueEmail('revoked')
    const created = await invite(alpha, email, 'viewer')
    const revoked = await api('DELETE', `/invitations/${created.body.id}`, alpha.headers)
    expect(revoked.status).toBe(200)
    expect(revoked.body.status).toBe('revoked')
    expectProblem(await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: PASSWORD }), 422, ['/body/token'])
    expect((await api('GET', '/members', alpha.headers)).body.data.map((m: Json) => m.email)).not.toContain(email)
  })

  it('inviting someone who is already a member is a conflict (whatever the case of the e-mail)', async () => {
    expectProblem(await invite(alpha, alpha.user.email.toUpperCase(), 'viewer'), 409)
  })

  it('a password that breaks the policy is refused for a new account, naming /body/password', async () => {
    const created = await invite(alpha, uniqueEmail('weak'), 'viewer')
    expectProblem(await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: 'short' }), 422, ['/body/password'])
  })

  describe('an existing user joining a second organisation', () => {
    let beta: SignedUp
    let joined: Json

    beforeAll(async () => {
      beta = await signUp(t.app, { organization: 'Beta' })
      // Each organisation holds one file, so each answer shows whose data it is.
      for (const [who, name] of [[alpha, 'alpha.txt'], [beta, 'beta.txt']] as const) {
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/files?name=${name}`, headers: { ...who.headers, 'content-type': 'text/plain' }, payload: name })
        expect(res.statusCode, res.body).toBe(201)
      }
      // The session beta signed up with is in use (and cached) before the invitation is accepted.
      expect((await api('GET', '/jobs', beta.headers)).status).toBe(200)
    })

    it('must prove the account with its own password: a wrong one is 401 and links nothing', async () => {
      const created = await invite(alpha, beta.user.email, 'viewer')
      expect(created.status).toBe(201)
      const wrong = await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: 'not the password at all' })
      expectProblem(wrong, 401)
      expect((await api('GET', '/me', beta.headers)).body.organizations).toHaveLength(1)

      const res = await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: beta.password })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(res.body.user.id).toBe(beta.user.id)
      expect(res.body.organization.id).toBe(alpha.organization.id)
      joined = res.body
      const members = (await api('GET', '/members', alpha.headers)).body.data
      expect(members.filter((m: Json) => m.email === beta.user.email)).toEqual([expect.objectContaining({ user_id: beta.user.id, role: 'viewer' })])
    })

    it('GET /me works without X-Organization and lists both organisations', async () => {
      for (const headers of [beta.headers, bearer(joined.token)]) {
        const me = await api('GET', '/me', headers)
        expect(me.status).toBe(200)
        expect(me.body.organization_id).toBeNull()
        expect(me.body.organizations.map((o: Json) => [o.id, o.role])).toEqual([
          [beta.organization.id, 'owner'],
          [alpha.organization.id, 'viewer'],
        ])
      }
    })

    it('tenant routes need X-Organization, with either session', async () => {
      for (const headers of [beta.headers, bearer(joined.token)]) {
        for (const url of ['/jobs', '/files']) {
          const res = await api('GET', url, headers)
          expectProblem(res, 400, ['/headers/x-organization'])
        }
      }
    })

    it("X-Organization (slug or id) selects one organisation and shows only its data and role", async () => {
      const cases = [
        { org: alpha.organization, file: 'alpha.txt', other: 'beta.txt', role: 'viewer' },
        { org: beta.organization, file: 'beta.txt', other: 'alpha.txt', role: 'owner' },
      ]
      for (const { org, file, other, role } of cases) {
        for (const selector of [org.slug, org.id]) {
          const headers = bearer(joined.token, { 'x-organization': selector })
          expect((await api('GET', '/jobs', headers)).status).toBe(200)
          const files = await api('GET', '/files', headers)
          expect(files.status).toBe(200)
          expect(files.body.data.map((f: Json) => f.name)).toEqual([file])
          expect(JSON.stringify(files.body)).not.toContain(other)
          const organization = await api('GET', '/organization', headers)
          expect(organization.body.id).toBe(org.id)
          const me = await api('GET', '/me', headers)
          expect(me.body.organization_id).toBe(org.id)
          expect(me.body.credential.scopes.includes('admin')).toBe(role === 'owner')
        }
      }
    })

    it('X-Organization naming an organisation the caller does not belong to is 403', async () => {
      const gamma = await signUp(t.app, { organization: 'Gamma' })
      for (const selector of [gamma.organization.slug, gamma.organization.id, '018f0000-0000-7000-8000-000000000000']) {
        expectProblem(await api('GET', '/jobs', bearer(joined.token, { 'x-organization': selector })), 403)
        expectProblem(await api('GET', '/me', bearer(joined.token, { 'x-organization': selector })), 403)
      }
    })
  })
})

describe('with a controlled clock', () => {
  let t: TestApp
  let api: ReturnType<typeof client>
  let now = new Date('2030-01-01T00:00:00Z')

  beforeAll(async () => {
    t = await testApp({}, { realAuth: true, clock: () => now })
    api = client(t)
  })
  afterAll(() => t.close())

  it('an invitation is good for 7 days and no longer', async () => {
    now = new Date('2030-01-01T00:00:00Z')
    const owner = await signUp(t.app)
    const early = await api('POST', '/invitations', owner.headers, { email: uniqueEmail('early'), role: 'viewer' })
    const late = await api('POST', '/invitations', owner.headers, { email: uniqueEmail('late'), role: 'viewer' })
    expect(late.body.expires_at).toBe('2030-01-08T00:00:00.000Z')

    now = new Date('2030-01-07T23:59:00Z')
    expect((await api('POST', '/auth/accept-invitation', {}, { token: early.body.token, password: PASSWORD })).status).toBe(200)

    now = new Date('2030-01-08T00:01:00Z')
    expectProblem(await api('POST', '/auth/accept-invitation', {}, { token: late.body.token, password: PASSWORD }), 422, ['/body/token'])
    // The owner's session idled out with the clock: sign in again to look at the list.
    const login = await api('POST', '/auth/login', {}, { email: owner.user.email, password: owner.password })
    const listed = await api('GET', '/invitations', bearer(login.body.token))
    expect(listed.body.data.find((i: Json) => i.id === late.body.id).status).toBe('expired')
  })

  it("guessing an existing account's password through an invitation is throttled as at log-in", async () => {
    now = new Date('2031-01-01T00:00:00Z')
    const inviter = await signUp(t.app)
    const target = await signUp(t.app)
    const inv = await api('POST', '/invitations', inviter.headers, { email: target.user.email, role: 'viewer' })
    for (let i = 0; i < 3; i++) expectProblem(await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: `guess number ${i}` }), 401)
    const throttled = await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: target.password })
    expectProblem(throttled, 429)
    expect(throttled.headers['retry-after']).toBe('1')
    expectProblem(await api('POST', '/auth/login', {}, { email: target.user.email, password: target.password }), 429)

    now = new Date('2031-01-01T00:00:02Z')
    const res = await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: target.password })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.user.id).toBe(target.user.id)
  })

  it('accepting an invitation does not skip a second factor', async () => {
    now = new Date('2032-01-01T00:00:00Z')
    const inviter = await signUp(t.app)
    const target = await signUp(t.app)
    const enrolled = await api('POST', '/auth/totp/enroll', target.headers)
    expect((await api('POST', '/auth/totp/confirm', target.headers, { code: totpCode(enrolled.body.secret, now.getTime()) })).status).toBe(200)
    expect((await api('POST', '/auth/login', {}, { email: target.user.email, password: target.password })).body.type).toBe('/problems/second-factor-required')

    const inv = await api('POST', '/invitations', inviter.headers, { email: target.user.email, role: 'viewer' })
    const res = await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: target.password })
    expectProblem(res, 401)
    expect(res.body.type).toBe('/problems/second-factor-required')
    expect(res.body).not.toHaveProperty('token')
    expect((await api('GET', '/me', target.headers)).body.organizations).toHaveLength(1)
    expect((await api('GET', `/invitations/${inv.body.id}`, inviter.headers)).body.status).toBe('pending')
  })
})

describe('with open sign-up turned off', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await testApp({ STRATUM_SIGNUP_OPEN: 'false' }, { realAuth: true })
  })
  afterAll(() => t.close())

  it('sign-up is refused but invitations still let people in', async () => {
    const api = client(t)
    expectProblem(await api('POST', '/auth/signup', {}, { organization_name: 'Nope', email: uniqueEmail(), password: PASSWORD }), 403)

    // The first owner comes from the operator, as `stratum admin create-user` makes them.
    const ownerEmail = uniqueEmail('owner')
    const made = await createIdentity(t.rt).operators.createUser({ email: ownerEmail, newOrganization: 'Closed Org', role: 'owner', password: PASSWORD })

    const login = await api('POST', '/auth/login', {}, { email: ownerEmail, password: PASSWORD })
    expect(login.status).toBe(200)
    const email = uniqueEmail('invitee')
    const created = await api('POST', '/invitations', bearer(login.body.token), { email, role: 'editor' })
    expect(created.status).toBe(201)
    const accepted = await api('POST', '/auth/accept-invitation', {}, { token: created.body.token, password: PASSWORD })
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
    expect(accepted.body.organization.id).toBe(made.organization.id)
    const me = await api('GET', '/me', bearer(accepted.body.token))
    expect(me.body.organizations).toEqual([expect.objectContaining({ id: made.organization.id, role: 'editor' })])
  })
})
