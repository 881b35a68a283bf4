// Per-key request limits: a fixed one-minute window counted in memory, so checking costs no
// database round trip. With several server processes each enforces the limit on its own share
// of the traffic (docs/architecture.md says so).
export interface RateDecision {
  allowed: boolean
  limit: number
  remaining: number
  /** Seconds until the window resets. */
  resetSeconds: number
}

export function createRateLimiter() {
  const windows = new Map<string, { window: number; count: number }>()
  return {
    take(id: string, limit: number, nowMs: number): RateDecision {
      const window = Math.floor(nowMs / 60_000)
      let bucket = windows.get(id)
      if (!bucket || bucket.window !== window) {
        bucket = { window, count: 0 }
        windows.set(id, bucket)
      }
      bucket.count++
      const resetSeconds = Math.max(1, Math.ceil(((window + 1) * 60_000 - nowMs) / 1000))
      return { allowed: bucket.count <= limit, limit, remaining: Math.max(0, limit - bucket.count), resetSeconds }
    },
    /** Forgets windows that ended, so the map holds only keys used this minute. */
    sweep(nowMs: number) {
      const window = Math.floor(nowMs / 60_000)
      for (const [id, b] of windows) if (b.window !== window) windows.delete(id)
    },
  }
}
