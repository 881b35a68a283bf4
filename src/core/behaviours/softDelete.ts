// Seed 003 SoftDeleteModel: delete hides a row (is_deleted, deleted_at, deleted_by), restore
// brings it back, hard delete removes it. Readers add `notDeleted(table)` unless the client
// asked for include_deleted=true.
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { actorLabel, type RequestContext } from '../context.ts'

type SoftDeletable = PgTable & { isDeleted: PgColumn; deletedAt: PgColumn; deletedBy: PgColumn }

export const notDeleted = (table: { isDeleted: PgColumn }): SQL => eq(table.isDeleted, false)

export const visible = (table: { isDeleted: PgColumn }, includeDeleted = false): SQL | undefined =>
  includeDeleted ? undefined : notDeleted(table)

/** Marks matching live rows deleted; returns how many were. */
export async function softDelete(tx: Executor, table: SoftDeletable, where: SQL, ctx: RequestContext): Promise<number> {
  const done = await tx
    .update(table)
    .set({ isDeleted: true, deletedAt: sql`now()`, deletedBy: actorLabel(ctx.actor) } as never)
    .where(and(where, notDeleted(table)))
    .returning({ one: sql`1` })
  return done.length
}

/** Brings matching deleted rows back; returns how many were. */
export async function restore(tx: Executor, table: SoftDeletable, where: SQL): Promise<number> {
  const done = await tx
    .update(table)
    .set({ isDeleted: false, deletedAt: null, deletedBy: null } as never)
    .where(and(where, eq(table.isDeleted, true)))
    .returning({ one: sql`1` })
  return done.length
}

/** Removes matching rows for good, deleted or not; returns how many were. */
export async function hardDelete(tx: Executor, table: PgTable, where: SQL): Promise<number> {
  const done = await tx.delete(table).where(where).returning({ one: sql`1` })
  return done.length
}
