// Device commands (seed 001 `command.sent`): a user queues a command for a device; the device
// fetches its pending commands with its key (each fetch delivers them, oldest first, taken with
// SKIP LOCKED so two fetches never hand out one command twice) and acknowledges or fails each.
// A command not fetched before it expires is expired at the next fetch; queued and delivered
// ones can be cancelled. Every move writes its event.
import { and, asc, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { defineStatusMachine } from '../../core/behaviours/statusMachine.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database } from '../../core/db/database.ts'
import { ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { assertDeviceAccess, inOrg, isDeviceType, orgOf } from '../../core/tenancy.ts'
import type { Assets } from '../assets/index.ts'
import { deviceCommands, type CommandStatus, type DeviceCommandRow } from './measurements.schema.ts'


export const commandStatus = defineStatusMachine<CommandStatus>('command', 'queued', {
  queued: ['delivered', 'expired', 'cancelled'],
  delivered: ['delivered', 'acknowledged', 'failed', 'expired', 'cancelled'],
  acknowledged: [],
  failed: [],
  expired: [],
  cancelled: [],
})

export const toCommandView = (c: DeviceCommandRow) => ({
  id: c.id,
  device_id: c.deviceId,
  command: c.command,
  params: c.params,
  status: c.status,
  status_changed_at: c.statusChangedAt.toISOString(),
  result: (c.result ?? null) as unknown,
  expires_at: c.expiresAt?.toISOString() ?? null,
  delivered_at: c.deliveredAt?.toISOString() ?? null,
  finished_at: c.finishedAt?.toISOString() ?? null,
  deliveries: c.deliveries,
  created_by: c.createdBy,
  created_at: c.createdAt.toISOString(),
})

export function createCommands({ database, events, assets, clock }: { database: Database; events: EventLog; assets: Pick<Assets, 'entities'>; clock: () => Date }) {
  const db = database.db

  async function device(ctx: RequestContext, id: string) {
    const { entity, type } = await assets.entities.findEntity(db, ctx, id)
    if (!isDeviceType(type.name)) throw new NotFoundError(`device ${id} not found (${entity.name} is a ${type.name})`)
    if (!entity.isActive) throw new ValidationError(`device ${entity.name} is deleted`, [{ path: '/params/id', message: 'is a deleted device' }])
    return entity
  }

  return {
    async send(ctx: RequestContext, deviceId: string, input: { command: string; params?: Record<string, unknown> | undefined; expires_in_seconds?: number | undefined }) {
      const d = await device(ctx, deviceId)
      return database.transaction(async (tx) => {
        const [row] = await tx
          .insert(deviceCommands)
          .values({ organizationId: orgOf(ctx), deviceId: d.id, command: input.command, params: input.params ?? {}, expiresAt: input.expires_in_seconds ? new Date(clock().getTime() + input.expires_in_seconds * 1000) : null, createdBy: actorLabel(ctx.actor) })
          .returning()
        await events.appendEvent(tx, ctx, { type: 'command.sent', entityType: 'device_command', entityId: row!.id, data: { device_id: d.id, device: d.name, command: row!.command, params: row!.params } })
        return toCommandView(row!)
      })
    },

    async list(ctx: RequestContext, deviceId: string, q: { limit: number; cursor?: string | undefined; status?: CommandStatus | undefined }) {
      assertDeviceAccess(ctx, deviceId)
      await device(ctx, deviceId)
      const conds = [inOrg(deviceCommands, ctx), eq(deviceCommands.deviceId, deviceId)]
      if (q.status) conds.push(eq(deviceCommands.status, q.status))
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        conds.push(sql`(${deviceCommands.createdAt}, ${deviceCommands.id}) < (${ts}::timestamptz, ${id}::uuid)`)
      }
      const found = await db.select({ c: deviceCommands, key: timestampKey(deviceCommands.createdAt) }).from(deviceCommands).where(and(...conds)).orderBy(desc(deviceCommands.createdAt), desc(deviceCommands.id)).limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.c.id])
      return { data: page.data.map((r) => toCommandView(r.c)), next_cursor: page.next_cursor }
    },

    async cancel(ctx: RequestContext, id: string) {
      if (!UUID.test(id)) throw new NotFoundError(`command ${id} not found`)
      return database.transaction(async (tx) => {
        const where = and(inOrg(deviceCommands, ctx), eq(deviceCommands.id, id))!
        await commandStatus.transition(tx, deviceCommands, where, 'cancelled')
        const [row] = await tx.update(deviceCommands).set({ finishedAt: clock() }).where(where).returning()
        await events.appendEvent(tx, ctx, { type: 'command.cancelled', entityType: 'device_command', entityId: id, data: { device_id: row!.deviceId, command: row!.command } })
        return toCommandView(row!)
      })
    },

    /** The calling device's pending commands, oldest first: each is delivered (again, if it was before but not acknowledged). */
    async fetch(ctx: RequestContext, limit: number) {
      const deviceId = ctx.credential?.deviceId
      if (!deviceId) throw new ForbiddenError('commands are fetched with a device key', { required: 'a device key' })
      return database.transaction(async (tx) => {
        const now = clock()
        const expired = await tx
          .update(deviceCommands)
          .set({ status: 'expired', statusChangedAt: now, finishedAt: now })
          .where(and(inOrg(deviceCommands, ctx), eq(deviceCommands.deviceId, deviceId), sql`${deviceCommands.status} in ('queued', 'delivered')`, sql`${deviceCommands.expiresAt} <= ${now.toISOString()}::timestamptz`))
          .returning()
        const ids = await tx
          .select({ id: deviceCommands.id })
          .from(deviceCommands)
          .where(and(inOrg(deviceCommands, ctx), eq(deviceCommands.deviceId, deviceId), sql`${deviceCommands.status} in ('queued', 'delivered')`))
          .orderBy(asc(deviceCommands.createdAt), asc(deviceCommands.id))
          .limit(limit)
          .for('update', { skipLocked: true })
        const delivered = ids.length
          ? await tx
              .update(deviceCommands)
              .set({ status: 'delivered', statusChangedAt: now, deliveredAt: now, deliveries: sql`${deviceCommands.deliveries} + 1` })
              .where(sql`${deviceCommands.id} = any(${`{${ids.map((r) => r.id).join(',')}}`}::uuid[])`)
              .returning()
          : []
        await events.appendEvents(tx, ctx, [
          ...expired.map((c) => ({ type: 'command.expired', entityType: 'device_command', entityId: c.id, data: { device_id: deviceId, command: c.command } })),
          ...delivered.map((c) => ({ type: 'command.delivered', entityType: 'device_command', entityId: c.id, data: { device_id: deviceId, command: c.command, deliveries: c.deliveries } })),
        ])
        delivered.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || x.id.localeCompare(y.id))
        return { data: delivered.map(toCommandView) }
      })
    },

    /** The device reports the outcome of a command it was delivered. */
    async finish(ctx: RequestContext, id: string, input: { status: 'acknowledged' | 'failed'; result?: unknown }) {
      const deviceId = ctx.credential?.deviceId
      if (!deviceId) throw new ForbiddenError('commands are acknowledged with a device key', { required: 'a device key' })
      if (!UUID.test(id)) throw new NotFoundError(`command ${id} not found`)
      return database.transaction(async (tx) => {
        const where = and(inOrg(deviceCommands, ctx), eq(deviceCommands.id, id), eq(deviceCommands.deviceId, deviceId))!
        await commandStatus.transition(tx, deviceCommands, where, input.status)
        const [row] = await tx.update(deviceCommands).set({ finishedAt: clock(), result: (input.result ?? null) as never }).where(where).returning()
        await events.appendEvent(tx, ctx, { type: `command.${input.status}`, entityType: 'device_command', entityId: id, data: { device_id: deviceId, command: row!.command, result: (input.result ?? null) as never } })
        return toCommandView(row!)
      })
    },
  }
}

export type Commands = ReturnType<typeof createCommands>
