// Seed 001 `events`, also seed 003 Event/AuditLog and seed 004 system_logs: one append-only log.
// The migration makes it range-partitioned by `timestamp` (drizzle-kit cannot express that),
// with the seed's primary key (timestamp, id).
import { sql } from 'drizzle-orm'
import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core'

export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity(),
    timestamp: timestamp('timestamp', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    eventType: varchar('event_type', { length: 100 }).notNull(),
    entityId: uuid('entity_id').notNull(),
    entityType: varchar('entity_type', { length: 100 }).notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    eventMetadata: jsonb('event_metadata').$type<Record<string, unknown>>().notNull().default({}),
    sourceNode: varchar('source_node', { length: 50 }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    organizationId: uuid('organization_id'),
    actor: text('actor'),
    traceId: varchar('trace_id', { length: 32 }),
    // The writing transaction's id: consumers read in (tx_id, id) order and only below the
    // oldest running transaction, so an id that commits late is never skipped.
    txId: bigint('tx_id', { mode: 'number' })
      .notNull()
      .default(sql`(pg_current_xact_id()::text)::bigint`),
  },
  (t) => [
    primaryKey({ columns: [t.timestamp, t.id] }),
    index('events_tx_idx').on(t.txId, t.id),
    index('events_org_type_idx').on(t.organizationId, t.eventType, t.timestamp),
    index('events_entity_idx').on(t.entityId, t.timestamp),
  ],
)

export const eventConsumers = pgTable('event_consumers', {
  name: text('name').primaryKey(),
  lastTxId: bigint('last_tx_id', { mode: 'number' }).notNull().default(0),
  lastEventId: bigint('last_event_id', { mode: 'number' }).notNull().default(0),
  delivered: bigint('delivered', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
})
