// Users and organisations as entities (seed 001's `user` and `organization` entity types), so
// the relationship graph can say "user manages project" or "organisation owns device". Identity
// owns the records; this module keeps a mirror entity of each in the same transaction as the
// identity event that changes it (EventLog.react), so a mirror is never out of step:
// - organization.created / organization.updated: the organisation's entity;
// - membership.added / role_changed / removed: the member's user entity in that organisation
//   (a user in two organisations has one mirror in each, as every tenant row belongs to one),
//   and its `belongs_to` relationship to the organisation, ended when the membership ends.
// Mirrors and their types are `managed_by: identity`: the API reads them but does not change them.
import { and, eq, sql } from 'drizzle-orm'
import { newId } from '../../core/behaviours/columns.ts'
import type { RequestContext } from '../../core/context.ts'
import type { Executor } from '../../core/db/database.ts'
import { ValidationError } from '../../core/errors.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { isDeviceType } from '../../core/tenancy.ts'
import { entities, objectTypes, relationships, type EntityRow } from './assets.schema.ts'
import type { Entities } from './entities.service.ts'
import { UUID, type NewProperty, type ObjectTypes } from './objectTypes.service.ts'

export const MANAGED_BY = 'identity'

const MIRROR_TYPES: Record<'organization' | 'user', { description: string; properties: NewProperty[] }> = {
  organization: {
    description: 'An organisation (mirrors its identity record)',
    properties: [
      { name: 'slug', data_type: 'string' },
      { name: 'timezone', data_type: 'string' },
      { name: 'unit_system', data_type: 'string' },
      { name: 'contact_email', data_type: 'string' },
      { name: 'contact_phone', data_type: 'string' },
      { name: 'website', data_type: 'string' },
      { name: 'address', data_type: 'string' },
      { name: 'city', data_type: 'string' },
      { name: 'state', data_type: 'string' },
      { name: 'country', data_type: 'string' },
    ],
  },
  user: {
    description: 'A member of the organisation (mirrors their identity record)',
    properties: [
      { name: 'email', data_type: 'string', required: true },
      { name: 'username', data_type: 'string' },
      { name: 'role', data_type: 'enum', enum_values: ['owner', 'admin', 'editor', 'viewer'] },
      { name: 'department', data_type: 'string' },
    ],
  },
}

export function installMirrors(events: EventLog, assets: { types: ObjectTypes; entities: Entities }) {
  async function mirrorType(tx: Executor, ctx: RequestContext, kind: 'organization' | 'user') {
    const [found] = await tx.select().from(objectTypes).where(and(eq(objectTypes.organizationId, ctx.organizationId!), eq(objectTypes.name, kind)))
    if (found) return found
    const view = await assets.types.createType(ctx, { name: kind, ...MIRROR_TYPES[kind] }, MANAGED_BY, tx)
    return (await assets.types.findType(tx, ctx, view.id))!
  }

  async function mirrorOf(tx: Executor, ctx: RequestContext, key: string): Promise<EntityRow | undefined> {
    const [row] = await tx.select().from(entities).where(and(eq(entities.organizationId, ctx.organizationId!), eq(entities.externalId, key))).for('update')
    return row
  }

  /** Creates or changes a mirror; returns it. */
  async function upsert(tx: Executor, ctx: RequestContext, kind: 'organization' | 'user', id: string, name: string, properties: Record<string, unknown>): Promise<EntityRow> {
    const type = await mirrorType(tx, ctx, kind)
    const key = `${kind}:${id}`
    const existing = await mirrorOf(tx, ctx, key)
    if (!existing) {
      // A user's name is unique per type: two members named alike keep their e-mail as the name.
      const clash = await tx.select({ id: entities.id }).from(entities).where(and(eq(entities.organizationId, ctx.organizationId!), eq(entities.objectTypeId, type.id), sql`lower(${entities.name}) = lower(${name})`))
      return (await assets.entities.insertOne(tx, ctx, { type: type.id, name: clash.length ? `${name} (${id.slice(0, 8)})` : name, properties, external_id: key }, MANAGED_BY)).entity
    }
    const merged = { ...existing.properties, ...properties }
    return assets.entities.updateOne(tx, ctx, { entity: existing, type }, { name, properties: merged, status: 'active' }).then(async (row) => {
      if (!row.isActive) {
        const [restored] = await tx.update(entities).set({ isActive: true }).where(eq(entities.id, row.id)).returning()
        await events.appendEvent(tx, ctx, { type: 'entity.restored', entityType: kind, entityId: row.id, data: { name: row.name, entity_type: kind } })
        return restored!
      }
      return row
    })
  }

  async function organizationEntity(tx: Executor, ctx: RequestContext): Promise<EntityRow | undefined> {
    return mirrorOf(tx, ctx, `organization:${ctx.organizationId}`)
  }

  async function react(tx: Executor, ctx: RequestContext, batch: NewEvent[]) {
    for (const e of batch) {
      // Every identity event names its organisation through the context; the organisation's own events also by entity id.
      const orgId = e.type.startsWith('organization.') ? e.entityId : ctx.organizationId
      if (!orgId) continue
      const c: RequestContext = { ...ctx, organizationId: orgId }
      const data = e.data ?? {}
      switch (e.type) {
        case 'organization.created':
        case 'organization.updated': {
          const settings = (data.settings ?? {}) as { time_zone?: string; unit_system?: string }
          await upsert(tx, c, 'organization', e.entityId, String(data.name), {
            ...(data.slug ? { slug: String(data.slug) } : {}),
            ...(settings.time_zone ? { timezone: settings.time_zone } : {}),
            ...(settings.unit_system ? { unit_system: settings.unit_system } : {}),
          })
          break
        }
        case 'membership.added': {
          const user = await upsert(tx, c, 'user', e.entityId, String(data.username ?? data.email ?? e.entityId), { email: String(data.email ?? ''), ...(data.username ? { username: String(data.username) } : {}), role: String(data.role) })
          const org = (await organizationEntity(tx, c)) ?? (await upsert(tx, c, 'organization', orgId, 'organization', {}))
          const now = new Date()
          const [rel] = await tx
            .insert(relationships)
            .values({ id: newId(), organizationId: orgId, fromEntityId: user.id, toEntityId: org.id, relationshipType: 'belongs_to', properties: { role: String(data.role) }, validFrom: now, createdBy: MANAGED_BY })
            .returning()
          await events.appendEvent(tx, c, { type: 'relationship.created', entityType: 'relationship', entityId: rel!.id, data: { from_entity_id: user.id, to_entity_id: org.id, relationship_type: 'belongs_to' } })
          break
        }
        case 'membership.role_changed': {
          const user = await mirrorOf(tx, c, `user:${e.entityId}`)
          if (user) await upsert(tx, c, 'user', e.entityId, user.name, { role: String(data.to) })
          break
        }
        case 'membership.removed': {
          const user = await mirrorOf(tx, c, `user:${e.entityId}`)
          if (!user) break
          const ended = await tx
            .update(relationships)
            .set({ validTo: sql`greatest(now(), ${relationships.validFrom} + interval '1 microsecond')` })
            .where(and(eq(relationships.organizationId, orgId), sql`(${relationships.fromEntityId} = ${user.id} or ${relationships.toEntityId} = ${user.id})`, sql`${relationships.validTo} is null`))
            .returning({ id: relationships.id })
          await tx.update(entities).set({ isActive: false }).where(eq(entities.id, user.id))
          await events.appendEvents(tx, c, [
            ...ended.map((r) => ({ type: 'relationship.ended', entityType: 'relationship', entityId: r.id, data: { reason: 'membership removed' } })),
            { type: 'entity.deleted', entityType: 'user', entityId: user.id, data: { name: user.name, entity_type: 'user' } },
          ])
          break
        }
      }
    }
  }

  events.react(['organization.created', 'organization.updated', 'membership.'], react)

  // A device key acts for one device: its device_id must be a live entity of the device family
  // (`device`, `device.esp32`...) in the key's organisation. Refusing here rolls back the key.
  events.react(['api_key.created'], async (tx, ctx, batch) => {
    for (const e of batch) {
      const deviceId = e.data?.device_id
      if (typeof deviceId !== 'string') continue
      const [found] = UUID.test(deviceId)
        ? await tx
            .select({ name: objectTypes.name, isActive: entities.isActive })
            .from(entities)
            .innerJoin(objectTypes, eq(objectTypes.id, entities.objectTypeId))
            .where(and(eq(entities.organizationId, ctx.organizationId!), eq(entities.id, deviceId)))
        : []
      const problem = !found ? 'is not an entity of this organisation' : !isDeviceType(found.name) ? `is a ${found.name}, not a device (a type of the device family)` : !found.isActive ? 'is a deleted device' : null
      if (problem) throw new ValidationError(`device_id ${problem}`, [{ path: '/body/device_id', message: problem }])
    }
  })
}
