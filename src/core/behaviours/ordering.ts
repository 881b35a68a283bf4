// Seed 003 OrderedModel: rows ordered by `position` within a scope (e.g. the steps of one
// workflow). Positions stay dense (0..n-1) and unique under a unique (scope, position) index.
import { and, count, eq, gt, gte, lt, lte, max, sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { NotFoundError } from '../errors.ts'

type Ordered = PgTable & { id: PgColumn; position: PgColumn }

// Shifting positions by one in a single UPDATE would hit the unique index half-way. Rows are
// first parked at distinct negative positions, then brought back shifted: two statements,
// neither of which can collide.
async function shift(tx: Executor, table: Ordered, where: SQL, by: 1 | -1) {
  await tx.update(table).set({ position: sql`-(${table.position}) - 1` } as never).where(where)
  await tx
    .update(table)
    .set({ position: sql`-(${table.position}) - 1 + ${by}` } as never)
    .where(lt(table.position, 0))
}

export function createOrdering(table: Ordered) {
  async function positionOf(tx: Executor, scope: SQL, id: string): Promise<{ position: number; size: number }> {
    const [row] = (await tx.select({ position: table.position }).from(table).where(and(scope, eq(table.id, id))).for('update')) as { position: number }[]
    if (!row) throw new NotFoundError('row not found')
    const [{ n }] = (await tx.select({ n: count() }).from(table).where(scope)) as [{ n: number }]
    return { position: row.position, size: Number(n) }
  }
  async function moveTo(tx: Executor, scope: SQL, id: string, target: number): Promise<number> {
    const { position, size } = await positionOf(tx, scope, id)
    const to = Math.max(0, Math.min(size - 1, Math.trunc(target)))
    if (to === position) return to
    await tx.update(table).set({ position: -1_000_000_000 } as never).where(and(scope, eq(table.id, id)))
    if (to < position) await shift(tx, table, and(scope, gte(table.position, to), lt(table.position, position))!, 1)
    else await shift(tx, table, and(scope, gt(table.position, position), lte(table.position, to))!, -1)
    await tx.update(table).set({ position: to } as never).where(and(scope, eq(table.id, id)))
    return to
  }
  return {
    /** The position a new row appended to the scope takes. */
    async nextPosition(tx: Executor, scope: SQL): Promise<number> {
      const [row] = (await tx.select({ m: max(table.position) }).from(table).where(scope)) as [{ m: number | null }]
      return row.m === null ? 0 : Number(row.m) + 1
    },
    moveTo,
    async moveUp(tx: Executor, scope: SQL, id: string) {
      const { position } = await positionOf(tx, scope, id)
      return moveTo(tx, scope, id, position - 1)
    },
    async moveDown(tx: Executor, scope: SQL, id: string) {
      const { position } = await positionOf(tx, scope, id)
      return moveTo(tx, scope, id, position + 1)
    },
    /** Closes the gap a removed row left behind (call after deleting it). */
    async closeGap(tx: Executor, scope: SQL, removedPosition: number) {
      await shift(tx, table, and(scope, gt(table.position, removedPosition))!, -1)
    },
  }
}
