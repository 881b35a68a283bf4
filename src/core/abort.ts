// One abort signal that follows several, without AbortSignal.any: on Node 20 each call of it
// costs a transferable object and a registry entry, ~2 % of the server's CPU on the automation
// engine's hot path (docs/benchmarks.md section 10). Listeners are removed by `dispose`.

export interface Linked {
  signal: AbortSignal
  /** Aborts the linked signal (with `reason`) unless it is already aborted. */
  abort(reason?: unknown): void
  /** Stops following the sources (call when done, so long-lived sources keep no listener). */
  dispose(): void
}

/** A signal aborted as soon as any source is (with its reason), or by `abort`. */
export function linkSignals(...sources: (AbortSignal | undefined)[]): Linked {
  const controller = new AbortController()
  const followed: { s: AbortSignal; on: () => void }[] = []
  const dispose = () => {
    for (const { s, on } of followed) s.removeEventListener('abort', on)
    followed.length = 0
  }
  for (const s of sources) {
    if (!s) continue
    if (s.aborted) {
      dispose()
      controller.abort(s.reason)
      break
    }
    const on = () => {
      dispose()
      controller.abort(s.reason)
    }
    s.addEventListener('abort', on, { once: true })
    followed.push({ s, on })
  }
  return {
    signal: controller.signal,
    abort(reason) {
      dispose()
      if (!controller.signal.aborted) controller.abort(reason)
    },
    dispose,
  }
}
