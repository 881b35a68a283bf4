// Group commit: many callers' statements of one kind as one statement, without making any caller
// wait when the database is idle. Used on hot paths where each statement's round trip, not its
// work, was the cost (the automation engine: docs/benchmarks.md section 10).
import type { Logger } from '../observability/logger.ts'

/**
 * Sends items one statement at a time per slot, up to `maxInFlight` statements at once (one by
 * default: at 50 clients two in flight per kind made twice the statements for a third less
 * throughput in the automation benchmark, docs/benchmarks.md section 10); items
 * that arrive while every slot is busy go together in the next statement. With one caller
 * nothing waits; under load a statement carries many callers' items. When a statement of
 * several fails, each item is tried alone, so one bad item fails only itself.
 */
export function groupCommit<I, R>({ maxInFlight = 1, maxBatch = 100, log }: { maxInFlight?: number; maxBatch?: number; log?: Logger }, send: (items: I[]) => Promise<R[]>) {
  let waiting: { item: I; resolve: (r: R) => void; reject: (err: unknown) => void }[] = []
  let inFlight = 0
  const pump = () => {
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, maxBatch)
      waiting = waiting.slice(maxBatch)
      inFlight++
      void send(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
          (err) => {
            if (batch.length === 1) return batch[0]!.reject(err)
            log?.warn({ err, items: batch.length }, 'a grouped statement failed; sending its items one by one')
            for (const b of batch) send([b.item]).then((r) => b.resolve(r[0]!), b.reject)
          },
        )
        .finally(() => {
          inFlight--
          pump()
        })
    }
  }
  return (item: I) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject })
      pump()
    })
}
