// Tenant isolation lives here: every tenant-owned read and write goes through `orgOf(ctx)` and
// `inOrg(table, ctx)`, so a row of another organisation is invisible (404), never reachable.
import { eq, type SQL } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { RequestContext } from './context.ts'
import { NotFoundError, UnauthorizedError } from './errors.ts'

export function orgOf(ctx: RequestContext): string {
  if (!ctx.organizationId || !ctx.actor) throw new UnauthorizedError('sign in to an organisation to use this resource')
  return ctx.organizationId
}

export function inOrg(table: { organizationId: PgColumn }, ctx: RequestContext): SQL {
  return eq(table.organizationId, orgOf(ctx))
}

/**
 * A device key acts for one device entity only: any other device is invisible to it (404), as
 * another organisation's rows are. Routes that take a device id (readings, device events,
 * commands) call this; other credentials pass.
 */
export function assertDeviceAccess(ctx: RequestContext, deviceId: string): void {
  const own = ctx.credential?.deviceId
  if (own && own !== deviceId) throw new NotFoundError(`device ${deviceId} not found`)
}

/** Whether an object type is of the device family (`device`, `device.esp32`...): what device keys, readings and commands address. */
export const isDeviceType = (typeName: string): boolean => /^device(\.|$)/i.test(typeName)
