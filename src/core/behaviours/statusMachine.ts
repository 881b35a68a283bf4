// Seed 003 StatusModel: a status with allowed transitions and status_changed_at. A move the
// machine does not allow is an IllegalTransitionError (409) naming both states.
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { IllegalTransitionError, NotFoundError } from '../errors.ts'

type WithStatus = PgTable & { status: PgColumn; statusChangedAt: PgColumn }

export interface StatusMachine<S extends string> {
  entity: string
  initial: S
  statuses: readonly S[]
  can(from: S, to: S): boolean
  assert(from: S, to: S): void
  /** Locks the row, checks the move, sets status and status_changed_at; returns the old status. */
  transition(tx: Executor, table: WithStatus, where: SQL, to: S): Promise<S>
}

export function defineStatusMachine<S extends string>(entity: string, initial: S, transitions: Record<S, readonly S[]>): StatusMachine<S> {
  const statuses = Object.keys(transitions) as S[]
  const can = (from: S, to: S) => transitions[from]?.includes(to) ?? false
  const assert = (from: S, to: S) => {
    if (!can(from, to)) throw new IllegalTransitionError(entity, from, to)
  }
  return {
    entity,
    initial,
    statuses,
    can,
    assert,
    async transition(tx, table, where, to) {
      const [row] = (await tx.select({ status: table.status }).from(table).where(where).for('update')) as { status: S }[]
      if (!row) throw new NotFoundError(`${entity} not found`)
      assert(row.status, to)
      await tx
        .update(table)
        .set({ status: to, statusChangedAt: sql`now()` } as never)
        .where(and(where))
      return row.status
    },
  }
}

export const statusIn = <S extends string>(table: { status: PgColumn }, status: S): SQL => eq(table.status, status)
