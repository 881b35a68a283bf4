// One database layer over embedded PGlite and PostgreSQL. Services receive an `Executor`
// (the drizzle handle or a transaction) and never know which engine is underneath.
import type { SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'

export type Executor = PgDatabase<PgQueryResultHKT>

export type DatabaseKind = 'pglite' | 'postgres'

export interface Database {
  readonly kind: DatabaseKind
  /** The drizzle handle. Each call outside `transaction` is its own statement. */
  readonly db: Executor
  /**
   * One transaction. PGlite has a single session, so its transactions run one at a time;
   * PostgreSQL takes a pooled connection. Using `db` inside `fn` is a bug (it would deadlock
   * PGlite) and throws `OuterHandleInTransactionError` on both engines.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>
  /**
   * A hot statement outside any transaction, prepared once per connection under `name`
   * (PostgreSQL), so it is parsed and planned once rather than on every call. Plain SQL text
   * with $1.. parameters; use it only where a benchmark shows the planning cost.
   */
  prepared<T>(name: string, text: string, params: unknown[]): Promise<T[]>
  /** LISTEN on a channel; returns a function that stops listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

export class OuterHandleInTransactionError extends Error {
  constructor() {
    super('the outer database handle was used inside a transaction; use the transaction handle')
  }
}

/** Rows of a raw SQL statement, the same shape on both drivers. */
export async function rows<T>(exec: Executor, query: SQL): Promise<T[]> {
  const result = (await exec.execute(query)) as unknown as { rows: T[] }
  return result.rows
}

export async function firstRow<T>(exec: Executor, query: SQL): Promise<T | undefined> {
  return (await rows<T>(exec, query))[0]
}
