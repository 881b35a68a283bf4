import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { inject } from 'vitest'
import type { Database } from '../src/core/db/database.ts'
import { openPglite } from '../src/core/db/pglite.ts'
import { openPostgres } from '../src/core/db/postgres.ts'


export const adminUrl = (url: string) => withDatabase(url, 'postgres')
export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

export const onPostgres = () => Boolean(process.env.DATABASE_URL)

/** A freshly migrated database of its own; close() also drops it (PostgreSQL). */
export async function testDatabase(): Promise<Database & { url?: string }> {
  const url = process.env.DATABASE_URL
  const template = inject('template')
  if (!url) return openPglite({ loadDataDir: new Blob([readFileSync(template)]) })
  const name = `stratum_t${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl(url) })
  await admin.connect()
  await admin.query(`create database ${name} template ${template}`)
  await admin.end()
  const dbUrl = withDatabase(url, name)
  const db = await openPostgres({ url: dbUrl, poolMax: 12, statementTimeoutMs: 30_000 })
  const close = db.close.bind(db)
  return Object.assign(db, {
    url: dbUrl,
    async close() {
      await close()
      const a = new pg.Client({ connectionString: adminUrl(url) })
      await a.connect()
      await a.query(`drop database if exists ${name} with (force)`)
      await a.end()
    },
  })
}
