import { AsyncLocalStorage } from 'node:async_hooks'
import pg from 'pg'
import { drizzle } from 'drizzle-orm/node-postgres'
import { OuterHandleInTransactionError, type Database, type Executor } from './database.ts'

export interface PostgresOptions {
  url: string
  poolMax: number
  statementTimeoutMs: number
  applicationName?: string
}

// timestamptz and bigint come back as strings by default; ids of the event log are bigint but
// stay below 2^53 for the lifetime of any installation, so they are parsed as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

export async function openPostgres(options: PostgresOptions): Promise<Database & { pool: pg.Pool }> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    statement_timeout: options.statementTimeoutMs || undefined,
    application_name: options.applicationName ?? 'stratum',
  })
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {})
  await pool.query('select 1')
  const inTransaction = new AsyncLocalStorage<boolean>()
  const guardedPool = new Proxy(pool, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (prop === 'query' && typeof value === 'function') {
        return (...args: unknown[]) => {
          if (inTransaction.getStore()) throw new OuterHandleInTransactionError()
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
      return value
    },
  })
  const db = drizzle({ client: guardedPool }) as unknown as Executor
  const listeners = new Set<pg.Client>()
  let closed = false
  return {
    kind: 'postgres',
    db,
    pool,
    transaction(fn) {
      if (inTransaction.getStore()) return Promise.reject(new OuterHandleInTransactionError())
      return db.transaction((tx) => inTransaction.run(true, () => fn(tx as unknown as Executor)))
    },
    async prepared<T>(name: string, text: string, params: unknown[]) {
      if (inTransaction.getStore()) throw new OuterHandleInTransactionError()
      return (await pool.query({ name, text, values: params })).rows as T[]
    },
    async listen(channel, onNotify) {
      // LISTEN needs a connection of its own for as long as it listens.
      const client = new pg.Client({ connectionString: options.url, application_name: 'stratum-listen' })
      client.on('error', () => {})
      await client.connect()
      client.on('notification', (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '')
      })
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      listeners.add(client)
      return async () => {
        if (!listeners.delete(client)) return
        await client.end().catch(() => {})
      }
    },
    async close() {
      if (closed) return
      closed = true
      await Promise.all([...listeners].map((c) => c.end().catch(() => {})))
      listeners.clear()
      await pool.end()
    },
  }
}
