// Roles in an organisation, end to end through the HTTP API with real authentication: who may
// invite whom, who may grant or take the owner role, that an organisation keeps an owner,
// that removing a member ends their access at once, and what a viewer may do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
interface Member {
  id: string
  email: string
  token: string
  headers: Record<string, string>
}

let t: Awaited<ReturnType<typeof testApp>>
let owner: SignedUp
const PASSWORD = 'a long enough passphrase'

async function api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string> = {}, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, type: res.headers['content-type'] }
}

function expectProblem(res: { status: number; body: Json; type: unknown }, status: number) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(String(res.type)).toMatch(/^application\/problem\+json/)
  expect(res.body.status).toBe(status)
}

/** Invites a new e-mail with `role` (as the owner) and accepts it: a member with a session. */
async function join(role: string): Promise<Member> {
  const email = uniqueEmail(role)
  const inv = await api('POST', '/invitations', owner.headers, { email, role })
  expect(inv.status, JSON.stringify(inv.body)).toBe(201)
  const res = await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: PASSWORD })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return { id: res.body.user.id, email, token: res.body.token, headers: bearer(res.body.token) }
}

const roleOf = async (userId: string) => (await api('GET', `/members/${userId}`, owner.headers)).body.role as string

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  owner = await signUp(t.app, { organization: 'Roles Org' })
})
afterAll(() => t.close())

describe('inviting', () => {
  it('an editor cannot invite: 403 naming the scope needed', async () => {
    const editor = await join('editor')
    const res = await api('POST', '/invitations', editor.headers, { email: uniqueEmail(), role: 'viewer' })
    expectProblem(res, 403)
    expect(res.body.required_scope).toBe('admin')
    expect(res.body.detail).toContain('admin')
    expectProblem(await api('GET', '/invitations', editor.headers), 403)
  })

  it('an admin invites up to admin, but not an owner; an owner may invite an owner', async () => {
    const admin = await join('admin')
    expect((await api('POST', '/invitations', admin.headers, { email: uniqueEmail(), role: 'admin' })).status).toBe(201)
    const refused = await api('POST', '/invitations', admin.headers, { email: uniqueEmail(), role: 'owner' })
    expectProblem(refused, 403)
    expect(refused.body.required_scope).toBe('owner')
    expect((await api('POST', '/invitations', owner.headers, { email: uniqueEmail(), role: 'owner' })).status).toBe(201)
  })
})

describe('changing roles', () => {
  let admin: Member
  let editor: Member

  beforeAll(async () => {
    admin = await join('admin')
    editor = await join('editor')
  })

  it('an admin cannot make someone owner, nor demote an owner', async () => {
    const grant = await api('PATCH', `/members/${editor.id}`, admin.headers, { role: 'owner' })
    expectProblem(grant, 403)
    expect(grant.body.required_scope).toBe('owner')
    expectProblem(await api('PATCH', `/members/${owner.user.id}`, admin.headers, { role: 'admin' }), 403)
    expectProblem(await api('DELETE', `/members/${owner.user.id}`, admin.headers), 403)
    expect(await roleOf(editor.id)).toBe('editor')
    expect(await roleOf(owner.user.id)).toBe('owner')
  })

  it('an admin changes roles below owner; an owner grants owner; every change is audited with from and to', async () => {
    const res = await api('PATCH', `/members/${editor.id}`, admin.headers, { role: 'viewer' })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toMatchObject({ user_id: editor.id, role: 'viewer' })
    // The member's own session follows the new role on the next request.
    expectProblem(await api('POST', '/files?name=x.txt', { ...editor.headers, 'content-type': 'text/plain' }, 'x'), 403)

    expect((await api('PATCH', `/members/${editor.id}`, owner.headers, { role: 'owner' })).body.role).toBe('owner')
    expect((await api('GET', '/me', editor.headers)).body.credential.scopes).toContain('owner')

    const events = await api('GET', `/events?type=membership.role_changed&entity_id=${editor.id}&sort=timestamp`, owner.headers)
    expect(events.status).toBe(200)
    expect(events.body.data.map((e: Json) => [e.actor, e.data])).toEqual([
      [`user:${admin.id}`, { from: 'editor', to: 'viewer' }],
      [`user:${owner.user.id}`, { from: 'viewer', to: 'owner' }],
    ])

    // Back to editor, taken by an owner: with two owners, one may go.
    expect((await api('PATCH', `/members/${editor.id}`, owner.headers, { role: 'editor' })).status).toBe(200)
  })

  it('the last owner can be neither demoted nor removed', async () => {
    const alone = await signUp(t.app, { organization: 'Alone' })
    expectProblem(await api('PATCH', `/members/${alone.user.id}`, alone.headers, { role: 'admin' }), 409)
    expectProblem(await api('DELETE', `/members/${alone.user.id}`, alone.headers), 409)
    const me = await api('GET', '/me', alone.headers)
    expect(me.body.organizations).toEqual([expect.objectContaining({ id: alone.organization.id, role: 'owner' })])
  })
})

describe('removing a member', () => {
  it('ends their access to the organisation at once, through their session and their keys', async () => {
    const leaving = await join('editor')
    const key = await createKey(t.app, leaving.headers, { name: 'leaving', scopes: ['jobs:read'] })
    // Both credentials are in use (and so cached) just before the removal.
    expect((await api('GET', '/jobs', leaving.headers)).status).toBe(200)
    expect((await api('GET', '/jobs', bearer(key.key))).status).toBe(200)

    const removed = await api('DELETE', `/members/${leaving.id}`, owner.headers)
    expect(removed.status).toBe(204)

    expectProblem(await api('GET', '/jobs', leaving.headers), 403)
    expectProblem(await api('GET', '/jobs', bearer(leaving.token, { 'x-organization': owner.organization.slug })), 403)
    expectProblem(await api('GET', '/organization', bearer(leaving.token, { 'x-organization': owner.organization.id })), 403)
    expectProblem(await api('GET', '/jobs', bearer(key.key)), 401)
    const me = await api('GET', '/me', leaving.headers)
    expect(me.status).toBe(200)
    expect(me.body.organizations).toEqual([])
    expect((await api('GET', '/members', owner.headers)).body.data.map((m: Json) => m.user_id)).not.toContain(leaving.id)
    const events = await api('GET', `/events?type=membership.removed&entity_id=${leaving.id}`, owner.headers)
    expect(events.body.data).toEqual([expect.objectContaining({ actor: `user:${owner.user.id}`, data: { role: 'editor' } })])
  })
})

describe('a viewer', () => {
  let viewer: Member

  beforeAll(async () => {
    viewer = await join('viewer')
  })

  it('reads but does not write', async () => {
    expect((await api('GET', '/jobs', viewer.headers)).status).toBe(200)
    expect((await api('GET', '/organization', viewer.headers)).status).toBe(200)
    expect((await api('GET', '/members', viewer.headers)).status).toBe(200)
    const upload = await api('POST', '/files?name=v.txt', { ...viewer.headers, 'content-type': 'text/plain' }, 'from a viewer')
    expectProblem(upload, 403)
    expect(upload.body.required_scope).toBe('files:write')
    const patch = await api('PATCH', '/organization', viewer.headers, { name: 'Viewer was here' })
    expectProblem(patch, 403)
    expect(patch.body.required_scope).toBe('admin')
  })

  it('may create an API key with read scopes only', async () => {
    const key = await createKey(t.app, viewer.headers, { name: 'reader', scopes: ['jobs:read', 'files:read'] })
    expect(key.scopes).toEqual(['jobs:read', 'files:read'])
    expect((await api('GET', '/jobs', bearer(key.key))).status).toBe(200)
    for (const scopes of [['jobs:write'], ['files:read', 'files:write'], ['admin']]) {
      const res = await api('POST', '/api-keys', viewer.headers, { name: 'writer', scopes })
      expectProblem(res, 403)
      expect(res.body.denied_scopes).toEqual(scopes.filter((s) => !s.endsWith(':read')))
    }
  })
})
