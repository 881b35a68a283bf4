// TOTP second factor: enrol (secret, otpauth URI, QR code), confirm (turns it on, returns 10
// backup codes once), regenerate backup codes and disable (both need a current code).
import { and, eq, sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import type { Executor } from '../../core/db/database.ts'
import { ConflictError, ValidationError } from '../../core/errors.ts'
import { backupCodes, users } from './identity.schema.ts'
import { auditUserEvent, currentUser, type IdentityDeps, type UserRow } from './shared.ts'
import { ACCOUNT_POLICY, clearThrottle, releaseAttempt, reserveAttempt } from './throttle.ts'
import { matchTotpStep, newTotpSecret, totpQrSvg, totpUri } from './totp.ts'
import { newBackupCode, normaliseBackupCode, sha256 } from './tokens.ts'

const BACKUP_CODES = 10
const badCode = (message: string) => new ValidationError(message, [{ path: '/body/code', message: 'is not a current authenticator code' }])

export function createTwoFactor(deps: IdentityDeps) {
  const { database, clock } = deps

  /** Accepts a code once: its time step must be later than the last one accepted. */
  async function spendCode(tx: Executor, user: UserRow, code: string): Promise<void> {
    const step = matchTotpStep(user.totpSecret ?? '', code, clock().getTime())
    if (step === null || !user.totpSecret) throw badCode('the authenticator code is wrong or expired')
    const taken = await tx
      .update(users)
      .set({ totpLastStep: step })
      .where(and(eq(users.id, user.id), sql`(${users.totpLastStep} is null or ${users.totpLastStep} < ${step})`))
      .returning({ id: users.id })
    if (taken.length === 0) throw badCode('this authenticator code was already used: wait for the next one')
  }

  /**
   * Runs `fn` (which spends a code) under the same throttle as sign-in, keyed by the user:
   * a session cannot guess codes to turn two-factor off or mint backup codes.
   */
  async function withCode<T>(ctx: RequestContext, fn: (tx: Executor, user: UserRow) => Promise<T>): Promise<T> {
    const key = `totp:${ctx.credential?.userId ?? ''}`
    await database.transaction((tx) => reserveAttempt(tx, [[key, ACCOUNT_POLICY]], clock()))
    try {
      return await database.transaction(async (tx) => {
        const result = await fn(tx, await currentUser(tx, ctx))
        await clearThrottle(tx, key)
        return result
      })
    } catch (err) {
      // Only a wrong code counts; "already on" and the like give the attempt back.
      if (!(err instanceof ValidationError)) await database.transaction((tx) => releaseAttempt(tx, key))
      throw err
    }
  }

  async function replaceBackupCodes(tx: Executor, userId: string): Promise<string[]> {
    const codes = Array.from({ length: BACKUP_CODES }, newBackupCode)
    await tx.delete(backupCodes).where(eq(backupCodes.userId, userId))
    await tx.insert(backupCodes).values(codes.map((c) => ({ userId, codeHash: sha256(normaliseBackupCode(c)) })))
    return codes
  }

  return {
    async enroll(ctx: RequestContext) {
      const user = await currentUser(database.db, ctx)
      if (user.totpEnabled) throw new ConflictError('two-factor authentication is already on: disable it first to enrol a new authenticator')
      const secret = newTotpSecret()
      await database.transaction(async (tx) => {
        await tx.update(users).set({ totpSecret: secret, totpLastStep: null }).where(eq(users.id, user.id))
        await auditUserEvent(tx, deps, ctx, user.id, { type: 'auth.totp_enrolment_started', data: {} })
      })
      const uri = totpUri(secret, user.email, 'Stratum')
      return { secret, otpauth_uri: uri, qr_svg: await totpQrSvg(uri) }
    },

    async confirm(ctx: RequestContext, code: string) {
      const codes = await withCode(ctx, async (tx, user) => {
        if (user.totpEnabled) throw new ConflictError('two-factor authentication is already on')
        if (!user.totpSecret) throw new ConflictError('enrol first: POST /api/v1/auth/totp/enroll')
        await spendCode(tx, user, code)
        await tx.update(users).set({ totpEnabled: true }).where(eq(users.id, user.id))
        const codes = await replaceBackupCodes(tx, user.id)
        await auditUserEvent(tx, deps, ctx, user.id, { type: 'auth.totp_enabled', data: {} })
        return codes
      })
      return { backup_codes: codes }
    },

    async regenerateBackupCodes(ctx: RequestContext, code: string) {
      const codes = await withCode(ctx, async (tx, user) => {
        if (!user.totpEnabled) throw new ConflictError('two-factor authentication is off')
        await spendCode(tx, user, code)
        const codes = await replaceBackupCodes(tx, user.id)
        await auditUserEvent(tx, deps, ctx, user.id, { type: 'auth.backup_codes_regenerated', data: {} })
        return codes
      })
      return { backup_codes: codes }
    },

    async disable(ctx: RequestContext, code: string) {
      await withCode(ctx, async (tx, user) => {
        if (!user.totpEnabled) throw new ConflictError('two-factor authentication is already off')
        await spendCode(tx, user, code)
        await tx.update(users).set({ totpEnabled: false, totpSecret: null, totpLastStep: null }).where(eq(users.id, user.id))
        await tx.delete(backupCodes).where(eq(backupCodes.userId, user.id))
        await auditUserEvent(tx, deps, ctx, user.id, { type: 'auth.totp_disabled', data: {} })
      })
    },

    async status(ctx: RequestContext) {
      const user = await currentUser(database.db, ctx)
      const [left] = await database.db
        .select({ n: sql<number>`count(*)::int` })
        .from(backupCodes)
        .where(and(eq(backupCodes.userId, user.id), eq(backupCodes.isUsed, false)))
      return { enabled: user.totpEnabled, backup_codes_left: user.totpEnabled ? left!.n : 0 }
    },
  }
}
