// Migrates one template database per run; each test file then starts from a copy of it
// (PGlite: a restored data-folder dump, ~0.3 s; PostgreSQL: CREATE DATABASE ... TEMPLATE).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { migrate } from '../src/core/db/migrate.ts'
import { openPglite } from '../src/core/db/pglite.ts'
import { openPostgres } from '../src/core/db/postgres.ts'
import type { TestProject } from 'vitest/node'
import { adminUrl, withDatabase } from './db.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run's template: a database name (PostgreSQL) or a dump file (PGlite). */
    template: string
  }
}

// Names carry the run's pid, so two suites on one server or checkout never touch each other's.
export default async function setup(project: TestProject) {
  const run = `${process.pid}`
  const url = process.env.DATABASE_URL
  if (url) {
    const name = `stratum_template_${run}`
    const admin = new pg.Client({ connectionString: adminUrl(url) })
    await admin.connect()
    await admin.query(`drop database if exists ${name} with (force)`)
    await admin.query(`create database ${name}`)
    await admin.end()
    const db = await openPostgres({ url: withDatabase(url, name), poolMax: 2, statementTimeoutMs: 0 })
    await migrate(db)
    await db.close()
    project.provide('template', name)
    return async () => {
      const a = new pg.Client({ connectionString: adminUrl(url) })
      await a.connect()
      await a.query(`drop database if exists ${name} with (force)`)
      await a.end()
    }
  }
  const dumpPath = join(import.meta.dirname, `../.tmp/template-${run}.tar`)
  const db = await openPglite({})
  await migrate(db)
  const dump = await db.client.dumpDataDir('none')
  mkdirSync(join(dumpPath, '..'), { recursive: true })
  writeFileSync(dumpPath, Buffer.from(await dump.arrayBuffer()))
  await db.close()
  project.provide('template', dumpPath)
  return () => rmSync(dumpPath, { force: true })
}
