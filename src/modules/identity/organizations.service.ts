// The organisation a request acts in: its settings, its members and their roles, invitations.
// Only an owner grants or takes the owner role, and an organisation always keeps one owner.
import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import { hasScope, type RequestContext } from '../../core/context.ts'
import type { Executor } from '../../core/db/database.ts'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { apiKeys, invitations, memberships, organizations, users, type OrganizationSettings, type Role } from './identity.schema.ts'
import { checkPassword, hashPassword } from './passwords.ts'
import { newOpaqueToken, sha256 } from './tokens.ts'
import { openSession, toOrganizationView, toUserView, type Client, type IdentityDeps } from './shared.ts'
import type { Accounts } from './accounts.service.ts'
import { normaliseEmail } from './accounts.service.ts'

type InvitationRow = typeof invitations.$inferSelect

export const toInvitationView = (i: InvitationRow, now: Date) => ({
  id: i.id,
  organization_id: i.organizationId,
  email: i.email,
  role: i.role,
  status: (i.acceptedAt ? 'accepted' : i.revokedAt ? 'revoked' : i.expiresAt <= now ? 'expired' : 'pending') as 'accepted' | 'revoked' | 'expired' | 'pending',
  invited_by: i.invitedBy,
  expires_at: i.expiresAt.toISOString(),
  accepted_at: i.acceptedAt?.toISOString() ?? null,
  created_at: i.createdAt.toISOString(),
})

function checkTimeZone(tz: string) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
  } catch {
    throw new ValidationError(`${tz} is not an IANA time zone`, [{ path: '/body/settings/time_zone', message: 'is not an IANA time zone (e.g. Europe/Oslo)' }])
  }
}

export function createOrganizations(deps: IdentityDeps & { accounts: Accounts }) {
  const { database, clock } = deps

  const requireOwnerFor = (ctx: RequestContext, ...roles: (Role | undefined)[]) => {
    if (roles.includes('owner') && !hasScope(ctx, 'owner')) throw new ForbiddenError('only an owner may grant or take the owner role', { required_scope: 'owner' })
  }

  async function memberOf(tx: Executor, ctx: RequestContext, userId: string) {
    const [m] = await tx
      .select({ role: memberships.role, user: users, createdAt: memberships.createdAt })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(inOrg(memberships, ctx), eq(memberships.userId, userId)))
    if (!m) throw new NotFoundError(`member ${userId} not found`)
    return m
  }

  /** Serialises membership changes of one organisation, so two owners cannot demote each other at once. */
  const lockOrganization = (tx: Executor, ctx: RequestContext) => tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, orgOf(ctx))).for('update')

  async function keepsAnOwner(tx: Executor, ctx: RequestContext, leaving: string) {
    const [{ n }] = (await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(memberships)
      .where(and(inOrg(memberships, ctx), eq(memberships.role, 'owner'), sql`${memberships.userId} <> ${leaving}`))) as [{ n: number }]
    if (n === 0) throw new ConflictError('an organisation needs at least one owner: make someone else owner first')
  }

  const memberView = (m: { role: Role; user: typeof users.$inferSelect; createdAt: Date }) => ({
    user_id: m.user.id,
    email: m.user.email,
    username: m.user.username,
    role: m.role,
    is_active: m.user.isActive,
    joined_at: m.createdAt.toISOString(),
  })

  return {
    async get(ctx: RequestContext) {
      const [org] = await database.db.select().from(organizations).where(eq(organizations.id, orgOf(ctx)))
      if (!org) throw new NotFoundError('organisation not found')
      return toOrganizationView(org)
    },

    async update(ctx: RequestContext, patch: { name?: string | undefined; settings?: Partial<OrganizationSettings> | undefined }) {
      if (patch.settings?.time_zone) checkTimeZone(patch.settings.time_zone)
      return database.transaction(async (tx) => {
        const [org] = await tx.select().from(organizations).where(eq(organizations.id, orgOf(ctx)))
        if (!org) throw new NotFoundError('organisation not found')
        const settings = { ...org.settings, ...patch.settings }
        const [updated] = await tx
          .update(organizations)
          .set({ ...(patch.name ? { name: patch.name } : {}), settings })
          .where(eq(organizations.id, org.id))
          .returning()
        await deps.events.appendEvent(tx, ctx, { type: 'organization.updated', entityType: 'organization', entityId: org.id, data: { name: updated!.name, settings } })
        return toOrganizationView(updated!)
      })
    },

    async listMembers(ctx: RequestContext) {
      const found = await database.db
        .select({ role: memberships.role, user: users, createdAt: memberships.createdAt })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(inOrg(memberships, ctx))
        .orderBy(memberships.createdAt)
      return { data: found.map(memberView), next_cursor: null }
    },

    getMember: (ctx: RequestContext, userId: string) => memberOf(database.db, ctx, userId).then(memberView),

    async changeRole(ctx: RequestContext, userId: string, role: Role) {
      const view = await database.transaction(async (tx) => {
        await lockOrganization(tx, ctx)
        const m = await memberOf(tx, ctx, userId)
        requireOwnerFor(ctx, m.role, role)
        if (m.role === role) return memberView(m)
        if (m.role === 'owner') await keepsAnOwner(tx, ctx, userId)
        await tx.update(memberships).set({ role }).where(and(inOrg(memberships, ctx), eq(memberships.userId, userId)))
        await deps.events.appendEvent(tx, ctx, { type: 'membership.role_changed', entityType: 'user', entityId: userId, data: { from: m.role, to: role } })
        return memberView({ ...m, role })
      })
      deps.cache.forgetAll()
      return view
    },

    async removeMember(ctx: RequestContext, userId: string) {
      await database.transaction(async (tx) => {
        await lockOrganization(tx, ctx)
        const m = await memberOf(tx, ctx, userId)
        requireOwnerFor(ctx, m.role)
        if (m.role === 'owner') await keepsAnOwner(tx, ctx, userId)
        await tx.delete(memberships).where(and(inOrg(memberships, ctx), eq(memberships.userId, userId)))
        // Their keys in this organisation end with the membership; a later re-invitation must not revive them.
        await tx
          .update(apiKeys)
          .set({ isActive: false, revokedAt: clock() })
          .where(and(inOrg(apiKeys, ctx), eq(apiKeys.userId, userId), eq(apiKeys.isActive, true)))
        await deps.events.appendEvent(tx, ctx, { type: 'membership.removed', entityType: 'user', entityId: userId, data: { role: m.role } })
      })
      deps.cache.forgetUser(userId)
    },

    async invite(ctx: RequestContext, input: { email: string; role: Role }) {
      requireOwnerFor(ctx, input.role)
      const { token, hash } = newOpaqueToken('inv')
      const now = clock()
      return database.transaction(async (tx) => {
        const [member] = await tx
          .select({ id: users.id })
          .from(memberships)
          .innerJoin(users, eq(users.id, memberships.userId))
          .where(and(inOrg(memberships, ctx), sql`lower(${users.email}) = ${normaliseEmail(input.email)}`))
        if (member) throw new ConflictError(`${input.email} is already a member of this organisation`)
        const [row] = await tx
          .insert(invitations)
          .values({ organizationId: orgOf(ctx), email: input.email.trim(), role: input.role, tokenHash: hash, invitedBy: ctx.credential?.userId ?? null, expiresAt: new Date(now.getTime() + deps.settings.invitationTtlMs), createdAt: now })
          .returning()
        await deps.events.appendEvent(tx, ctx, { type: 'invitation.created', entityType: 'invitation', entityId: row!.id, data: { email: row!.email, role: row!.role } })
        return { ...toInvitationView(row!, now), token }
      })
    },

    async listInvitations(ctx: RequestContext, page: { limit: number; cursor?: string | undefined }) {
      const result = await listNewestFirst(database.db, invitations, [inOrg(invitations, ctx)], page)
      const now = clock()
      return { data: result.data.map((i) => toInvitationView(i, now)), next_cursor: result.next_cursor }
    },

    async getInvitation(ctx: RequestContext, id: string) {
      const [row] = await database.db.select().from(invitations).where(and(inOrg(invitations, ctx), eq(invitations.id, id)))
      if (!row) throw new NotFoundError(`invitation ${id} not found`)
      return toInvitationView(row, clock())
    },

    async revokeInvitation(ctx: RequestContext, id: string) {
      return database.transaction(async (tx) => {
        const [row] = await tx.select().from(invitations).where(and(inOrg(invitations, ctx), eq(invitations.id, id)))
        if (!row) throw new NotFoundError(`invitation ${id} not found`)
        if (row.acceptedAt) throw new ConflictError('this invitation was already accepted: remove the member instead')
        if (row.revokedAt) return toInvitationView(row, clock())
        const [done] = await tx.update(invitations).set({ revokedAt: clock() }).where(and(inOrg(invitations, ctx), eq(invitations.id, id))).returning()
        await deps.events.appendEvent(tx, ctx, { type: 'invitation.revoked', entityType: 'invitation', entityId: id, data: { email: row.email } })
        return toInvitationView(done!, clock())
      })
    },

    /**
     * Accepting an invitation creates the user (new e-mail) or links the existing one, who signs
     * in to do it: password, second factor when the account has one, under the log-in throttle,
     * recorded in the login history. Either way the answer is a new session.
     */
    async accept(
      ctx: RequestContext,
      input: { token: string; password: string; username?: string | undefined; totp_code?: string | undefined; backup_code?: string | undefined },
      client: Client,
    ) {
      const now = clock()
      const [inv] = await database.db
        .select()
        .from(invitations)
        .where(and(eq(invitations.tokenHash, sha256(input.token)), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now)))
      if (!inv) throw new ValidationError('this invitation is unknown, used, revoked or expired', [{ path: '/body/token', message: 'is unknown, used, revoked or expired' }])

      const join = async (tx: Executor, user: typeof users.$inferSelect, created: boolean) => {
        // An invitation is only as good as its inviter's authority now: removed or demoted
        // admins' invitations stop working.
        const [inviter] = inv.invitedBy
          ? await tx.select({ role: memberships.role }).from(memberships).where(and(eq(memberships.organizationId, inv.organizationId), eq(memberships.userId, inv.invitedBy)))
          : []
        const allowed = inviter && (inv.role === 'owner' ? inviter.role === 'owner' : inviter.role === 'owner' || inviter.role === 'admin')
        if (!allowed) throw new ValidationError('this invitation is no longer valid: whoever sent it may no longer invite', [{ path: '/body/token', message: 'was sent by someone who may no longer invite' }])
        const taken = await tx
          .update(invitations)
          .set({ acceptedAt: now, acceptedBy: user.id })
          .where(and(eq(invitations.id, inv.id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
          .returning({ id: invitations.id })
        if (taken.length === 0) throw new ConflictError('this invitation was just accepted or revoked')
        const [member] = await tx.select({ role: memberships.role }).from(memberships).where(and(eq(memberships.organizationId, inv.organizationId), eq(memberships.userId, user.id)))
        if (member) throw new ConflictError('you are already a member of this organisation')
        await tx.insert(memberships).values({ organizationId: inv.organizationId, userId: user.id, role: inv.role })
        const [org] = await tx.select().from(organizations).where(eq(organizations.id, inv.organizationId))
        const session = await openSession(tx, deps, user.id, client)
        const as: RequestContext = { ...ctx, actor: { type: 'user', id: user.id }, organizationId: inv.organizationId }
        await deps.events.appendEvents(tx, as, [
          ...(created ? [{ type: 'user.created', entityType: 'user', entityId: user.id, data: { email: user.email, username: user.username } }] : []),
          { type: 'invitation.accepted', entityType: 'invitation', entityId: inv.id, data: { email: inv.email } },
          { type: 'membership.added', entityType: 'user', entityId: user.id, data: { role: inv.role, invitation_id: inv.id, email: user.email, username: user.username } },
        ])
        return { token: session.token, expires_at: session.expiresAt.toISOString(), user: toUserView(user), organization: toOrganizationView(org!) }
      }

      const [existing] = await database.db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${normaliseEmail(inv.email)}`)
      if (existing) {
        const answer = await deps.accounts.signIn(ctx, { ...input, email: inv.email }, client, 'invitation', (tx, user) => join(tx, user, false))
        // The user's cached sessions still list their old memberships: drop them.
        deps.cache.forgetUser(existing.id)
        return answer
      }
      checkPassword(input.password, '/body/password')
      const passwordHash = await hashPassword(input.password)
      return database.transaction(async (tx) => join(tx, await deps.accounts.insertUser(tx, inv.email, passwordHash, input.username), true))
    },
  }
}

export type Organizations = ReturnType<typeof createOrganizations>
