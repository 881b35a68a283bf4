// Failed log-ins slow down and then lock, per account and per client address, in the
// `throttle_buckets` table so every server process sees the same counts. The account key is
// a hash of the e-mail as typed: unknown e-mails are throttled exactly like real ones.
import { eq, inArray, sql } from 'drizzle-orm'
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
export const addressKey = (ip: string) => `login:ip:${ip}`

type Bucket = typeof throttleBuckets.$inferSelect

function waitSeconds(bucket: Bucket, policy: ThrottlePolicy, now: Date): number {
  if (now.getTime() - bucket.windowStart.getTime() > policy.windowMinutes * 60_000) return 0
  if (bucket.lockedUntil && bucket.lockedUntil > now) return Math.ceil((bucket.lockedUntil.getTime() - now.getTime()) / 1000)
  if (bucket.count < policy.freeFailures) return 0
  const delay = Math.min(policy.maxDelaySeconds, 2 ** (bucket.count - policy.freeFailures))
  const ready = bucket.lastFailureAt.getTime() + delay * 1000
  return ready > now.getTime() ? Math.ceil((ready - now.getTime()) / 1000) : 0
}

/** Refuses (429, Retry-After) while any of the keys must wait or is locked. */
export async function checkThrottle(tx: Executor, keys: [string, ThrottlePolicy][], now: Date): Promise<void> {
  const found = await tx.select().from(throttleBuckets).where(inArray(throttleBuckets.key, keys.map(([k]) => k)))
  let wait = 0
  for (const [key, policy] of keys) {
    const bucket = found.find((b) => b.key === key)
    if (bucket) wait = Math.max(wait, waitSeconds(bucket, policy, now))
  }
  if (wait > 0) throw new TooManyRequestsError(`too many failed sign-ins: try again in ${wait} s`, wait)
}

export async function recordFailure(tx: Executor, key: string, policy: ThrottlePolicy, now: Date): Promise<void> {
  const windowEdge = new Date(now.getTime() - policy.windowMinutes * 60_000)
  const lockUntil = new Date(now.getTime() + policy.lockMinutes * 60_000)
  await tx
    .insert(throttleBuckets)
    .values({ key, count: 1, windowStart: now, lastFailureAt: now, lockedUntil: null })
    .onConflictDoUpdate({
      target: throttleBuckets.key,
      set: {
        count: sql`case when ${throttleBuckets.windowStart} < ${windowEdge} then 1 else ${throttleBuckets.count} + 1 end`,
        windowStart: sql`case when ${throttleBuckets.windowStart} < ${windowEdge} then ${now} else ${throttleBuckets.windowStart} end`,
        lastFailureAt: now,
        lockedUntil: sql`case when ${throttleBuckets.windowStart} >= ${windowEdge} and ${throttleBuckets.count} + 1 >= ${policy.lockAfter} then ${lockUntil} else ${throttleBuckets.lockedUntil} end`,
      },
    })
}

export async function clearThrottle(tx: Executor, key: string): Promise<void> {
  await tx.delete(throttleBuckets).where(eq(throttleBuckets.key, key))
}
