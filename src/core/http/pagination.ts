// The one pagination helper: keyset cursors (sort key + id), opaque to clients, stable under
// concurrent inserts. Fetch `limit + 1` rows, then call `pageOf`.
import { and, desc, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'
import { Type } from 'typebox'
import { BadRequestError } from '../errors.ts'

export const pageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Rows per page, 1 to 1000' })),
  cursor: Type.Optional(Type.String({ maxLength: 1000, description: 'The `next_cursor` of the previous page' })),
}

export const pageOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) })

type KeyPart = string | number

export function encodeCursor(key: KeyPart[]): string {
  return Buffer.from(JSON.stringify({ v: 1, k: key })).toString('base64url')
}

const CURSOR_PART = {
  string: (p: unknown) => typeof p === 'string',
  number: (p: unknown) => typeof p === 'number' && Number.isFinite(p),
  // what timestampKey writes, and nothing the database could refuse to cast
  timestamp: (p: unknown) => typeof p === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(p) && !Number.isNaN(Date.parse(p)) && p >= '0001',
  uuid: (p: unknown) => typeof p === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(p),
}

/** Decodes a cursor into its key; `shape` says what each part must be. */
export function decodeCursor(cursor: string, shape: (keyof typeof CURSOR_PART)[]): KeyPart[] {
  const bad = () => new BadRequestError('cursor is not valid; start again without it', [{ path: '/query/cursor', message: 'is not a cursor this list issued' }])
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw bad()
  }
  const key = (parsed as { v?: unknown; k?: unknown } | null)?.k
  if ((parsed as { v?: unknown } | null)?.v !== 1 || !Array.isArray(key) || key.length !== shape.length) throw bad()
  key.forEach((part, i) => {
    if (!CURSOR_PART[shape[i]!](part)) throw bad()
  })
  return key as KeyPart[]
}

export function pageOfRows<T>(rows: T[], limit: number, keyOf: (row: T) => KeyPart[]): { data: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { data: rows, next_cursor: null }
  const data = rows.slice(0, limit)
  return { data, next_cursor: encodeCursor(keyOf(data[data.length - 1]!)) }
}

/**
 * A timestamp as a cursor key at full (microsecond) precision: a JS Date keeps only
 * milliseconds, and a key rounded to them would skip or repeat rows on the page boundary.
 */
export const timestampKey = (column: AnyColumn) =>
  sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

interface NewestFirst {
  id: AnyColumn
  createdAt: AnyColumn
}

/**
 * One page of a table listed newest first by (created_at, id), the order most lists use.
 * `where` holds the caller's filters (tenant scope first).
 */
export async function listNewestFirst<T extends PgTable & NewestFirst>(
  db: Executor,
  table: T,
  where: (SQL | undefined)[],
  page: { limit: number; cursor?: string | undefined },
): Promise<{ data: T['$inferSelect'][]; next_cursor: string | null }> {
  const conditions = [...where]
  if (page.cursor) {
    const [ts, id] = decodeCursor(page.cursor, ['timestamp', 'uuid']) as [string, string]
    conditions.push(sql`(${table.createdAt}, ${table.id}) < (${ts}::timestamptz, ${id}::uuid)`)
  }
  const found = (await db
    .select({ row: table as PgTable, key: timestampKey(table.createdAt) } as never)
    .from(table as PgTable)
    .where(and(...conditions))
    .orderBy(desc(table.createdAt), desc(table.id))
    .limit(page.limit + 1)) as unknown as { row: T['$inferSelect']; key: string }[]
  const result = pageOfRows(found, page.limit, (r) => [r.key, (r.row as { id: string }).id])
  return { data: result.data.map((r) => r.row), next_cursor: result.next_cursor }
}
