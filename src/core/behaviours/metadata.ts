// Seed 003 MetadataModel: free-form JSON read and written by dotted path (`limits.max.rpm`).
import { sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { NotFoundError, ValidationError } from '../errors.ts'

type Json = Record<string, unknown>

export function parsePath(path: string): string[] {
  const parts = path.split('.')
  if (path === '' || parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new ValidationError(`"${path}" is not a metadata path`, [{ path: '/path', message: 'must be dot-separated names, e.g. limits.max' }])
  }
  return parts
}

export function getMeta<T = unknown>(metadata: Json, path: string, fallback?: T): T | undefined {
  let node: unknown = metadata
  for (const key of parsePath(path)) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return fallback
    node = (node as Json)[key]
  }
  return node as T
}

/** A copy of `metadata` with `path` set to `value` (intermediate objects created). */
export function withMeta(metadata: Json, path: string, value: unknown): Json {
  const keys = parsePath(path)
  const root: Json = structuredClone(metadata ?? {})
  let node = root
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {}
    node = node[key] as Json
  }
  node[keys[keys.length - 1]!] = value
  return root
}

/** Sets one path of a row's metadata under a row lock, so concurrent writers of other paths keep theirs. */
export async function setMeta(tx: Executor, table: PgTable & { metadata: PgColumn }, where: SQL, path: string, value: unknown): Promise<Json> {
  parsePath(path)
  const [row] = (await tx.select({ metadata: table.metadata }).from(table).where(where).for('update')) as { metadata: Json }[]
  if (!row) throw new NotFoundError('row not found')
  const next = withMeta(row.metadata, path, value)
  await tx
    .update(table)
    .set({ metadata: sql`${JSON.stringify(next)}::jsonb` } as never)
    .where(where)
  return next
}
