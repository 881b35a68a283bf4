import { bigint, char, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { newId } from '../behaviours/columns.ts'

// A stored file: its bytes live once in the content-addressed store under `sha256`.
export const files = pgTable(
  'files',
  {
    id: uuid('id').primaryKey().$defaultFn(newId),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    contentType: text('content_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: char('sha256', { length: 64 }).notNull(),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('files_org_idx').on(t.organizationId, t.createdAt, t.id), index('files_sha_idx').on(t.sha256)],
)
