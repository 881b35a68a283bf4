// The seed-003 base behaviours, each proven on a real table built from the shared column sets.
import { and, asc, eq, sql } from 'drizzle-orm'
import { pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../db/database.ts'
import { IllegalTransitionError } from '../errors.ts'
import { testDatabase } from '../../../test/db.ts'
import { tenant } from '../../../test/app.ts'
import {
  auditColumns, idColumn, metadataColumn, positionColumn, slugColumn, softDeleteColumns, statusColumns, tenantColumn, timestamps,
} from './columns.ts'
import { hardDelete, notDeleted, restore, softDelete, visible } from './softDelete.ts'
import { defineStatusMachine } from './statusMachine.ts'
import { getMeta, setMeta } from './metadata.ts'
import { createOrdering } from './ordering.ts'
import { slugify, uniqueSlug } from './slug.ts'

type Step = 'draft' | 'live' | 'retired'

const widgets = pgTable(
  'test_widgets',
  {
    ...idColumn(),
    ...tenantColumn(),
    name: text('name').notNull(),
    ...slugColumn(),
    ...statusColumns<Step>('draft'),
    ...metadataColumn(),
    ...positionColumn(),
    ...softDeleteColumns(),
    ...auditColumns(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('w_slug').on(t.organizationId, t.slug), uniqueIndex('w_pos').on(t.organizationId, t.position)],
)

const machine = defineStatusMachine<Step>('widget', 'draft', { draft: ['live'], live: ['retired'], retired: ['live'] })
const ordering = createOrdering(widgets)

let database: Database
const a = tenant()
const b = tenant()

beforeAll(async () => {
  database = await testDatabase()
  await database.db.execute(sql`create table test_widgets (
    id uuid primary key, organization_id uuid not null, name text not null, slug text not null,
    status text not null default 'draft', status_changed_at timestamptz not null default now(),
    metadata jsonb not null default '{}', position integer not null,
    is_deleted boolean not null default false, deleted_at timestamptz, deleted_by text,
    created_by text, modified_by text,
    created_at timestamptz not null default now(), updated_at timestamptz not null default now())`)
  await database.db.execute(sql`create unique index w_slug on test_widgets (organization_id, slug)`)
  await database.db.execute(sql`create unique index w_pos on test_widgets (organization_id, position)`)
})
afterAll(() => database.close())

const scope = (org: string) => eq(widgets.organizationId, org)

async function add(org: string, name: string) {
  return database.transaction(async (tx) => {
    const [row] = await tx
      .insert(widgets)
      .values({ organizationId: org, name, slug: await uniqueSlug(tx, widgets, scope(org), name), position: await ordering.nextPosition(tx, scope(org)), createdBy: 'user:x' })
      .returning()
    return row!
  })
}

const names = async (org: string) =>
  (await database.db.select({ name: widgets.name, position: widgets.position }).from(widgets).where(scope(org)).orderBy(asc(widgets.position))).map(
    (r) => `${r.position}:${r.name}`,
  )

describe('timestamps and ids', () => {
  it('fills a UUIDv7 id, created_at and updated_at, and moves updated_at on update', async () => {
    const w = await add(a.organizationId, 'Timestamps')
    expect(w.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/)
    expect(w.createdAt.getTime()).toBe(w.updatedAt.getTime())
    await new Promise((r) => setTimeout(r, 5))
    const [u] = await database.db.update(widgets).set({ name: 'Timestamps 2' }).where(eq(widgets.id, w.id)).returning()
    expect(u!.updatedAt.getTime()).toBeGreaterThan(w.updatedAt.getTime())
    expect(u!.createdAt.getTime()).toBe(w.createdAt.getTime())
  })
})

describe('slugs', () => {
  it('makes URL-friendly slugs', () => {
    expect(slugify('  Pompe à chaleur #3 (Nord) ')).toBe('pompe-a-chaleur-3-nord')
    expect(slugify('***')).toBe('item')
  })
  it('are unique per organisation, not across', async () => {
    const one = await add(a.organizationId, 'Well 12')
    const two = await add(a.organizationId, 'Well-12')
    const other = await add(b.organizationId, 'Well 12')
    expect([one.slug, two.slug, other.slug]).toEqual(['well-12', 'well-12-2', 'well-12'])
    await expect(
      database.db.insert(widgets).values({ organizationId: a.organizationId, name: 'x', slug: 'well-12', position: 999 }),
    ).rejects.toThrow()
  })
})

describe('status machine', () => {
  it('allows listed moves, stamps status_changed_at, and refuses others naming both states', async () => {
    const w = await add(a.organizationId, 'Machine')
    expect(w.status).toBe('draft')
    await new Promise((r) => setTimeout(r, 5))
    const from = await database.transaction((tx) => machine.transition(tx, widgets, eq(widgets.id, w.id), 'live'))
    expect(from).toBe('draft')
    const [live] = await database.db.select().from(widgets).where(eq(widgets.id, w.id))
    expect(live!.status).toBe('live')
    expect(live!.statusChangedAt.getTime()).toBeGreaterThan(w.statusChangedAt.getTime())
    const err = await database.transaction((tx) => machine.transition(tx, widgets, eq(widgets.id, w.id), 'draft')).catch((e) => e)
    expect(err).toBeInstanceOf(IllegalTransitionError)
    expect(err.status).toBe(409)
    expect(err.message).toBe('widget cannot move from live to draft')
    const [still] = await database.db.select().from(widgets).where(eq(widgets.id, w.id))
    expect(still!.status).toBe('live')
  })
})

describe('metadata', () => {
  it('gets and sets by dotted path, creating intermediate objects and keeping siblings', async () => {
    const w = await add(a.organizationId, 'Meta')
    const where = eq(widgets.id, w.id)
    await database.transaction((tx) => setMeta(tx, widgets, where, 'limits.max.rpm', 600))
    await database.transaction((tx) => setMeta(tx, widgets, where, 'limits.min', 1))
    await database.transaction((tx) => setMeta(tx, widgets, where, 'owner', 'ops'))
    const [row] = await database.db.select().from(widgets).where(where)
    expect(row!.metadata).toEqual({ limits: { max: { rpm: 600 }, min: 1 }, owner: 'ops' })
    expect(getMeta(row!.metadata, 'limits.max.rpm')).toBe(600)
    expect(getMeta(row!.metadata, 'limits.nope.deeper', 'fallback')).toBe('fallback')
    expect(() => getMeta(row!.metadata, 'a..b')).toThrow(/not a metadata path/)
    expect(() => getMeta(row!.metadata, '__proto__.x')).toThrow(/not a metadata path/)
  })
})

describe('ordering', () => {
  it('keeps positions dense and unique through move up, down, to, and removal', async () => {
    const org = tenant().organizationId
    const ids: Record<string, string> = {}
    for (const n of ['a', 'b', 'c', 'd', 'e']) ids[n] = (await add(org, n)).id
    expect(await names(org)).toEqual(['0:a', '1:b', '2:c', '3:d', '4:e'])
    await database.transaction((tx) => ordering.moveTo(tx, scope(org), ids.e!, 1))
    expect(await names(org)).toEqual(['0:a', '1:e', '2:b', '3:c', '4:d'])
    await database.transaction((tx) => ordering.moveTo(tx, scope(org), ids.a!, 3))
    expect(await names(org)).toEqual(['0:e', '1:b', '2:c', '3:a', '4:d'])
    await database.transaction((tx) => ordering.moveUp(tx, scope(org), ids.e!)) // already first
    await database.transaction((tx) => ordering.moveDown(tx, scope(org), ids.e!))
    expect(await names(org)).toEqual(['0:b', '1:e', '2:c', '3:a', '4:d'])
    expect(await database.transaction((tx) => ordering.moveTo(tx, scope(org), ids.b!, 99))).toBe(4)
    expect(await names(org)).toEqual(['0:e', '1:c', '2:a', '3:d', '4:b'])
    await database.transaction(async (tx) => {
      await hardDelete(tx, widgets, eq(widgets.id, ids.c!))
      await ordering.closeGap(tx, scope(org), 1)
    })
    expect(await names(org)).toEqual(['0:e', '1:a', '2:d', '3:b'])
  })
})

describe('soft delete', () => {
  it('hides deleted rows by default, records who, restores, and hard-deletes', async () => {
    const org = tenant()
    const w = await add(org.organizationId, 'Soft')
    const where = eq(widgets.id, w.id)
    expect(await database.transaction((tx) => softDelete(tx, widgets, where, org.ctx))).toBe(1)
    expect(await database.db.select().from(widgets).where(and(where, notDeleted(widgets)))).toHaveLength(0)
    const [hidden] = await database.db.select().from(widgets).where(and(where, visible(widgets, true)))
    expect(hidden!.isDeleted).toBe(true)
    expect(hidden!.deletedBy).toBe(`user:${org.userId}`)
    expect(hidden!.deletedAt).toBeInstanceOf(Date)
    expect(await database.transaction((tx) => softDelete(tx, widgets, where, org.ctx))).toBe(0)
    expect(await database.transaction((tx) => restore(tx, widgets, where))).toBe(1)
    const [back] = await database.db.select().from(widgets).where(and(where, notDeleted(widgets)))
    expect(back!.deletedAt).toBeNull()
    expect(await database.transaction((tx) => hardDelete(tx, widgets, where))).toBe(1)
    expect(await database.db.select().from(widgets).where(where)).toHaveLength(0)
  })
})
