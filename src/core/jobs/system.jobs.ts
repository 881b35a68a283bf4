// Jobs the core runs for itself. Recurring upkeep re-enqueues its next run with an idempotency
// key per day, so any number of workers schedule it exactly once and a restart loses nothing.
import { sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { systemContext } from '../context.ts'
import { enqueueJob } from './jobs.service.ts'
import type { JobHandler } from './worker.ts'

export const ENSURE_PARTITIONS = 'system.ensure_event_partitions'
const MONTHS_AHEAD = 3

const day = (d: Date) => d.toISOString().slice(0, 10)

export async function schedulePartitionUpkeep(database: Database, at = new Date()): Promise<void> {
  await database.transaction((tx) =>
    enqueueJob(tx, systemContext(), {
      type: ENSURE_PARTITIONS,
      runAt: at,
      idempotencyKey: `${ENSURE_PARTITIONS}:${day(at)}`,
      maxAttempts: 10,
    }),
  )
}

export function systemJobs(database: Database): JobHandler[] {
  return [
    {
      type: ENSURE_PARTITIONS,
      timeoutMs: 60_000,
      async run() {
        const created = await database.transaction(async (tx) => {
          const r = (await tx.execute(sql`select stratum_ensure_event_partitions(${MONTHS_AHEAD}) as n`)) as unknown as { rows: { n: number }[] }
          const tomorrow = new Date(Date.now() + 86_400_000)
          await enqueueJob(tx, systemContext(), {
            type: ENSURE_PARTITIONS,
            runAt: tomorrow,
            idempotencyKey: `${ENSURE_PARTITIONS}:${day(tomorrow)}`,
            maxAttempts: 10,
          })
          return r.rows[0]?.n ?? 0
        })
        return { partitions_created: created }
      },
    },
  ]
}
