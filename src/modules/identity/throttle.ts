// Failed log-ins slow down and then lock, per account and per client address, in the
// `throttle_buckets` table so every server process sees the same counts. The account key is
// a hash of the e-mail as typed: unknown e-mails are throttled exactly like real ones.
//
// Each attempt is reserved (counted as a failure) under a row lock before the password is
// checked, and given back when it succeeds: attempts sent in parallel cannot all pass the check
// before any of them is counted.
import { eq, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db/database.ts'
import { TooManyRequestsError } from '../../core/errors.ts'
import { throttleBuckets } from './identity.schema.ts'
import { sha256 } from './tokens.ts'

export interface ThrottlePolicy {
  /** Failures before each further attempt must wait (1 s, doubling, up to maxDelaySeconds). */
  freeFailures: number
  maxDelaySeconds: number
  /** Failures after which the key is locked for lockMinutes. */
  lockAfter: number
  lockMinutes: number
  /** Failures older than this are forgotten. */
  windowMinutes: number
}

export const ACCOUNT_POLICY: ThrottlePolicy = { freeFailures: 3, maxDelaySeconds: 60, lockAfter: 10, lockMinutes: 15, windowMinutes: 60 }
export const ADDRESS_POLICY: ThrottlePolicy = { freeFailures: 20, maxDelaySeconds: 60, lockAfter: 100, lockMinutes: 15, windowMinutes: 60 }

export const accountKey = (email: string) => `login:account:${sha256(email.trim().toLowerCase())}`
/** IPv4 addresses count one by one; IPv6 ones by /64, the block one subscriber usually holds. */
export function addressKey(ip: string): string {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  if (!v4.includes(':')) return `login:ip:${v4}`
  const [head, tail = ''] = v4.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = v4.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return `login:ip6:${groups.slice(0, 4).map((g) => g.toLowerCase().padStart(4, '0')).join(':')}::/64`
}

type Bucket = typeof throttleBuckets.$inferSelect

const windowOver = (bucket: Bucket, policy: ThrottlePolicy, now: Date) => now.getTime() - bucket.windowStart.getTime() > policy.windowMinutes * 60_000

function waitSeconds(bucket: Bucket, policy: ThrottlePolicy, now: Date): number {
  // A lock runs its full time even when the counting window ends first.
  if (bucket.lockedUntil && bucket.lockedUntil > now) return Math.ceil((bucket.lockedUntil.getTime() - now.getTime()) / 1000)
  if (windowOver(bucket, policy, now)) return 0
  if (bucket.count < policy.freeFailures) return 0
  const delay = Math.min(policy.maxDelaySeconds, 2 ** (bucket.count - policy.freeFailures))
  const ready = bucket.lastFailureAt.getTime() + delay * 1000
  return ready > now.getTime() ? Math.ceil((ready - now.getTime()) / 1000) : 0
}

/**
 * Counts one attempt against each key, or refuses it (429, Retry-After) while any key must wait
 * or is locked. Call in its own short transaction before checking the password.
 */
export async function reserveAttempt(tx: Executor, keys: [string, ThrottlePolicy][], now: Date): Promise<void> {
  const names = keys.map(([k]) => k).sort() // one lock order, so two reservations cannot deadlock
  // One statement inserts or locks each bucket and answers it. (Insert-if-missing followed by
  // SELECT ... FOR UPDATE found nothing when a successful sign-in deleted the bucket in between.)
  const found = await tx
    .insert(throttleBuckets)
    .values(names.map((key) => ({ key, count: 0, windowStart: now, lastFailureAt: new Date(0), lockedUntil: null })))
    .onConflictDoUpdate({ target: throttleBuckets.key, set: { key: sql`excluded.key` } })
    .returning()
  let wait = 0
  for (const [key, policy] of keys) wait = Math.max(wait, waitSeconds(found.find((b) => b.key === key)!, policy, now))
  if (wait > 0) throw new TooManyRequestsError(`too many failed sign-ins: try again in ${wait} s`, wait)
  for (const [key, policy] of keys) {
    const bucket = found.find((b) => b.key === key)!
    const fresh = windowOver(bucket, policy, now)
    const count = fresh ? 1 : bucket.count + 1
    await tx
      .update(throttleBuckets)
      .set({
        count,
        windowStart: fresh ? now : bucket.windowStart,
        lastFailureAt: now,
        lockedUntil: count >= policy.lockAfter ? new Date(now.getTime() + policy.lockMinutes * 60_000) : bucket.lockedUntil,
      })
      .where(eq(throttleBuckets.key, key))
  }
}

/** Gives a reserved attempt back: it turned out not to be a failure (e.g. a second factor is asked for). */
export async function releaseAttempt(tx: Executor, key: string): Promise<void> {
  await tx
    .update(throttleBuckets)
    .set({ count: sql`greatest(${throttleBuckets.count} - 1, 0)` })
    .where(eq(throttleBuckets.key, key))
}

export async function clearThrottle(tx: Executor, key: string): Promise<void> {
  await tx.delete(throttleBuckets).where(eq(throttleBuckets.key, key))
}
