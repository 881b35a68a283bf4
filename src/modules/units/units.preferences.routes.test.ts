// Preferred unit systems through the HTTP API with real authentication, and the helper other
// modules call (presentValues, preferredSystem) on contexts of the same signed-up users: the
// fall-back order is the user's preference, the organisation's, then Default.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestContext } from '../../core/context.ts'
import { testApp } from '../../../test/app.ts'
import { bearer, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'
import { createUnitsModule } from './index.ts'
import { OIL_FIELD, unitIdOf, unitSystemIdOf } from './units.catalog.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let owner: SignedUp
let viewer: { id: string; headers: Record<string, string> }
let other: SignedUp
let units: ReturnType<typeof createUnitsModule>

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json }
}

const ctxOf = (userId: string, organizationId: string): RequestContext => ({
  requestId: randomUUID(),
  traceId: '0af7651916cd43dd8448eb211c80319c',
  actor: { type: 'user', id: userId },
  organizationId,
  credential: { kind: 'session', id: randomUUID(), userId, deviceId: null, scopes: [] },
})

const PSI = 6894.757293168

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  owner = await signUp(t.app, { organization: 'Prefs Org' })
  other = await signUp(t.app, { organization: 'Other Org' })
  const email = uniqueEmail('viewer')
  const inv = await api('POST', '/invitations', owner.headers, { email, role: 'viewer' })
  expect(inv.status, JSON.stringify(inv.body)).toBe(201)
  const accepted = await api('POST', '/auth/accept-invitation', {}, { token: inv.body.token, password: 'a long enough passphrase' })
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
  viewer = { id: accepted.body.user.id, headers: bearer(accepted.body.token) }
  units = createUnitsModule(t.rt)
})
afterAll(() => t.close())

describe('preferences through the API', () => {
  it("starts with none: the organisation's settings (SI from sign-up) are in effect", async () => {
    const org = await api('GET', '/unit-preferences/organization', owner.headers)
    expect(org.status).toBe(200)
    expect(org.body.unit_system).toBeNull()
    expect(org.body.effective.name).toBe('SI')
    const me = await api('GET', '/unit-preferences/me', viewer.headers)
    expect(me.body).toMatchObject({ unit_system: null, effective: { name: 'SI', preference: 'organization' } })
  })

  it('only an admin sets the organisation preference; a viewer may read it', async () => {
    expect((await api('PUT', '/unit-preferences/organization', viewer.headers, { unit_system: OIL_FIELD })).status).toBe(403)
    const set = await api('PUT', '/unit-preferences/organization', owner.headers, { unit_system: 'oil field' })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body.unit_system).toMatchObject({ id: unitSystemIdOf(OIL_FIELD), name: OIL_FIELD })
    expect((await api('GET', '/unit-preferences/organization', viewer.headers)).body.unit_system.name).toBe(OIL_FIELD)
    // Set again by id: still one row.
    expect((await api('PUT', '/unit-preferences/organization', owner.headers, { unit_system: unitSystemIdOf(OIL_FIELD) })).status).toBe(200)
    expect((await api('GET', '/unit-preferences/me', viewer.headers)).body.effective).toMatchObject({ name: OIL_FIELD, preference: 'organization' })
  })

  it('refuses a system the organisation cannot see, naming /body/unit_system', async () => {
    const own = await api('POST', '/unit-systems', other.headers, { name: 'Other Only' })
    expect(own.status, JSON.stringify(own.body)).toBe(201)
    for (const ref of ['No Such System', own.body.id as string, 'Other Only']) {
      const res = await api('PUT', '/unit-preferences/me', owner.headers, { unit_system: ref })
      expect(res.status, ref).toBe(422)
      expect(res.body.errors[0].path).toBe('/body/unit_system')
    }
    // Its own organisation may choose it.
    expect((await api('PUT', '/unit-preferences/me', other.headers, { unit_system: 'Other Only' })).status).toBe(200)
  })

  it('a viewer chooses their own, clears it, and the organisation\'s applies again; events are written', async () => {
    const set = await api('PUT', '/unit-preferences/me', viewer.headers, { unit_system: 'SI' })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body.effective).toMatchObject({ name: 'SI', preference: 'user' })
    expect((await api('GET', '/unit-preferences/me', viewer.headers)).body).toMatchObject({ unit_system: { name: 'SI' }, effective: { name: 'SI', preference: 'user' } })
    // The owner's own view is untouched.
    expect((await api('GET', '/unit-preferences/me', owner.headers)).body.effective.preference).toBe('organization')
    expect((await api('DELETE', '/unit-preferences/me', viewer.headers)).status).toBe(204)
    expect((await api('GET', '/unit-preferences/me', viewer.headers)).body).toMatchObject({ unit_system: null, effective: { name: OIL_FIELD, preference: 'organization' } })
    expect((await api('DELETE', '/unit-preferences/me', viewer.headers)).status).toBe(204)
    const events = await api('GET', '/events?limit=100', owner.headers)
    expect(events.status, JSON.stringify(events.body)).toBe(200)
    const types = (events.body.data as Json[]).map((e) => e.event_type ?? e.type)
    expect(types.filter((x) => x === 'unit_preference.set').length).toBeGreaterThanOrEqual(3)
    expect(types.filter((x) => x === 'unit_preference.cleared')).toHaveLength(1)
  })

  it('does not show organisation A\'s preference to B', async () => {
    const b = await api('GET', '/unit-preferences/organization', other.headers)
    expect(b.body.unit_system).toBeNull()
    expect((await api('GET', '/unit-preferences/me', other.headers)).body.effective).toMatchObject({ name: 'Other Only', preference: 'user' })
  })
})

describe('presentValues and preferredSystem', () => {
  it('the organisation prefers Oil Field: Pa values come back in psi', async () => {
    const ctx = ctxOf(viewer.id, owner.organization.id)
    expect(await units.preferredSystem(ctx)).toMatchObject({ name: OIL_FIELD, preference: 'organization' })
    const out = await units.presentValues(ctx, { unit: 'Pa', values: [PSI, 1e5] })
    expect(out.unit).toEqual({ id: unitIdOf('pressure:psi'), external_id: 'pressure:psi', symbol: 'psi' })
    expect(out.values[0]).toBeCloseTo(1, 12)
    expect(out.values[1]).toBeCloseTo(14.503773773, 8)
  })

  it('a user who prefers SI gets Pa, whatever the organisation prefers', async () => {
    expect((await api('PUT', '/unit-preferences/me', viewer.headers, { unit_system: 'SI' })).status).toBe(200)
    const ctx = ctxOf(viewer.id, owner.organization.id)
    expect(await units.preferredSystem(ctx)).toMatchObject({ name: 'SI', preference: 'user' })
    const out = await units.presentValues(ctx, { unit: 'psi', values: [1, 2] })
    expect(out.unit.symbol).toBe('Pa')
    expect(out.values[0]).toBeCloseTo(PSI, 9)
    expect(out.values[1]).toBeCloseTo(2 * PSI, 8)
    // The owner (no preference of their own) still gets the organisation's.
    expect((await units.presentValues(ctxOf(owner.user.id, owner.organization.id), { unit: 'Pa', values: [1e5] })).unit.symbol).toBe('psi')
    await api('DELETE', '/unit-preferences/me', viewer.headers)
  })

  it("with no preference, the organisation's settings decide; with settings naming no system, Default (pressure in bar)", async () => {
    const fresh = await signUp(t.app)
    const ctx = ctxOf(fresh.user.id, fresh.organization.id)
    expect(await units.preferredSystem(ctx)).toMatchObject({ name: 'SI', preference: 'organization' })
    const patched = await t.app.inject({ method: 'PATCH', url: '/api/v1/organization', headers: fresh.headers, payload: { settings: { unit_system: 'no such system' } } })
    expect(patched.statusCode, patched.body).toBe(200)
    expect(await units.preferredSystem(ctx)).toMatchObject({ name: 'Default', preference: 'default' })
    const out = await units.presentValues(ctx, { unit: 'psi', values: [1] })
    expect(out.unit.symbol).toBe('bar')
    expect(out.values[0]).toBeCloseTo(PSI / 1e5, 12)
    await t.app.inject({ method: 'PATCH', url: '/api/v1/organization', headers: fresh.headers, payload: { settings: { unit_system: 'Oil Field' } } })
    expect(await units.preferredSystem(ctx)).toMatchObject({ name: 'Oil Field', preference: 'organization' })
  })

  it('as.unit and as.unit_system (with a category) override the preference', async () => {
    const ctx = ctxOf(owner.user.id, owner.organization.id)
    const kpa = await units.presentValues(ctx, { unit: 'psi', values: [1], as: { unit: 'kPa' } })
    expect(kpa.unit.symbol).toBe('kPa')
    expect(kpa.values[0]).toBeCloseTo(6.894757293168, 12)
    const si = await units.presentValues(ctx, { unit: 'psi', values: [1], as: { unit_system: 'SI' } })
    expect(si.unit.symbol).toBe('Pa')
    const rate = await units.presentValues(ctx, { unit: 'volume_flow_rate:m3-per-sec', values: [1], as: { category: 'Gas Rate' } })
    expect(rate.unit.external_id).toBe('volume_flow_rate:kilo-ft3-per-day')
    await expect(units.presentValues(ctx, { unit: 'psi', values: [1], as: { unit_system: 'Nope' } })).rejects.toMatchObject({ errors: [{ path: '/as/unit_system' }] })
    await expect(units.presentValues(ctx, { unit: 'psi', values: [1], as: { category: 'Oil Rate' } })).rejects.toMatchObject({ errors: [{ path: '/as/category' }] })
  })
})

describe('POST /units/convert with to_system', () => {
  const convert = (payload: Json) => api('POST', '/units/convert', owner.headers, payload)

  it('converts to the system default for the unit\'s type and names the unit', async () => {
    const res = await convert({ from: 'Pa', to_system: OIL_FIELD, value: 1e5 })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.unit).toEqual({ id: unitIdOf('pressure:psi'), external_id: 'pressure:psi', symbol: 'psi' })
    expect(res.body.value).toBeCloseTo(14.503773773, 8)
    const many = await convert({ from: 'psi', to_system: 'SI', values: [1, 10] })
    expect(many.body.unit.symbol).toBe('Pa')
    expect(many.body.values[1]).toBeCloseTo(10 * PSI, 8)
  })

  it('uses a category when given', async () => {
    const res = await convert({ from: 'volume_flow_rate:m3-per-sec', to_system: OIL_FIELD, category: 'Gas Rate', value: 1 })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.unit.external_id).toBe('volume_flow_rate:kilo-ft3-per-day')
  })

  it('422s: unknown system, no default, both or neither target', async () => {
    const unknown = await convert({ from: 'Pa', to_system: 'Nope', value: 1 })
    expect(unknown.status).toBe(422)
    expect(unknown.body.errors[0].path).toBe('/body/to_system')
    const empty = await api('POST', '/unit-systems', owner.headers, { name: 'Empty System' })
    expect(empty.status).toBe(201)
    const none = await convert({ from: 'Pa', to_system: 'Empty System', value: 1 })
    expect(none.status).toBe(422)
    expect(none.body.errors[0].path).toBe('/body/to_system')
    expect(none.body.detail ?? none.body.title).toBeTruthy()
    expect((await convert({ from: 'Pa', to: 'psi', to_system: 'SI', value: 1 })).status).toBe(422)
    expect((await convert({ from: 'Pa', value: 1 })).status).toBe(422)
    const badCategory = await convert({ from: 'Pa', to_system: 'SI', category: 'Gas Rate', value: 1 })
    expect(badCategory.status).toBe(422)
    expect(badCategory.body.errors[0].path).toBe('/body/category')
  })
})
