import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle } from 'drizzle-orm/pglite'
import { OuterHandleInTransactionError, type Database, type Executor } from './database.ts'
import { lockDataDir } from './lock.ts'

export interface PgliteOptions {
  /** Folder holding `pglite/`; undefined = in memory (tests). */
  dataDir?: string
  /** A dump made by `dumpDataDir()` to start from (tests restore a migrated template). */
  loadDataDir?: Blob
}

export async function openPglite(options: PgliteOptions): Promise<Database & { client: PGlite }> {
  let release = () => {}
  let dataPath: string | undefined
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true })
    release = lockDataDir(options.dataDir)
    dataPath = join(options.dataDir, 'pglite')
  }
  let client: PGlite
  try {
    client = await PGlite.create({
      ...(dataPath ? { dataDir: dataPath } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    })
  } catch (err) {
    release()
    throw err
  }
  // PGlite queues an outer query behind the running transaction, so an outer query issued from
  // inside a transaction waits for itself forever. Turn that deadlock into an error.
  const inTransaction = new AsyncLocalStorage<boolean>()
  const guard = <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      if (inTransaction.getStore()) throw new OuterHandleInTransactionError()
      return fn(...args)
    }
  client.query = guard(client.query.bind(client)) as typeof client.query
  client.exec = guard(client.exec.bind(client)) as typeof client.exec
  const db = drizzle({ client }) as unknown as Executor
  let closed = false
  return {
    kind: 'pglite',
    db,
    client,
    transaction(fn) {
      if (inTransaction.getStore()) return Promise.reject(new OuterHandleInTransactionError())
      return db.transaction((tx) => inTransaction.run(true, () => fn(tx as unknown as Executor)))
    },
    async prepared<T>(_name: string, text: string, params: unknown[]) {
      // One in-process session: nothing to share a prepared statement with.
      return (await client.query<T>(text, params)).rows
    },
    async listen(channel, onNotify) {
      return client.listen(channel, onNotify)
    },
    async close() {
      if (closed) return
      closed = true
      try {
        await client.close()
      } finally {
        release()
      }
    },
  }
}
