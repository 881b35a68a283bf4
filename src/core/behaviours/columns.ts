// Column sets for the seed-003 base classes (TimeStamped, UUID, TenantScoped, Auditable,
// SoftDelete, Slugged, Status, Metadata, Ordered). A module spreads the ones it needs into its
// pgTable; the functions beside this file give each its behaviour.
import { boolean, integer, jsonb, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { uuidv7 } from 'uuidv7'

export const newId = (): string => uuidv7()

/** What an id looks like: a path or body value that does not match names no row (404, not a database error). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const idColumn = () => ({ id: uuid('id').primaryKey().$defaultFn(newId) })

export const timestamps = () => ({
  createdAt: tstz('created_at').notNull().defaultNow(),
  updatedAt: tstz('updated_at').notNull().defaultNow().$onUpdateFn(() => new Date()),
})

export const tenantColumn = () => ({ organizationId: uuid('organization_id').notNull() })

export const auditColumns = () => ({
  createdBy: text('created_by'),
  modifiedBy: text('modified_by'),
})

export const softDeleteColumns = () => ({
  isDeleted: boolean('is_deleted').notNull().default(false),
  deletedAt: tstz('deleted_at'),
  deletedBy: text('deleted_by'),
})

export const slugColumn = () => ({ slug: text('slug').notNull() })

export const statusColumns = <S extends string>(initial: S) => ({
  status: text('status').$type<S>().notNull().default(initial),
  statusChangedAt: tstz('status_changed_at').notNull().defaultNow(),
})

export const metadataColumn = () => ({ metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}) })

export const positionColumn = () => ({ position: integer('position').notNull() })
