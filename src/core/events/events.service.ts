// The event log: `appendEvent` is the only way an event is written, and only inside the
// transaction of the change it records.
import { and, asc, desc, eq, gte, like, lt, sql, type SQL } from 'drizzle-orm'
import { PgTransaction } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { actorLabel, type RequestContext } from '../context.ts'
import { inOrg } from '../tenancy.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../http/pagination.ts'
import { events } from './events.schema.ts'

export interface NewEvent {
  type: string
  entityType: string
  entityId: string
  data?: Record<string, unknown>
  metadata?: Record<string, unknown>
}

export interface EventView {
  id: number
  type: string
  timestamp: string
  organization_id: string | null
  entity_type: string
  entity_id: string
  actor: string | null
  trace_id: string | null
  data: Record<string, unknown>
  event_metadata: Record<string, unknown>
  source_node: string | null
}

export class EventOutsideTransactionError extends Error {
  constructor() {
    super('appendEvent must be called with the transaction of the change it records')
  }
}

/**
 * A module's reaction to another module's events inside the same transaction (the assets module
 * keeps user and organisation mirror entities this way, so they can never be out of step).
 * Work that may wait or fail on its own belongs in a durable consumer (consumeEvents.ts) instead.
 */
export type Reaction = (tx: Executor, ctx: RequestContext, events: NewEvent[]) => Promise<void>

/** Above this many events in one call, they are written as one JSON parameter (see appendEvents). */
const BULK_EVENTS = 50

export function createEventLog(options: { sourceNode: string }) {
  const reactions: { prefixes: string[]; react: Reaction }[] = []
  /**
   * One insert of the events, their fields as one JSON parameter, only where `onlyIf` holds (it
   * may name the row's entity as `r.id`). The organisation, actor and trace of each batch's
   * context go with every row only when there are several contexts.
   */
  const insertSql = (batches: { ctx: RequestContext; items: NewEvent[] }[], onlyIf?: SQL) => {
    const one = batches.length === 1 ? batches[0]!.ctx : null
    const payload = JSON.stringify(
      batches.flatMap(({ ctx, items }) => {
        const who = one ? {} : { o: ctx.organizationId, a: actorLabel(ctx.actor), tr: ctx.traceId }
        return items.map((e) => ({ t: e.type, et: e.entityType, id: e.entityId, d: e.data ?? {}, m: e.metadata ?? {}, ...who }))
      }),
    )
    const who = one ? sql`${one.organizationId}::uuid, ${actorLabel(one.actor)}, ${one.traceId}` : sql`r.o, r.a, r.tr`
    return sql`insert into events (event_type, entity_type, entity_id, data, event_metadata, source_node, organization_id, actor, trace_id)
      select r.t, r.et, r.id, r.d, r.m, ${options.sourceNode}, ${who}
      from jsonb_to_recordset(${payload}::jsonb) as r(t text, et text, id uuid, d jsonb, m jsonb, o uuid, a text, tr text)
      ${onlyIf ? sql`where ${onlyIf}` : sql``}`
  }

  async function appendEvents(tx: Executor, ctx: RequestContext, items: NewEvent[]): Promise<void> {
    if (!(tx instanceof PgTransaction)) throw new EventOutsideTransactionError()
    if (items.length === 0) return
    const actor = actorLabel(ctx.actor)
    if (items.length <= BULK_EVENTS) {
      await tx.insert(events).values(
        items.map((e) => ({
          eventType: e.type,
          entityType: e.entityType,
          entityId: e.entityId,
          data: e.data ?? {},
          eventMetadata: e.metadata ?? {},
          sourceNode: options.sourceNode,
          organizationId: ctx.organizationId,
          actor,
          traceId: ctx.traceId,
        })),
      )
    } else {
      // Many events (a bulk upsert's 10,000) travel as one JSON parameter: building a 9-parameter
      // row each took drizzle 1.1 s per 10,000 against 0.25 s this way (docs/benchmarks.md §5),
      // and no bind-parameter limit applies.
      await tx.execute(insertSql([{ ctx, items }]))
    }
    for (const r of reactions) {
      const matching = items.filter((e) => r.prefixes.some((p) => e.type.startsWith(p)))
      if (matching.length > 0) await r.react(tx as Executor, ctx, matching)
    }
  }
  return {
    appendEvents,
    /** This node's name on the events it writes (`source_node`), for a statement that writes events itself. */
    sourceNode: options.sourceNode,
    /**
     * The insert of events (of one or more contexts) as one statement, for a caller that writes
     * them inside a statement of its own (a CTE), only where `onlyIf` holds (`r.id` is the row's
     * entity); null when a reaction would have to run for them (then use appendEvents in a
     * transaction).
     */
    insertSql(batches: { ctx: RequestContext; items: NewEvent[] }[], onlyIf?: SQL): SQL | null {
      if (reactions.some((r) => batches.some(({ items }) => items.some((e) => r.prefixes.some((p) => e.type.startsWith(p)))))) return null
      return insertSql(batches, onlyIf)
    },
    /** Runs `react` in the writing transaction for every batch of events whose type starts with one of `prefixes`. */
    react(prefixes: string[], react: Reaction) {
      reactions.push({ prefixes, react })
    },
    appendEvent: (tx: Executor, ctx: RequestContext, event: NewEvent) => appendEvents(tx, ctx, [event]),
  }
}

export type EventLog = ReturnType<typeof createEventLog>

export function toEventView(row: typeof events.$inferSelect): EventView {
  return {
    id: row.id,
    type: row.eventType,
    timestamp: row.timestamp.toISOString(),
    organization_id: row.organizationId,
    entity_type: row.entityType,
    entity_id: row.entityId,
    actor: row.actor,
    trace_id: row.traceId,
    data: row.data,
    event_metadata: row.eventMetadata,
    source_node: row.sourceNode,
  }
}

export interface EventFilter {
  type?: string
  type_prefix?: string
  entity_id?: string
  entity_type?: string
  since?: string
  until?: string
  sort?: 'timestamp' | '-timestamp'
  limit: number
  cursor?: string
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

export async function listEvents(db: Executor, ctx: RequestContext, f: EventFilter) {
  const where: (SQL | undefined)[] = [inOrg(events, ctx)]
  if (f.type) where.push(eq(events.eventType, f.type))
  if (f.type_prefix) where.push(like(events.eventType, `${escapeLike(f.type_prefix)}%`))
  if (f.entity_id) where.push(eq(events.entityId, f.entity_id))
  if (f.entity_type) where.push(eq(events.entityType, f.entity_type))
  if (f.since) where.push(gte(events.timestamp, new Date(f.since)))
  if (f.until) where.push(lt(events.timestamp, new Date(f.until)))
  const ascending = f.sort === 'timestamp'
  if (f.cursor) {
    const [ts, id] = decodeCursor(f.cursor, ['timestamp', 'number']) as [string, number]
    where.push(ascending ? sql`(${events.timestamp}, ${events.id}) > (${ts}::timestamptz, ${id})` : sql`(${events.timestamp}, ${events.id}) < (${ts}::timestamptz, ${id})`)
  }
  const order = ascending ? [asc(events.timestamp), asc(events.id)] : [desc(events.timestamp), desc(events.id)]
  const found = await db
    .select({ row: events, key: timestampKey(events.timestamp) })
    .from(events)
    .where(and(...where))
    .orderBy(...order)
    .limit(f.limit + 1)
  const page = pageOfRows(found, f.limit, (r) => [r.key, r.row.id])
  return { data: page.data.map((r) => toEventView(r.row)), next_cursor: page.next_cursor }
}
