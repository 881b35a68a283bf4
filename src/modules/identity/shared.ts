// What the identity services share: their dependencies, client details, session creation, the
// views they answer with, and audit events.
import { eq } from 'drizzle-orm'
import type { Database, Executor } from '../../core/db/database.ts'
import type { RequestContext } from '../../core/context.ts'
import { UnauthorizedError } from '../../core/errors.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { memberships, organizations, sessions, users, type Role } from './identity.schema.ts'
import { newOpaqueToken } from './tokens.ts'
import { describeUserAgent } from './userAgent.ts'

export interface IdentitySettings {
  signupOpen: boolean
  sessionIdleMs: number
  sessionMaxAgeMs: number
  invitationTtlMs: number
  passwordResetTtlMs: number
}

/** Cache evictions the services ask of the authenticator when they change credentials. */
export interface CredentialCache {
  forgetKey(id: string): void
  forgetSession(id: string): void
  forgetUser(userId: string): void
  forgetAll(): void
  flushUsage(): Promise<void>
}

export interface IdentityDeps {
  database: Database
  events: EventLog
  clock: () => Date
  settings: IdentitySettings
  cache: CredentialCache
}

export interface Client {
  ip: string | null
  userAgent: string | null
}

export type UserRow = typeof users.$inferSelect
export type OrganizationRow = typeof organizations.$inferSelect

export const toUserView = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  username: u.username,
  is_active: u.isActive,
  totp_enabled: u.totpEnabled,
  created_at: u.createdAt.toISOString(),
  updated_at: u.updatedAt.toISOString(),
})

export const toOrganizationView = (o: OrganizationRow) => ({
  id: o.id,
  name: o.name,
  slug: o.slug,
  settings: o.settings,
  created_at: o.createdAt.toISOString(),
  updated_at: o.updatedAt.toISOString(),
})

export async function openSession(tx: Executor, deps: IdentityDeps, userId: string, client: Client) {
  const now = deps.clock()
  const { token, hash } = newOpaqueToken('sess')
  const ua = describeUserAgent(client.userAgent ?? undefined)
  const expiresAt = new Date(now.getTime() + deps.settings.sessionMaxAgeMs)
  const [row] = await tx
    .insert(sessions)
    .values({ userId, tokenHash: hash, ipAddress: client.ip, userAgent: client.userAgent?.slice(0, 1000) ?? null, deviceType: ua.deviceType, browser: ua.browser, lastActive: now, expiresAt, createdAt: now, updatedAt: now })
    .returning({ id: sessions.id })
  return { token, sessionId: row!.id, expiresAt }
}

/** The user behind a request made with a session or key (404-proof: the row must exist). */
export async function currentUser(db: Executor, ctx: RequestContext): Promise<UserRow> {
  const userId = ctx.credential?.userId
  if (!userId) throw new UnauthorizedError('sign in first')
  const [user] = await db.select().from(users).where(eq(users.id, userId))
  if (!user) throw new UnauthorizedError('this account no longer exists')
  return user
}

export async function organizationsOf(db: Executor, userId: string): Promise<{ organization: OrganizationRow; role: Role }[]> {
  const found = await db
    .select({ organization: organizations, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(eq(memberships.userId, userId))
    .orderBy(memberships.createdAt)
  return found
}

/**
 * An event about a user's own account (log-in, password, second factor): written once into each
 * organisation the user belongs to, so each organisation's audit trail shows its members' sign-ins;
 * with no organisation (an unknown e-mail) it is written once without one.
 */
export async function auditUserEvent(tx: Executor, deps: IdentityDeps, ctx: RequestContext, userId: string | null, event: Omit<NewEvent, 'entityType' | 'entityId'> & { entityId?: string }) {
  const orgs = userId ? (await tx.select({ id: memberships.organizationId }).from(memberships).where(eq(memberships.userId, userId))).map((m) => m.id) : []
  const targets = orgs.length ? orgs : [null]
  for (const organizationId of targets) {
    await deps.events.appendEvent(tx, { ...ctx, organizationId }, { entityType: 'user', entityId: event.entityId ?? userId ?? '00000000-0000-0000-0000-000000000000', type: event.type, data: event.data ?? {} })
  }
}

/** Postgres unique violations (23505): one helper for every module, in src/core/db. */
export { isUniqueViolation } from '../../core/db/violations.ts'
