// Accounts: sign-up, log-in (with a second factor), log-out, sessions, login history, password
// change and reset. Failed log-ins are recorded and throttled before the error is answered.
import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { ConflictError, DomainError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../core/errors.ts'
import { slugify, uniqueSlug } from '../../core/behaviours/slug.ts'
import { decodeCursor, listNewestFirst, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { backupCodes, loginHistory, memberships, organizations, passwordResets, sessions, users } from './identity.schema.ts'
import { checkPassword, hashPassword, verifyAgainstNothing, verifyPassword } from './passwords.ts'
import { ACCOUNT_POLICY, ADDRESS_POLICY, accountKey, addressKey, clearThrottle, releaseAttempt, reserveAttempt, type ThrottlePolicy } from './throttle.ts'
import { matchTotpStep } from './totp.ts'
import { newOpaqueToken, normaliseBackupCode, sha256 } from './tokens.ts'
import { auditUserEvent, currentUser, isUniqueViolation, openSession, organizationsOf, toOrganizationView, toUserView, type Client, type IdentityDeps, type UserRow } from './shared.ts'
import type { Executor } from '../../core/db/database.ts'

/** Raised when the password was right but the account has a second factor and none was given. */
export class SecondFactorRequiredError extends DomainError {
  readonly status = 401
  readonly type = '/problems/second-factor-required'
  readonly title = 'Second factor required'
}

const WRONG_CREDENTIALS = 'the e-mail or password is wrong'

export const normaliseEmail = (email: string) => email.trim().toLowerCase()

async function freeUsername(tx: Executor, email: string, wanted?: string): Promise<string> {
  const base = (wanted ?? email.split('@')[0]!).toLowerCase().replace(/[^a-z0-9._-]+/g, '').slice(0, 40) || 'user'
  const taken = new Set(
    (await tx.select({ u: users.username }).from(users).where(sql`lower(${users.username}) like ${base + '%'}`)).map((r) => r.u.toLowerCase()),
  )
  if (!taken.has(base)) return base
  if (wanted) throw new ConflictError(`the username ${wanted} is taken`, { field: 'username' })
  for (let n = 2; ; n++) if (!taken.has(`${base}${n}`)) return `${base}${n}`
}

export function createAccounts(deps: IdentityDeps) {
  const { database, clock } = deps

  /** Creates a user (or reuses the row given) inside `tx`; the password is hashed beforehand. */
  async function insertUser(tx: Executor, email: string, passwordHash: string, username?: string) {
    const [existing] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${normaliseEmail(email)}`)
    if (existing) throw new ConflictError('an account with this e-mail already exists: sign in, or reset its password')
    const name = await freeUsername(tx, email, username)
    try {
      const [user] = await tx.insert(users).values({ email: email.trim(), username: name, passwordHash }).returning()
      return user!
    } catch (err) {
      if (isUniqueViolation(err, 'users_email_key')) throw new ConflictError('an account with this e-mail already exists: sign in, or reset its password')
      if (isUniqueViolation(err, 'users_username_key') && username) throw new ConflictError(`the username ${username} is taken`, { field: 'username' })
      throw err
    }
  }

  async function signup(ctx: RequestContext, input: { organization_name: string; email: string; password: string; username?: string | undefined }, client: Client) {
    if (!deps.settings.signupOpen) throw new ForbiddenError('open sign-up is turned off here: ask an administrator of your organisation for an invitation')
    checkPassword(input.password, '/body/password')
    const passwordHash = await hashPassword(input.password)
    // Two sign-ups racing for one slug or derived username: the loser picks again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await createOwner(ctx, input, passwordHash, client)
      } catch (err) {
        if (attempt >= 3 || !(isUniqueViolation(err, 'organizations_slug_key') || (isUniqueViolation(err, 'users_username_key') && !input.username))) throw err
      }
    }
  }

  async function createOwner(ctx: RequestContext, input: { organization_name: string; email: string; username?: string | undefined }, passwordHash: string, client: Client) {
    return database.transaction(async (tx) => {
      // Sign-ups for one organisation name take turns, so each picks a free slug first time
      // (on PostgreSQL four racers used to exhaust the retries); other clashes still retry.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`identity.organization-slug:${slugify(input.organization_name, 50)}`}))`)
      const user = await insertUser(tx, input.email, passwordHash, input.username)
      const slug = await uniqueSlug(tx, organizations, sql`true`, input.organization_name, undefined, 50)
      const [org] = await tx
        .insert(organizations)
        .values({ name: input.organization_name, slug, settings: { unit_system: 'SI', time_zone: 'UTC' } })
        .returning()
      await tx.insert(memberships).values({ organizationId: org!.id, userId: user.id, role: 'owner' })
      const session = await openSession(tx, deps, user.id, client)
      const as: RequestContext = { ...ctx, actor: { type: 'user', id: user.id }, organizationId: org!.id }
      await deps.events.appendEvents(tx, as, [
        { type: 'organization.created', entityType: 'organization', entityId: org!.id, data: { name: org!.name, slug } },
        { type: 'user.created', entityType: 'user', entityId: user.id, data: { email: user.email, username: user.username } },
        { type: 'membership.added', entityType: 'user', entityId: user.id, data: { role: 'owner', email: user.email, username: user.username } },
        { type: 'auth.signed_up', entityType: 'user', entityId: user.id, data: { ip: client.ip } },
      ])
      return { token: session.token, expires_at: session.expiresAt.toISOString(), user: toUserView(user), organization: toOrganizationView(org!) }
    })
  }

  type Attempt<T> = { ok: true; value: T } | { ok: false; error: DomainError }

  /**
   * One sign-in attempt, for log-in and for accepting an invitation as an existing user: the
   * throttle reserves it, the password (and second factor when the account has one) is checked,
   * and the attempt is recorded in the login history and the audit trail. `onSuccess` runs in
   * the transaction that records the success (it opens the session).
   */
  async function signIn<T>(
    ctx: RequestContext,
    input: { email: string; password: string; totp_code?: string | undefined; backup_code?: string | undefined },
    client: Client,
    via: 'login' | 'invitation',
    onSuccess: (tx: Executor, user: UserRow) => Promise<T>,
  ): Promise<T> {
    const now = clock()
    const email = normaliseEmail(input.email)
    const keys: [string, ThrottlePolicy][] = [[accountKey(email), ACCOUNT_POLICY], ...(client.ip ? [[addressKey(client.ip), ADDRESS_POLICY] as [string, ThrottlePolicy]] : [])]
    const factor = input.backup_code ? '+backup_code' : input.totp_code ? '+totp' : ''
    const method = `${via === 'invitation' ? 'invitation+' : ''}password${factor}`
    // What was typed is kept only when it is an account's e-mail: a password pasted into the
    // e-mail field must not end up stored.
    const record = (tx: Executor, userId: string | null, success: boolean, failureReason: string | null) =>
      tx
        .insert(loginHistory)
        .values({ userId, email: userId ? email.slice(0, 320) : `unknown:${sha256(email).slice(0, 16)}`, ipAddress: client.ip, userAgent: client.userAgent?.slice(0, 1000) ?? null, loginMethod: method, success, failureReason, timestamp: now })
        .returning({ id: loginHistory.id })
    const findUser = (exec: Executor) => exec.select().from(users).where(sql`lower(${users.email}) = ${email}`)

    try {
      await database.transaction((tx) => reserveAttempt(tx, keys, now))
    } catch (err) {
      await database.transaction(async (tx) => {
        // Recorded against the account when there is one, so its owner sees it in the history.
        const [owner] = await findUser(tx)
        await record(tx, owner?.id ?? null, false, 'throttled')
      })
      throw err
    }
    const [user] = await findUser(database.db)
    // Unknown e-mails cost one argon2 verification too, so timing does not tell them apart.
    const passwordOk = user ? await verifyPassword(user.passwordHash, input.password) : await verifyAgainstNothing(input.password)

    const attempt: Attempt<T> = await database.transaction(async (tx): Promise<Attempt<T>> => {
      const fail = async (reason: string, error: DomainError): Promise<Attempt<T>> => {
        const [row] = await record(tx, user?.id ?? null, false, reason)
        await auditUserEvent(tx, deps, ctx, user?.id ?? null, { type: 'auth.login_failed', entityId: user?.id ?? row!.id, data: { reason, ip: client.ip, method } })
        return { ok: false, error }
      }
      if (!user) return fail('unknown_email', new UnauthorizedError(WRONG_CREDENTIALS))
      if (!passwordOk) return fail('bad_password', new UnauthorizedError(WRONG_CREDENTIALS))
      if (!user.isActive) return fail('inactive', new UnauthorizedError(WRONG_CREDENTIALS))
      if (user.totpEnabled) {
        if (input.backup_code) {
          const used = await tx
            .update(backupCodes)
            .set({ isUsed: true, usedAt: now, ipAddress: client.ip })
            .where(and(eq(backupCodes.userId, user.id), eq(backupCodes.codeHash, sha256(normaliseBackupCode(input.backup_code))), eq(backupCodes.isUsed, false)))
            .returning({ id: backupCodes.id })
          if (used.length === 0) return fail('bad_backup_code', new UnauthorizedError('this backup code is wrong or was already used'))
        } else if (input.totp_code) {
          const step = matchTotpStep(user.totpSecret!, input.totp_code, now.getTime())
          if (step === null) return fail('bad_totp', new UnauthorizedError('the authenticator code is wrong or expired'))
          const taken = await tx
            .update(users)
            .set({ totpLastStep: step })
            .where(and(eq(users.id, user.id), sql`(${users.totpLastStep} is null or ${users.totpLastStep} < ${step})`))
            .returning({ id: users.id })
          if (taken.length === 0) return fail('totp_replayed', new UnauthorizedError('this authenticator code was already used: wait for the next one'))
        } else {
          // The password was right: this attempt is not a failure, so it is given back.
          for (const [key] of keys) await releaseAttempt(tx, key)
          return fail('totp_required', new SecondFactorRequiredError('this account has two-factor authentication: send totp_code or backup_code with the password'))
        }
      }
      await clearThrottle(tx, keys[0]![0])
      for (const [key] of keys.slice(1)) await releaseAttempt(tx, key)
      await record(tx, user.id, true, null)
      return { ok: true, value: await onSuccess(tx, user) }
    })
    if (!attempt.ok) throw attempt.error
    return attempt.value
  }

  async function login(ctx: RequestContext, input: { email: string; password: string; totp_code?: string | undefined; backup_code?: string | undefined }, client: Client) {
    return signIn(ctx, input, client, 'login', async (tx, user) => {
      const session = await openSession(tx, deps, user.id, client)
      const method = input.backup_code ? 'password+backup_code' : input.totp_code ? 'password+totp' : 'password'
      await auditUserEvent(tx, deps, { ...ctx, actor: { type: 'user', id: user.id } }, user.id, { type: 'auth.login_succeeded', data: { ip: client.ip, method, session_id: session.sessionId } })
      return { token: session.token, expires_at: session.expiresAt.toISOString() }
    })
  }

  async function endSession(ctx: RequestContext, sessionId: string, type: 'auth.logged_out' | 'auth.session_revoked') {
    const userId = ctx.credential!.userId
    await database.transaction(async (tx) => {
      const ended = await tx
        .update(sessions)
        .set({ isActive: false, loggedOutAt: clock() })
        .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), eq(sessions.isActive, true)))
        .returning({ id: sessions.id })
      if (ended.length === 0) {
        const [exists] = await tx.select({ id: sessions.id }).from(sessions).where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)))
        if (!exists) throw new NotFoundError(`session ${sessionId} not found`)
        return
      }
      await auditUserEvent(tx, deps, ctx, userId, { type, data: { session_id: sessionId } })
    })
    deps.cache.forgetSession(sessionId)
  }

  async function listSessions(ctx: RequestContext, page: { limit: number; cursor?: string | undefined }) {
    const result = await listNewestFirst(database.db, sessions, [eq(sessions.userId, ctx.credential!.userId)], page)
    const now = clock()
    return {
      data: result.data.map((s) => ({
        id: s.id,
        current: ctx.credential?.kind === 'session' && ctx.credential.id === s.id,
        ip_address: s.ipAddress,
        user_agent: s.userAgent,
        device_type: s.deviceType,
        browser: s.browser,
        location: s.location,
        created_at: s.createdAt.toISOString(),
        last_active: s.lastActive.toISOString(),
        expires_at: s.expiresAt.toISOString(),
        is_active: s.isActive && s.expiresAt > now && s.lastActive.getTime() + deps.settings.sessionIdleMs > now.getTime(),
        logged_out_at: s.loggedOutAt?.toISOString() ?? null,
      })),
      next_cursor: result.next_cursor,
    }
  }

  async function listLoginHistory(ctx: RequestContext, page: { limit: number; cursor?: string | undefined }) {
    const userId = ctx.credential!.userId
    const conditions = [eq(loginHistory.userId, userId)]
    if (page.cursor) {
      const [ts, id] = decodeCursor(page.cursor, ['timestamp', 'uuid']) as [string, string]
      conditions.push(sql`(${loginHistory.timestamp}, ${loginHistory.id}) < (${ts}::timestamptz, ${id}::uuid)`)
    }
    const found = await database.db
      .select({ row: loginHistory, key: timestampKey(loginHistory.timestamp) })
      .from(loginHistory)
      .where(and(...conditions))
      .orderBy(desc(loginHistory.timestamp), desc(loginHistory.id))
      .limit(page.limit + 1)
    const result = pageOfRows(found, page.limit, (r) => [r.key, r.row.id])
    return {
      data: result.data.map(({ row: h }) => ({
        id: h.id,
        timestamp: h.timestamp.toISOString(),
        success: h.success,
        failure_reason: h.failureReason,
        login_method: h.loginMethod,
        ip_address: h.ipAddress,
        user_agent: h.userAgent,
        location: h.location,
      })),
      next_cursor: result.next_cursor,
    }
  }

  /** Sets a new password, ends every session but `keep`, and records why. */
  async function replacePassword(tx: Executor, ctx: RequestContext, userId: string, passwordHash: string, keep: string | null, via: string) {
    const now = clock()
    await tx.update(users).set({ passwordHash, passwordChangedAt: now }).where(eq(users.id, userId))
    await tx.update(passwordResets).set({ usedAt: now }).where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)))
    await tx
      .update(sessions)
      .set({ isActive: false, loggedOutAt: now })
      .where(and(eq(sessions.userId, userId), eq(sessions.isActive, true), keep ? ne(sessions.id, keep) : undefined))
    await auditUserEvent(tx, deps, ctx, userId, { type: 'auth.password_changed', data: { via } })
  }

  async function changePassword(ctx: RequestContext, input: { current_password: string; new_password: string }) {
    checkPassword(input.new_password, '/body/new_password')
    const user = await currentUser(database.db, ctx)
    const key = accountKey(user.email)
    const now = clock()
    await database.transaction((tx) => reserveAttempt(tx, [[key, ACCOUNT_POLICY]], now))
    if (!(await verifyPassword(user.passwordHash, input.current_password))) {
      throw new ValidationError('the current password is wrong', [{ path: '/body/current_password', message: 'is wrong' }])
    }
    await database.transaction((tx) => clearThrottle(tx, key))
    const passwordHash = await hashPassword(input.new_password)
    const keep = ctx.credential?.kind === 'session' ? ctx.credential.id : null
    await database.transaction((tx) => replacePassword(tx, ctx, user.id, passwordHash, keep, 'change'))
    deps.cache.forgetUser(user.id)
  }

  /** A single-use reset token for the CLI (and, once notifications exist, for e-mail). */
  async function createPasswordReset(ctx: RequestContext, email: string) {
    const [user] = await database.db.select().from(users).where(sql`lower(${users.email}) = ${normaliseEmail(email)}`)
    if (!user) throw new NotFoundError(`no user has the e-mail ${email}`)
    const { token, hash } = newOpaqueToken('reset')
    const expiresAt = new Date(clock().getTime() + deps.settings.passwordResetTtlMs)
    await database.transaction(async (tx) => {
      await tx.insert(passwordResets).values({ userId: user.id, tokenHash: hash, expiresAt })
      await auditUserEvent(tx, deps, ctx, user.id, { type: 'auth.password_reset_requested', data: {} })
    })
    return { token, expires_at: expiresAt.toISOString(), user: toUserView(user) }
  }

  async function resetPassword(ctx: RequestContext, input: { token: string; new_password: string }) {
    checkPassword(input.new_password, '/body/new_password')
    const now = clock()
    const invalid = () => new ValidationError('this reset token is unknown, used or expired', [{ path: '/body/token', message: 'is unknown, used or expired' }])
    // The token is checked before the (deliberately slow) hash, so nobody makes us hash for free.
    const [live] = await database.db
      .select({ id: passwordResets.id })
      .from(passwordResets)
      .where(and(eq(passwordResets.tokenHash, sha256(input.token)), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, now)))
    if (!live) throw invalid()
    const passwordHash = await hashPassword(input.new_password)
    const userId = await database.transaction(async (tx) => {
      const [used] = await tx
        .update(passwordResets)
        .set({ usedAt: now })
        .where(and(eq(passwordResets.tokenHash, sha256(input.token)), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, now)))
        .returning({ userId: passwordResets.userId })
      if (!used) throw invalid()
      await replacePassword(tx, { ...ctx, actor: { type: 'user', id: used.userId } }, used.userId, passwordHash, null, 'reset')
      await clearThrottle(tx, accountKey((await tx.select({ e: users.email }).from(users).where(eq(users.id, used.userId)))[0]!.e))
      return used.userId
    })
    deps.cache.forgetUser(userId)
  }

  async function me(ctx: RequestContext) {
    const user = await currentUser(database.db, ctx)
    // A key acts in one organisation: it does not show the creator's others (nor, for a device
    // key, who the creator is).
    const viaKey = ctx.credential!.kind === 'api_key'
    const orgs = (await organizationsOf(database.db, user.id)).filter((o) => !viaKey || o.organization.id === ctx.organizationId)
    return {
      user: ctx.credential!.deviceId ? null : toUserView(user),
      organizations: orgs.map((o) => ({ ...toOrganizationView(o.organization), role: o.role })),
      organization_id: ctx.organizationId,
      credential: { kind: ctx.credential!.kind, id: ctx.credential!.id, scopes: [...ctx.credential!.scopes], device_id: ctx.credential!.deviceId },
    }
  }

  return { signup, login, signIn, logout: (ctx: RequestContext) => endSession(ctx, ctx.credential!.id, 'auth.logged_out'), revokeSession: (ctx: RequestContext, id: string) => endSession(ctx, id, 'auth.session_revoked'), listSessions, listLoginHistory, changePassword, createPasswordReset, resetPassword, me, insertUser }
}

export type Accounts = ReturnType<typeof createAccounts>
