// Scenarios through the HTTP API with real authentication: a draft links one component per data
// source (enforced by the database, also under concurrent requests), moves through its status
// machine (illegal moves are 409s naming both states), is approved by a second person holding
// scenarios:approve (never its creator), runs and logs its progress, and can be cloned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp } from '../../../test/app.ts'
import { bearer, createKey, signUp, uniqueEmail, type SignedUp } from '../../../test/identity.ts'

type Json = Record<string, any>
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
interface Caller {
  headers: Record<string, string>
  userId: string
}

let t: Awaited<ReturnType<typeof testApp>>
let owner: Caller
let admin: Caller
let editor: Caller
let stranger: SignedUp
/** Components by name: `inA1`, `inA2` of data source In-A; `outB1` of Out-B; `inC1`, `inC2` of In-C... */
const comp: Record<string, Json> = {}

async function api(who: { headers: Record<string, string> }, method: Method, url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, headers: res.headers }
}
function ok(res: { status: number; body: Json }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
function problem(res: { status: number; body: Json }, status: number) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.body.detail.length).toBeGreaterThan(0)
  return res.body
}

/** A member with `role`, invited by the owner and signed in through the invitation. */
async function member(role: 'editor' | 'admin'): Promise<Caller> {
  const inv = ok(await api(owner, 'POST', '/invitations', { email: uniqueEmail(role), role }), 201)
  const accepted = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invitation', payload: { token: inv.token, password: 'correct horse battery staple' } })
  expect(accepted.statusCode, accepted.body).toBe(200)
  const body = accepted.json() as { token: string; user: { id: string } }
  return { headers: bearer(body.token), userId: body.user.id }
}

let n = 0
const draft = async (extra: Json = {}, who: Caller = owner) => ok(await api(who, 'POST', '/scenarios', { name: `Scenario ${++n}`, ...extra }), 201)
const link = (id: string, component: string, who: Caller = owner) => api(who, 'POST', `/scenarios/${id}/components`, { component_id: comp[component]!.id })
const act = (who: Caller, id: string, action: string, payload?: unknown) => api(who, 'POST', `/scenarios/${id}/${action}`, payload)
/** A scenario of the owner's, moved along the happy path up to `status`. */
async function scenarioIn(status: 'submitted' | 'approved' | 'running') {
  const s = await draft()
  ok(await act(owner, s.id, 'submit'))
  if (status === 'submitted') return s
  ok(await act(admin, s.id, 'approve'))
  if (status === 'running') ok(await act(owner, s.id, 'start'))
  return s
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  const signed = await signUp(t.app, { organization: 'Alpha Scenarios' })
  owner = { headers: signed.headers, userId: signed.user.id }
  admin = await member('admin')
  editor = await member('editor')
  stranger = await signUp(t.app, { organization: 'Beta Scenarios' })
  const layout: [string, 'INPUT' | 'OUTPUT' | 'PROCESS', string[]][] = [
    ['In-A', 'INPUT', ['inA1', 'inA2']],
    ['Out-B', 'OUTPUT', ['outB1']],
    ['In-C', 'INPUT', ['inC1', 'inC2']],
    ['Proc-D', 'PROCESS', ['procD1', 'procD2']],
    ['Proc-E', 'PROCESS', ['procE1', 'procE2']],
  ]
  for (const [source, type, names] of layout) {
    const ds = ok(await api(owner, 'POST', '/data-sources', { name: source, type }), 201)
    for (const name of names) comp[name] = ok(await api(owner, 'POST', `/data-sources/${ds.id}/components`, { name }), 201)
  }
})
afterAll(() => t?.close())

describe('the life of a scenario', () => {
  it('create, link, submit, approve by a second admin, start, log progress, complete; events record each move', async () => {
    const created = await api(owner, 'POST', '/scenarios', { name: 'Winter base case', description: 'tariff 2027', period_start: '2027-01-01T01:00:00+01:00', period_end: '2027-04-01T00:00:00Z' })
    const s = ok(created, 201)
    expect(created.headers.location).toBe(`/api/v1/scenarios/${s.id}`)
    expect(s).toMatchObject({ name: 'Winter base case', status: 'draft', period_start: '2027-01-01T00:00:00.000Z', period_end: '2027-04-01T00:00:00.000Z', created_by: `user:${owner.userId}`, cloned_from: null, components: [] })

    const l = ok(await link(s.id, 'inA1'), 201)
    expect(l).toMatchObject({ scenario_id: s.id, component_id: comp.inA1!.id, data_source_id: comp.inA1!.data_source_id, created_by: `user:${owner.userId}` })
    ok(await link(s.id, 'outB1'), 201)
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}`)).components).toEqual([
      { component_id: comp.inA1!.id, data_source_id: comp.inA1!.data_source_id },
      { component_id: comp.outB1!.id, data_source_id: comp.outB1!.data_source_id },
    ])
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}/components`)).data.map((x: Json) => x.component_id)).toEqual([comp.inA1!.id, comp.outB1!.id])

    expect(ok(await act(owner, s.id, 'submit'))).toMatchObject({ status: 'submitted', submitted_by: `user:${owner.userId}` })
    const approved = ok(await act(admin, s.id, 'approve'))
    expect(approved).toMatchObject({ status: 'approved', approved_by: `user:${admin.userId}` })
    expect(Date.parse(approved.approved_at)).not.toBeNaN()
    ok(await act(owner, s.id, 'start'))
    for (const [message, progress] of [['loading', 10], ['solving', 60], ['writing', 100]] as const) {
      expect(ok(await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message, progress }), 201)).toMatchObject({ scenario_id: s.id, level: 'info', message, progress, job_id: null, created_by: `user:${owner.userId}` })
    }
    const done = ok(await act(owner, s.id, 'complete'))
    expect(done.status).toBe('completed')
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}/logs`)).data.map((x: Json) => x.progress)).toEqual([100, 60, 10])

    const ev = ok(await api(owner, 'GET', `/events?type=scenario.approved&entity_id=${s.id}`)).data as Json[]
    expect(ev).toHaveLength(1)
    expect(ev[0]).toMatchObject({ entity_type: 'scenario', entity_id: s.id, actor: `user:${admin.userId}`, data: { from: 'submitted', to: 'approved' } })
    const types = (ok(await api(owner, 'GET', `/events?entity_id=${s.id}&sort=timestamp`)).data as Json[]).map((e) => e.type)
    expect(types).toEqual(['scenario.created', 'scenario.component_linked', 'scenario.component_linked', 'scenario.submitted', 'scenario.approved', 'scenario.started', 'scenario.completed'])
  })

  it('refuses self-approval and self-rejection (403), and an editor without scenarios:approve (403)', async () => {
    const s = await scenarioIn('submitted')
    const self = problem(await act(owner, s.id, 'approve'), 403)
    expect(self.reason).toBe('self-approval')
    expect(self.detail).toMatch(/you created scenario .* another member/)
    expect(problem(await act(owner, s.id, 'reject', { reason: 'mine' }), 403).reason).toBe('self-approval')
    // Through the creator's own API key it is still the creator approving.
    const key = await createKey(t.app, owner.headers, { name: 'approver', scopes: ['scenarios:read', 'scenarios:approve'] })
    expect(problem(await act({ headers: bearer(key.key), userId: owner.userId }, s.id, 'approve'), 403).reason).toBe('self-approval')
    // Created by the editor, so only the scope stands in the way.
    const byEditor = await draft({}, editor)
    ok(await act(editor, byEditor.id, 'submit'))
    expect(problem(await act(editor, s.id, 'approve'), 403).required_scope).toBe('scenarios:approve')
    expect(problem(await act(editor, s.id, 'reject', { reason: 'no' }), 403).required_scope).toBe('scenarios:approve')
    // The owner did not create that one: approving it is four eyes.
    expect(ok(await act(owner, byEditor.id, 'approve')).status).toBe('approved')
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}`)).status).toBe('submitted')
  })

  it('rejection needs a reason, and a rejected scenario goes back to draft for rework', async () => {
    const s = await scenarioIn('submitted')
    expect((await act(admin, s.id, 'reject', {})).status).toBe(422)
    expect((await act(admin, s.id, 'reject', { reason: '' })).status).toBe(422)
    expect((await act(admin, s.id, 'reject', { reason: 'x'.repeat(2001) })).status).toBe(422)
    const rejected = ok(await act(admin, s.id, 'reject', { reason: 'misses the February peak' }))
    expect(rejected).toMatchObject({ status: 'rejected', rejected_by: `user:${admin.userId}`, rejection_reason: 'misses the February peak' })
    expect(ok(await act(owner, s.id, 'rework')).status).toBe('draft')
    ok(await api(owner, 'PATCH', `/scenarios/${s.id}`, { period_end: '2027-03-01T00:00:00Z' }))
    ok(await act(owner, s.id, 'submit'))
    expect(ok(await act(admin, s.id, 'approve')).status).toBe('approved')
    const [ev] = ok(await api(owner, 'GET', `/events?type=scenario.rejected&entity_id=${s.id}`)).data as Json[]
    expect(ev!.data).toMatchObject({ reason: 'misses the February peak', from: 'submitted', to: 'rejected' })
  })

  it('an illegal move is a 409 naming both states', async () => {
    const s = await draft()
    const body = problem(await act(admin, s.id, 'approve'), 409)
    expect(body).toMatchObject({ type: '/problems/illegal-transition', from: 'draft', to: 'approved' })
    expect(body.detail).toMatch(/draft/)
    expect(body.detail).toMatch(/approved/)
    expect(problem(await act(owner, s.id, 'start'), 409).detail).toMatch(/draft.*running/)
    expect(problem(await act(owner, s.id, 'complete'), 409).detail).toMatch(/draft.*completed/)
    const running = await scenarioIn('running')
    expect(problem(await act(owner, running.id, 'submit'), 409).detail).toMatch(/running.*submitted/)
    expect(ok(await act(owner, running.id, 'fail')).status).toBe('failed')
    expect(ok(await act(owner, running.id, 'archive')).status).toBe('archived')
    expect(problem(await act(owner, running.id, 'archive'), 409).detail).toMatch(/archived.*archived/)
    expect(ok(await act(owner, s.id, 'archive')).status).toBe('archived')
  })
})

describe('drafts', () => {
  it('names are unique per organisation whatever the case (409); the period must start before it ends (422)', async () => {
    await draft({ name: 'Summer Peak' })
    expect(problem(await api(owner, 'POST', '/scenarios', { name: 'summer PEAK' }), 409).detail).toMatch(/already exists/)
    ok(await api(stranger, 'POST', '/scenarios', { name: 'Summer Peak' }), 201)
    const bad = problem(await api(owner, 'POST', '/scenarios', { name: 'Backwards', period_start: '2027-02-01T00:00:00Z', period_end: '2027-01-01T00:00:00Z' }), 422)
    expect(bad.errors.map((e: Json) => e.path)).toContain('/body/period_end')
  })

  it('a draft changes by merge patch; once submitted it does not (409)', async () => {
    const s = await draft({ description: 'first', period_start: '2027-01-01T00:00:00Z' })
    const changed = ok(await api(owner, 'PATCH', `/scenarios/${s.id}`, { name: `${s.name} v2`, description: null, period_end: '2027-02-01T00:00:00Z' }))
    expect(changed).toMatchObject({ name: `${s.name} v2`, description: null, period_start: '2027-01-01T00:00:00.000Z', period_end: '2027-02-01T00:00:00.000Z', modified_by: `user:${owner.userId}` })
    expect(problem(await api(owner, 'PATCH', `/scenarios/${s.id}`, { period_start: '2027-03-01T00:00:00Z' }), 422).errors[0].path).toBe('/body/period_end')
    await draft({ name: 'Taken' })
    expect((await api(owner, 'PATCH', `/scenarios/${s.id}`, { name: 'TAKEN' })).status).toBe(409)
    ok(await act(owner, s.id, 'submit'))
    expect(problem(await api(owner, 'PATCH', `/scenarios/${s.id}`, { description: 'late' }), 409).detail).toMatch(/is submitted/)
  })

  it('lists newest first, filtered by status, page by page; another organisation sees none of it (404)', async () => {
    const mine = [await draft(), await draft(), await draft()]
    ok(await act(owner, mine[1]!.id, 'archive'))
    const archived = ok(await api(owner, 'GET', '/scenarios?status=archived')).data as Json[]
    expect(archived.map((s) => s.id)).toContain(mine[1]!.id)
    expect(archived.every((s) => s.status === 'archived')).toBe(true)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = ok(await api(owner, 'GET', `/scenarios?limit=2${cursor ? `&cursor=${cursor}` : ''}`)) as { data: Json[]; next_cursor: string | null }
      expect(page.data.length).toBeLessThanOrEqual(2)
      seen.push(...page.data.map((s) => s.id))
      cursor = page.next_cursor
    } while (cursor)
    expect(seen.slice(0, 3)).toEqual(mine.map((s) => s.id).reverse())
    expect(new Set(seen).size).toBe(seen.length)
    expect((await api(stranger, 'GET', `/scenarios/${mine[0]!.id}`)).status).toBe(404)
    expect((await api(stranger, 'POST', `/scenarios/${mine[0]!.id}/submit`)).status).toBe(404)
    expect((ok(await api(stranger, 'GET', '/scenarios')).data as Json[]).map((s) => s.id)).not.toContain(mine[0]!.id)
  })
})

describe('component links', () => {
  it('one component per data source: a second one is a 409 naming the one linked; the same one twice too', async () => {
    const s = await draft()
    ok(await link(s.id, 'inA1'), 201)
    const clash = problem(await link(s.id, 'inA2'), 409)
    expect(clash.detail).toContain('inA1')
    expect(clash.detail).toContain(comp.inA1!.id)
    expect(clash).toMatchObject({ data_source_id: comp.inA1!.data_source_id, linked_component_id: comp.inA1!.id })
    expect(problem(await link(s.id, 'inA1'), 409).detail).toMatch(/already linked/)
    // Unlinked, the other component of the source fits.
    expect((await api(owner, 'DELETE', `/scenarios/${s.id}/components/${comp.inA1!.id}`)).status).toBe(204)
    expect((await api(owner, 'DELETE', `/scenarios/${s.id}/components/${comp.inA1!.id}`)).status).toBe(404)
    ok(await link(s.id, 'inA2'), 201)
    const types = (ok(await api(owner, 'GET', `/events?entity_id=${s.id}&type_prefix=scenario.component_`)).data as Json[]).map((e) => e.type)
    expect(types).toEqual(['scenario.component_linked', 'scenario.component_unlinked', 'scenario.component_linked'])
  })

  it('two concurrent links of one data source: exactly one is linked, the other is a 409 naming it', async () => {
    for (const [x, y] of [['inC1', 'inC2'], ['procD1', 'procD2'], ['procE2', 'procE1']] as const) {
      const s = await draft()
      const answers = await Promise.all([link(s.id, x), link(s.id, y)])
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409])
      const winner = answers.find((a) => a.status === 201)!.body
      const loser = answers.find((a) => a.status === 409)!.body
      const winnerName = winner.component_id === comp[x]!.id ? x : y
      expect(loser.detail).toContain(winnerName)
      expect(loser.linked_component_id).toBe(winner.component_id)
      expect(ok(await api(owner, 'GET', `/scenarios/${s.id}/components`)).data).toHaveLength(1)
    }
  })

  it('links change only in a draft (409 naming the status); unknown, foreign or inactive components are 422', async () => {
    const s = await scenarioIn('submitted')
    expect(problem(await link(s.id, 'inA1'), 409).detail).toMatch(/is submitted/)
    expect(problem(await api(owner, 'DELETE', `/scenarios/${s.id}/components/${comp.inA1!.id}`), 409).status).toBe(409)
    const d = await draft()
    const foreignSource = ok(await api(stranger, 'POST', '/data-sources', { name: 'Theirs', type: 'INPUT' }), 201)
    const foreign = ok(await api(stranger, 'POST', `/data-sources/${foreignSource.id}/components`, { name: 'theirs-1' }), 201)
    expect(problem(await api(owner, 'POST', `/scenarios/${d.id}/components`, { component_id: foreign.id }), 422).errors[0].path).toBe('/body/component_id')
    expect((await api(stranger, 'POST', `/scenarios/${d.id}/components`, { component_id: foreign.id })).status).toBe(404)
    ok(await api(owner, 'PATCH', `/components/${comp.procE2!.id}`, { is_active: false }))
    expect(problem(await link(d.id, 'procE2'), 422).detail).toMatch(/not active/)
    ok(await api(owner, 'PATCH', `/components/${comp.procE2!.id}`, { is_active: true }))
  })
})

describe('logs', () => {
  it('newest first, page by page, filtered by level; progress stays within 0..100', async () => {
    const s = await scenarioIn('running')
    const levels = ['debug', 'info', 'warning', 'error', 'info'] as const
    for (const [i, level] of levels.entries()) ok(await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message: `step ${i}`, level, progress: i * 20 }), 201)
    ok(await api(admin, 'POST', `/scenarios/${s.id}/logs`, { message: 'no level given' }), 201)
    const messages: string[] = []
    let cursor: string | null = null
    do {
      const page = ok(await api(editor, 'GET', `/scenarios/${s.id}/logs?limit=4${cursor ? `&cursor=${cursor}` : ''}`)) as { data: Json[]; next_cursor: string | null }
      messages.push(...page.data.map((l) => l.message))
      cursor = page.next_cursor
    } while (cursor)
    expect(messages).toEqual(['no level given', 'step 4', 'step 3', 'step 2', 'step 1', 'step 0'])
    const infos = ok(await api(owner, 'GET', `/scenarios/${s.id}/logs?level=info`)).data as Json[]
    expect(infos.map((l) => l.message)).toEqual(['no level given', 'step 4', 'step 1'])
    expect(infos[0]).toMatchObject({ level: 'info', progress: null, created_by: `user:${admin.userId}` })
    expect((await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message: 'too far', progress: 101 })).status).toBe(422)
    expect((await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message: '' })).status).toBe(422)
    expect((await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message: 'loud', level: 'fatal' })).status).toBe(422)
    expect((await api(owner, 'GET', `/scenarios/${s.id}/logs?cursor=nonsense`)).status).toBe(400)
    expect((await api(stranger, 'GET', `/scenarios/${s.id}/logs`)).status).toBe(404)
    expect((await api(stranger, 'POST', `/scenarios/${s.id}/logs`, { message: 'hello' })).status).toBe(404)
  })
})

describe('isolation', () => {
  it("another organisation gets 404 on every route of a scenario, and changes nothing", async () => {
    const s = await scenarioIn('submitted')
    const theirs = ok(await api(stranger, 'POST', '/data-sources', { name: 'Probe source', type: 'INPUT' }), 201)
    const their = ok(await api(stranger, 'POST', `/data-sources/${theirs.id}/components`, { name: 'probe-1' }), 201)
    const probes: [Method, string, unknown?][] = [
      ['GET', ''], ['PATCH', '', { description: 'b was here' }], ['GET', '/components'], ['GET', '/logs'],
      ['POST', '/logs', { message: 'b was here' }], ['POST', '/components', { component_id: their.id }],
      ['DELETE', `/components/${comp.inA1!.id}`], ['POST', '/clone', { name: 'Stolen' }], ['POST', '/reject', { reason: 'b' }],
      ...['submit', 'approve', 'rework', 'start', 'complete', 'fail', 'archive'].map((a) => ['POST', `/${a}`] as [Method, string]),
    ]
    for (const [method, path, body] of probes) {
      const res = await api(stranger, method, `/scenarios/${s.id}${path}`, body)
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404)
    }
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}`))).toMatchObject({ status: 'submitted', description: null })
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}/logs`)).data).toEqual([])
  })
})

describe('cloning', () => {
  it('makes a draft with the same description, period and links, whatever the status of the original', async () => {
    const s = await draft({ description: 'base', period_start: '2027-01-01T00:00:00Z', period_end: '2027-02-01T00:00:00Z' })
    ok(await link(s.id, 'inA1'), 201)
    ok(await link(s.id, 'outB1'), 201)
    ok(await act(owner, s.id, 'submit'))
    ok(await act(admin, s.id, 'approve'))
    ok(await act(owner, s.id, 'start'))
    ok(await api(owner, 'POST', `/scenarios/${s.id}/logs`, { message: 'not copied' }), 201)
    const res = await api(editor, 'POST', `/scenarios/${s.id}/clone`, { name: 'Base, again' })
    const c = ok(res, 201)
    expect(res.headers.location).toBe(`/api/v1/scenarios/${c.id}`)
    expect(c).toMatchObject({ status: 'draft', description: 'base', period_start: '2027-01-01T00:00:00.000Z', period_end: '2027-02-01T00:00:00.000Z', cloned_from: s.id, approved_by: null, created_by: `user:${editor.userId}` })
    expect(ok(await api(owner, 'GET', `/scenarios/${c.id}`)).components.map((x: Json) => x.component_id).sort()).toEqual([comp.inA1!.id, comp.outB1!.id].sort())
    expect(ok(await api(owner, 'GET', `/scenarios/${c.id}/logs`)).data).toEqual([])
    // The clone is a draft of its own: its links change, the original's do not.
    expect((await api(owner, 'DELETE', `/scenarios/${c.id}/components/${comp.inA1!.id}`)).status).toBe(204)
    expect(ok(await api(owner, 'GET', `/scenarios/${s.id}`)).components).toHaveLength(2)
    // The cloner is its creator: the original's owner may approve it, the cloner may not.
    ok(await act(editor, c.id, 'submit'))
    expect(ok(await act(owner, c.id, 'approve')).status).toBe('approved')
    expect(problem(await api(owner, 'POST', `/scenarios/${s.id}/clone`, { name: 'BASE, AGAIN' }), 409).detail).toMatch(/already exists/)
    const [ev] = ok(await api(owner, 'GET', `/events?type=scenario.cloned&entity_id=${c.id}`)).data as Json[]
    expect(ev!.data).toMatchObject({ cloned_from: s.id })
    expect([...(ev!.data.component_ids as string[])].sort()).toEqual([comp.inA1!.id, comp.outB1!.id].sort())
  })
})
