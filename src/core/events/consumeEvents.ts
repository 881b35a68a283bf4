// Durable event consumers. A consumer has a name and a stored cursor (tx_id, id); each batch is
// one transaction: lock the cursor, read the next events, run the handler, move the cursor.
//
// Why (tx_id, id) and a horizon: event ids are taken at insert but become visible at commit, so
// id 11 can be visible while id 10 is still uncommitted; a cursor on id alone would skip 10 for
// ever. Reading only events of transactions older than the oldest one still running
// (pg_snapshot_xmin) guarantees that nothing can appear behind the cursor later.
import { sql } from 'drizzle-orm'
import { rows, type Database, type Executor } from '../db/database.ts'
import type { Logger } from '../observability/logger.ts'
import { createWakeup } from '../wakeup.ts'
import { toEventView, type EventView } from './events.service.ts'
import type { events } from './events.schema.ts'

export interface ConsumerDefinition {
  name: string
  /** Event type prefixes (`scenario.` or `job.failed`); all events when absent. */
  types?: string[]
  batchSize?: number
  /** Runs inside the batch's transaction: database effects commit together with the cursor. */
  handle(events: EventView[], tx: Executor): Promise<void>
}

// Above any event id (ids stay below 2^53; see postgres.ts), so (horizon - 1, MAX_ID) covers a whole transaction.
const MAX_ID = Number.MAX_SAFE_INTEGER
// Events behind an open transaction become deliverable when it ends; look again this soon.
const WAITING_RETRY_MS = 25

export interface BatchResult {
  /** Events handed to the handler. */
  delivered: number
  /** Newer events exist but wait behind a transaction still open: try again shortly. */
  waiting: boolean
  /** Another process holds this consumer right now. */
  held: boolean
}

/** Delivers one batch of events to the consumer, in one transaction. */
export async function consumeBatch(database: Database, def: ConsumerDefinition): Promise<BatchResult> {
  const limit = def.batchSize ?? 100
  const patterns = (def.types ?? ['']).map((t) => `${t.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
  return database.transaction(async (tx) => {
    const lock = () =>
      rows<{ last_tx_id: number; last_event_id: number }>(
        tx,
        sql`select last_tx_id, last_event_id from event_consumers where name = ${def.name} for update skip locked`,
      )
    let [cursor] = await lock()
    if (!cursor) {
      // First run (or held by another process, which skip locked also hides).
      await tx.execute(sql`insert into event_consumers (name) values (${def.name}) on conflict (name) do nothing`)
      ;[cursor] = await lock()
      if (!cursor) return { delivered: 0, waiting: false, held: true }
    }
    const found = await rows<Record<string, unknown> & { horizon: number }>(
      tx,
      sql`with h as (select (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint as horizon)
          select e.*, h.horizon from events e, h
          where (e.tx_id, e.id) > (${cursor.last_tx_id}::bigint, ${cursor.last_event_id}::bigint)
            and e.tx_id < h.horizon
            and e.event_type like any (${sql.param(patterns)}::text[])
          order by e.tx_id, e.id
          limit ${limit}`,
    )
    let next: { tx: number; id: number }
    let waiting = false
    if (found.length === limit) {
      const last = found[found.length - 1]!
      next = { tx: Number(last.tx_id), id: Number(last.id) }
    } else {
      // Every matching event below the horizon has been read: jump the cursor to the horizon so
      // that events of other types are never scanned again.
      const [h] = await rows<{ horizon: number; beyond: boolean }>(
        tx,
        sql`with h as (select (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint as horizon)
            select h.horizon, exists (select 1 from events e where e.tx_id >= h.horizon) as beyond from h`,
      )
      next = { tx: Number(h!.horizon) - 1, id: MAX_ID }
      waiting = h!.beyond
    }
    if (found.length > 0) await def.handle(found.map((r) => toEventView(fromRaw(r))), tx)
    await tx.execute(sql`update event_consumers
      set last_tx_id = ${next.tx}::bigint, last_event_id = ${next.id}::bigint,
          delivered = delivered + ${found.length}, updated_at = now()
      where name = ${def.name}`)
    return { delivered: found.length, waiting, held: false }
  })
}

function fromRaw(r: Record<string, unknown>): typeof events.$inferSelect {
  return {
    id: Number(r.id),
    timestamp: new Date(r.timestamp as string | Date),
    eventType: r.event_type as string,
    entityId: r.entity_id as string,
    entityType: r.entity_type as string,
    data: r.data as Record<string, unknown>,
    eventMetadata: (r.event_metadata ?? {}) as Record<string, unknown>,
    sourceNode: (r.source_node as string | null) ?? null,
    createdAt: new Date(r.created_at as string | Date),
    organizationId: (r.organization_id as string | null) ?? null,
    actor: (r.actor as string | null) ?? null,
    traceId: (r.trace_id as string | null) ?? null,
    txId: Number(r.tx_id),
  }
}

export interface RunningConsumer {
  /** Resolves once the consumer has read everything committed so far. */
  drain(): Promise<void>
  stop(): Promise<void>
}

/** Runs a consumer until stopped: woken by NOTIFY on new events, polling as a fallback. */
export async function startConsumer(
  database: Database,
  def: ConsumerDefinition,
  options: { log: Logger; pollMs?: number; retryMs?: number },
): Promise<RunningConsumer> {
  let stopped = false
  const wakeup = createWakeup()
  wakeup.poke()
  const unlisten = await database.listen('stratum_events', wakeup.poke)
  const idleWaiters: (() => void)[] = []
  const loop = (async () => {
    while (!stopped) {
      let batch: BatchResult
      try {
        wakeup.take()
        batch = await consumeBatch(database, def)
      } catch (err) {
        options.log.error({ err, consumer: def.name }, 'event consumer batch failed; will retry')
        await wakeup.sleep(options.retryMs ?? 1000)
        continue
      }
      if (batch.delivered > 0 || wakeup.dirty) continue
      if (batch.waiting) {
        await wakeup.sleep(WAITING_RETRY_MS)
        continue
      }
      for (const w of idleWaiters.splice(0)) w()
      await wakeup.sleep(options.pollMs ?? 1000)
    }
  })()
  return {
    drain: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve)
        wakeup.poke()
      }),
    async stop() {
      stopped = true
      wakeup.poke()
      await loop
      for (const w of idleWaiters.splice(0)) w()
      await unlisten()
    },
  }
}

/** Events not yet delivered to each consumer (capped at 100,000), for /metrics. */
export async function consumerLag(db: Executor): Promise<{ name: string; lag: number }[]> {
  return rows<{ name: string; lag: number }>(
    db,
    sql`select c.name, (select count(*)::int from (select 1 from events e
          where (e.tx_id, e.id) > (c.last_tx_id, c.last_event_id) limit 100000) x) as lag
        from event_consumers c order by c.name`,
  )
}
