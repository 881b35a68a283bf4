// Migrates one template database per run; each test file then starts from a copy of it
// (PGlite: a restored data-folder dump, ~0.3 s; PostgreSQL: CREATE DATABASE ... TEMPLATE).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { migrate } from '../src/core/db/migrate.ts'
import { openPglite } from '../src/core/db/pglite.ts'
import { openPostgres } from '../src/core/db/postgres.ts'
import { TEMPLATE_DB, TEMPLATE_DUMP, adminUrl, withDatabase } from './db.ts'

export default async function setup() {
  const url = process.env.DATABASE_URL
  if (url) {
    const admin = new pg.Client({ connectionString: adminUrl(url) })
    await admin.connect()
    // Leftovers of an earlier, interrupted run.
    const old = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'stratum_t%'`)
    for (const { datname } of old.rows) await admin.query(`drop database if exists "${datname}" with (force)`)
    await admin.query(`create database ${TEMPLATE_DB}`)
    await admin.end()
    const db = await openPostgres({ url: withDatabase(url, TEMPLATE_DB), poolMax: 2, statementTimeoutMs: 0 })
    await migrate(db)
    await db.close()
    return
  }
  const db = await openPglite({})
  await migrate(db)
  const dump = await db.client.dumpDataDir('none')
  mkdirSync(join(TEMPLATE_DUMP, '..'), { recursive: true })
  writeFileSync(TEMPLATE_DUMP, Buffer.from(await dump.arrayBuffer()))
  await db.close()
}
