import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uuidv7 } from 'uuidv7'
import { testApp, tenant } from '../../../test/app.ts'
import { onPostgres } from '../../../test/db.ts'
import { rows } from '../db/database.ts'
import { openPostgres } from '../db/postgres.ts'
import { consumeBatch, consumerLag, startConsumer, type ConsumerDefinition } from './consumeEvents.ts'
import { EventOutsideTransactionError, type EventView } from './events.service.ts'

let t: Awaited<ReturnType<typeof testApp>>
const a = tenant()
const b = tenant()

beforeAll(async () => {
  t = await testApp()
})
afterAll(() => t.close())

const write = (ctx = a.ctx, type = 'widget.created', entityId = uuidv7(), data: Record<string, unknown> = {}) =>
  t.rt.database.transaction((tx) => t.rt.events.appendEvent(tx, ctx, { type, entityType: 'widget', entityId, data }))

describe('writing events', () => {
  it('records type, entity, data, organisation, actor and trace id', async () => {
    const entityId = uuidv7()
    await write(a.ctx, 'widget.created', entityId, { name: 'pump' })
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?entity_id=${entityId}`, headers: a.headers })
    expect(res.statusCode).toBe(200)
    const [e] = res.json().data
    expect(e).toMatchObject({
      type: 'widget.created',
      entity_type: 'widget',
      entity_id: entityId,
      organization_id: a.organizationId,
      actor: `user:${a.userId}`,
      trace_id: a.ctx.traceId,
      data: { name: 'pump' },
    })
    expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })
  it('writes a large batch (one JSON parameter) exactly like single events, in order', async () => {
    const ids = Array.from({ length: 1200 }, () => uuidv7())
    await t.rt.database.transaction((tx) =>
      t.rt.events.appendEvents(tx, a.ctx, ids.map((id, i) => ({ type: 'widget.bulk', entityType: 'widget', entityId: id, data: { i, nested: { ok: true } }, metadata: { source: 'test' } }))),
    )
    const found = await rows<{ entity_id: string; data: { i: number }; event_metadata: unknown; organization_id: string; actor: string; trace_id: string; source_node: string }>(
      t.rt.database.db,
      sql`select entity_id, data, event_metadata, organization_id, actor, trace_id, source_node from events where event_type = 'widget.bulk' order by id`,
    )
    expect(found.map((e) => e.entity_id)).toEqual(ids)
    expect(found.map((e) => e.data.i)).toEqual(ids.map((_, i) => i))
    expect(found[0]).toMatchObject({ data: { i: 0, nested: { ok: true } }, event_metadata: { source: 'test' }, organization_id: a.organizationId, actor: `user:${a.userId}`, trace_id: a.ctx.traceId })
    expect(found[0]!.source_node.length).toBeGreaterThan(0)
  })

  it('an event written in a rolled-back transaction does not exist', async () => {
    const entityId = uuidv7()
    await expect(
      t.rt.database.transaction(async (tx) => {
        await t.rt.events.appendEvent(tx, a.ctx, { type: 'widget.created', entityType: 'widget', entityId })
        throw new Error('the change failed')
      }),
    ).rejects.toThrow('the change failed')
    const found = await rows(t.rt.database.db, sql`select 1 from events where entity_id = ${entityId}`)
    expect(found).toHaveLength(0)
  })
  it('can only be written inside a transaction', async () => {
    await expect(t.rt.events.appendEvent(t.rt.database.db, a.ctx, { type: 'x.y', entityType: 'x', entityId: uuidv7() })).rejects.toBeInstanceOf(
      EventOutsideTransactionError,
    )
  })
  it('are append-only: the database refuses updates and deletes', async () => {
    await write()
    const cause = (p: Promise<unknown>) => p.then(() => 'allowed', (e: Error & { cause?: Error }) => e.cause?.message ?? e.message)
    expect(await cause(t.rt.database.db.execute(sql`update events set event_type = 'tampered'`))).toMatch(/append-only \(UPDATE refused\)/)
    expect(await cause(t.rt.database.db.execute(sql`delete from events`))).toMatch(/append-only \(DELETE refused\)/)
  })
  it('land in monthly partitions', async () => {
    const parts = await rows<{ name: string }>(t.rt.database.db, sql`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'events'::regclass`)
    const month = new Date().toISOString().slice(0, 7).replace('-', '')
    expect(parts.map((p) => p.name)).toContain(`events_${month}`)
  })
})

describe('GET /api/v1/events', () => {
  const org = tenant()
  const entity = uuidv7()
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) await write(org.ctx, i % 2 ? 'scenario.approved' : 'scenario.submitted', i < 3 ? entity : uuidv7(), { i })
    await write(org.ctx, 'job.failed')
  })
  const get = async (q: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?${q}`, headers: org.headers })
    expect(res.statusCode, res.body).toBe(200)
    return res.json() as { data: EventView[]; next_cursor: string | null }
  }
  it('filters by type prefix, exact type, entity and time range', async () => {
    expect((await get('type_prefix=scenario.')).data).toHaveLength(7)
    expect((await get('type=scenario.approved')).data).toHaveLength(3)
    expect((await get('type_prefix=job')).data.map((e) => e.type)).toEqual(['job.failed'])
    expect((await get(`entity_id=${entity}`)).data).toHaveLength(3)
    expect((await get(`since=${new Date(Date.now() + 60_000).toISOString()}`)).data).toHaveLength(0)
    expect((await get(`until=${new Date(Date.now() + 60_000).toISOString()}`)).data).toHaveLength(8)
  })
  it('treats _ and % in a prefix literally', async () => {
    expect((await get('type_prefix=scenario_')).data).toHaveLength(0)
    expect((await get('type_prefix=%25')).data).toHaveLength(0)
  })
  it('pages with a cursor, newest first by default, without gaps or repeats', async () => {
    const seen: number[] = []
    let cursor: string | null = null
    do {
      const page = await get(`type_prefix=scenario.&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...page.data.map((e) => e.data.i as number))
      cursor = page.next_cursor
    } while (cursor)
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0])
    const asc = await get('type_prefix=scenario.&sort=timestamp&limit=100')
    expect(asc.data.map((e) => e.data.i)).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
  it("never shows another organisation's events", async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?entity_id=${entity}`, headers: b.headers })
    expect(res.json().data).toEqual([])
  })
})

describe('durable consumers', () => {
  const collect = (name: string, types?: string[], batchSize = 10) => {
    const got: EventView[] = []
    const def: ConsumerDefinition = { name, ...(types ? { types } : {}), batchSize, handle: async (events) => void got.push(...events) }
    return { got, def }
  }
  // Transaction ids are cluster-wide: a transaction open elsewhere (another test file's database)
  // holds the horizon back for a moment, so "caught up" is waited for, not assumed. On a loaded
  // CI machine that moment once passed 15 s (beside test/workers.test.ts's 10,000 jobs).
  const drainUntil = async (def: ConsumerDefinition, done: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 45_000
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error('consumer did not catch up')
      if ((await consumeBatch(t.rt.database, def)).delivered === 0) await new Promise((r) => setTimeout(r, 20))
    }
  }

  it('delivers every committed event of its types, in order, and resumes from its cursor after a restart', async () => {
    const org = tenant()
    const mine = (list: EventView[]) => list.filter((e) => e.organization_id === org.organizationId).map((e) => e.data.i as number)
    const first = collect('test-resume', ['reading.'], 4)
    for (let i = 0; i < 10; i++) await write(org.ctx, 'reading.added', uuidv7(), { i })
    await write(org.ctx, 'other.thing')
    // Batches are delivered until 8 events arrived; then the process "crashes" inside a batch,
    // which rolls back with its cursor move.
    await drainUntil(first.def, () => mine(first.got).length >= 8)
    const crashing: ConsumerDefinition = { ...first.def, handle: async () => { throw new Error('killed') } }
    await expect(consumeBatch(t.rt.database, crashing)).rejects.toThrow('killed')
    for (let i = 10; i < 15; i++) await write(org.ctx, 'reading.added', uuidv7(), { i })
    // A new consumer object with the same name: what a restarted process has.
    const second = collect('test-resume', ['reading.'], 4)
    await drainUntil(second.def, () => mine(first.got).length + mine(second.got).length >= 15)
    expect([...mine(first.got), ...mine(second.got)]).toEqual([...Array(15).keys()])
    expect(second.got.every((e) => e.type.startsWith('reading.'))).toBe(true)
  }, 120_000)

  it('commits handler writes together with the cursor', async () => {
    await t.rt.database.db.execute(sql`create table test_projection (event_id bigint primary key)`)
    const def: ConsumerDefinition = {
      name: 'test-projection',
      types: ['projection.'],
      handle: async (events, tx) => {
        for (const e of events) await tx.execute(sql`insert into test_projection values (${e.id})`)
      },
    }
    for (let i = 0; i < 5; i++) await write(a.ctx, 'projection.hit')
    const count = async () => (await rows<{ n: number }>(t.rt.database.db, sql`select count(*)::int as n from test_projection`))[0]!.n
    await drainUntil(def, async () => (await count()) >= 5)
    await consumeBatch(t.rt.database, def)
    expect(await count()).toBe(5)
    const lag = await consumerLag(t.rt.database.db)
    expect(lag.find((l) => l.name === 'test-projection')?.lag).toBe(0)
    await write(a.ctx, 'projection.hit')
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/stratum_event_consumer_lag_events\{consumer="test-projection"\} [1-9]\d*\n/)
  })

  it('runs in the background, woken by new events', async () => {
    const { got, def } = collect('test-live', ['live.'])
    const consumer = await startConsumer(t.rt.database, def, { log: t.rt.log, pollMs: 60_000 })
    await consumer.drain()
    await write(a.ctx, 'live.one')
    await write(a.ctx, 'live.two')
    const deadline = Date.now() + 10_000
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await consumer.stop()
    expect(got.map((e) => e.type)).toEqual(['live.one', 'live.two'])
  })

  it.runIf(onPostgres())('does not skip an event whose transaction commits after a later one', async () => {
    const { got, def } = collect('test-late-commit', ['late.'])
    await consumeBatch(t.rt.database, def)
    const url = (t.rt.database as unknown as { url: string }).url
    const other = await openPostgres({ url, poolMax: 2, statementTimeoutMs: 0 })
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let written!: () => void
    const slowWrote = new Promise<void>((r) => (written = r))
    // The slow transaction takes its event id first, then commits last.
    const slow = other.transaction(async (tx) => {
      await t.rt.events.appendEvent(tx, a.ctx, { type: 'late.slow', entityType: 'x', entityId: uuidv7() })
      written()
      await held
    })
    await slowWrote
    await write(a.ctx, 'late.fast')
    for (let i = 0; i < 3; i++) await consumeBatch(t.rt.database, def)
    expect(got.map((e) => e.type)).toEqual([]) // the fast one waits behind the open transaction
    release()
    await slow
    await drainUntil(def, () => got.length >= 2)
    expect(got.map((e) => e.type)).toEqual(['late.slow', 'late.fast'])
    await other.close()
  })
})
