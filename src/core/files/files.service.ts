import type { Readable } from 'node:stream'
import { and, eq } from 'drizzle-orm'
import type { Database, Executor } from '../db/database.ts'
import { actorLabel, type RequestContext } from '../context.ts'
import { NotFoundError } from '../errors.ts'
import { inOrg, orgOf } from '../tenancy.ts'
import { listNewestFirst } from '../http/pagination.ts'
import type { EventLog } from '../events/events.service.ts'
import type { FileStore } from './fileStore.ts'
import { files } from './files.schema.ts'

export type FileRow = typeof files.$inferSelect

export const toFileView = (f: FileRow) => ({
  id: f.id,
  organization_id: f.organizationId,
  name: f.name,
  content_type: f.contentType,
  size: f.size,
  sha256: f.sha256,
  created_by: f.createdBy,
  created_at: f.createdAt.toISOString(),
})

export function createFiles(deps: { database: Database; events: EventLog; store: FileStore }) {
  const { database, events, store } = deps
  return {
    /**
     * Streams the bytes into the store, then records the file and its event in one transaction.
     * Bytes whose record did not commit stay unreferenced in the store (same hash, no row).
     */
    async upload(ctx: RequestContext, input: { name: string; contentType: string; body: Readable; maxBytes: number }): Promise<FileRow> {
      const organizationId = orgOf(ctx)
      const blob = await store.put(input.body, input.maxBytes)
      return database.transaction(async (tx) => {
        const [row] = await tx
          .insert(files)
          .values({ organizationId, name: input.name, contentType: input.contentType, size: blob.size, sha256: blob.sha256, createdBy: actorLabel(ctx.actor) })
          .returning()
        await events.appendEvent(tx, ctx, { type: 'file.created', entityType: 'file', entityId: row!.id, data: { name: row!.name, size: row!.size, sha256: row!.sha256 } })
        return row!
      })
    },
    async get(db: Executor, ctx: RequestContext, id: string): Promise<FileRow> {
      const [row] = await db.select().from(files).where(and(eq(files.id, id), inOrg(files, ctx)))
      if (!row) throw new NotFoundError(`file ${id} not found`)
      return row
    },
    async open(ctx: RequestContext, id: string) {
      const row = await this.get(database.db, ctx, id)
      const { stream } = await store.get(row.sha256)
      return { row, stream }
    },
    list(db: Executor, ctx: RequestContext, page: { limit: number; cursor?: string }) {
      return listNewestFirst(db, files, [inOrg(files, ctx)], page)
    },
  }
}

export type Files = ReturnType<typeof createFiles>
