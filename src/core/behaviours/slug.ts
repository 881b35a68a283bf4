// Seed 003 SluggedModel: a URL-friendly slug from the name, unique per organisation (the table
// holds a unique (organization_id, slug) index; this picks the first free `name`, `name-2`, ...).
import { and, like, ne, or, eq, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Executor } from '../db/database.ts'

export function slugify(text: string, maxLength = 80): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/, '')
  return slug || 'item'
}

export async function uniqueSlug(
  tx: Executor,
  table: PgTable & { slug: PgColumn; id: PgColumn },
  scope: SQL,
  name: string,
  exceptId?: string,
  maxLength = 80,
): Promise<string> {
  const base = slugify(name, maxLength)
  const taken = (await tx
    .select({ slug: table.slug })
    .from(table)
    .where(and(scope, or(eq(table.slug, base), like(table.slug, `${base}-%`)), exceptId ? ne(table.id, exceptId) : undefined))) as { slug: string }[]
  const used = new Set(taken.map((t) => t.slug))
  if (!used.has(base)) return base
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`
}
