// Data sources and their components (seed 000 DataSource, DataSourceComponent). A component's
// file is uploaded through the file store (streamed, hashed, size-limited); replacing it keeps
// the earlier file as a numbered version. Components list newest first, as the seed orders them.
import type { Readable } from 'node:stream'
import { and, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import type { FileStore } from '../../core/files/fileStore.ts'
import { createFiles } from '../../core/files/files.service.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { componentFiles, components, dataSources, type ComponentRow, type DataSourceRow, type DataSourceType } from './sources.schema.ts'

export const toDataSourceView = (d: DataSourceRow) => ({
  id: d.id,
  name: d.name,
  type: d.type,
  description: d.description,
  created_by: d.createdBy,
  modified_by: d.modifiedBy,
  created_at: d.createdAt.toISOString(),
  updated_at: d.updatedAt.toISOString(),
})

export const toComponentView = (c: ComponentRow) => ({
  id: c.id,
  data_source_id: c.dataSourceId,
  name: c.name,
  description: c.description,
  file_id: c.fileId,
  is_active: c.isActive,
  created_by: c.createdBy,
  modified_by: c.modifiedBy,
  created_at: c.createdAt.toISOString(),
  updated_at: c.updatedAt.toISOString(),
})

const notFound = (what: string, id: string) => new NotFoundError(`${what} ${id} not found`)

export function createDataSources({ database, events, files: store }: { database: Database; events: EventLog; files: FileStore }) {
  const db = database.db
  const files = createFiles({ database, events, store })

  async function getSource(exec: Executor, ctx: RequestContext, id: string): Promise<DataSourceRow> {
    if (!UUID.test(id)) throw notFound('data source', id)
    const [row] = await exec.select().from(dataSources).where(and(inOrg(dataSources, ctx), eq(dataSources.id, id)))
    if (!row) throw notFound('data source', id)
    return row
  }

  async function getComponent(exec: Executor, ctx: RequestContext, id: string): Promise<ComponentRow> {
    if (!UUID.test(id)) throw notFound('component', id)
    const [row] = await exec.select().from(components).where(and(inOrg(components, ctx), eq(components.id, id)))
    if (!row) throw notFound('component', id)
    return row
  }

  /** A component by id, or by "source/component" names (how facts name it). */
  async function findComponent(exec: Executor, ctx: RequestContext, ref: string): Promise<ComponentRow | null> {
    if (UUID.test(ref)) return (await exec.select().from(components).where(and(inOrg(components, ctx), eq(components.id, ref))))[0] ?? null
    const slash = ref.indexOf('/')
    if (slash < 0) {
      // A bare name is enough when only one data source has a component of that name.
      const found = await exec.select().from(components).where(and(inOrg(components, ctx), sql`lower(${components.name}) = lower(${ref})`)).limit(2)
      return found.length === 1 ? found[0]! : null
    }
    const [row] = await exec
      .select({ c: components })
      .from(components)
      .innerJoin(dataSources, and(eq(dataSources.organizationId, components.organizationId), eq(dataSources.id, components.dataSourceId)))
      .where(and(inOrg(components, ctx), sql`lower(${dataSources.name}) = lower(${ref.slice(0, slash)})`, sql`lower(${components.name}) = lower(${ref.slice(slash + 1)})`))
    return row?.c ?? null
  }

  /** The names of duplicated things, as a 409. */
  const clash = (err: unknown, message: string) => {
    if (isUniqueViolation(err)) throw new ConflictError(message)
    throw err
  }

  return {
    getSource,
    getComponent,
    findComponent,

    async createSource(ctx: RequestContext, input: { name: string; type: DataSourceType; description?: string | null | undefined }) {
      const by = actorLabel(ctx.actor)
      return database
        .transaction(async (tx) => {
          const [row] = await tx.insert(dataSources).values({ organizationId: orgOf(ctx), name: input.name.trim(), type: input.type, description: input.description ?? null, createdBy: by, modifiedBy: by }).returning()
          await events.appendEvent(tx, ctx, { type: 'data_source.created', entityType: 'data_source', entityId: row!.id, data: { name: row!.name, type: row!.type } })
          return toDataSourceView(row!)
        })
        .catch((err) => clash(err, `a data source named ${input.name} already exists`))
    },

    async listSources(ctx: RequestContext, q: { type?: DataSourceType | undefined; limit: number; cursor?: string | undefined }) {
      const page = await listNewestFirst(db, dataSources, [inOrg(dataSources, ctx), q.type ? eq(dataSources.type, q.type) : undefined], q)
      return { data: page.data.map(toDataSourceView), next_cursor: page.next_cursor }
    },

    async getSourceView(ctx: RequestContext, id: string) {
      return toDataSourceView(await getSource(db, ctx, id))
    },

    async updateSource(ctx: RequestContext, id: string, patch: { name?: string | undefined; type?: DataSourceType | undefined; description?: string | null | undefined }) {
      return database
        .transaction(async (tx) => {
          const before = await getSource(tx, ctx, id)
          const [row] = await tx
            .update(dataSources)
            .set({ ...(patch.name !== undefined ? { name: patch.name.trim() } : {}), ...(patch.type !== undefined ? { type: patch.type } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}), modifiedBy: actorLabel(ctx.actor) })
            .where(and(inOrg(dataSources, ctx), eq(dataSources.id, id)))
            .returning()
          await events.appendEvent(tx, ctx, { type: 'data_source.updated', entityType: 'data_source', entityId: id, data: { before: { name: before.name, type: before.type, description: before.description }, after: { name: row!.name, type: row!.type, description: row!.description } } })
          return toDataSourceView(row!)
        })
        .catch((err) => clash(err, `a data source named ${patch.name} already exists`))
    },

    /** Deletes a data source with its components; refused while a scenario links one of them, or a series carries one. */
    async deleteSource(ctx: RequestContext, id: string) {
      await database.transaction(async (tx) => {
        const source = await getSource(tx, ctx, id)
        const linked = await rows<{ id: string; name: string }>(
          tx,
          sql`select distinct s.id, s.name from scenario_components l join scenarios s on s.organization_id = l.organization_id and s.id = l.scenario_id
              where l.organization_id = ${orgOf(ctx)} and l.data_source_id = ${id} order by s.name`,
        )
        if (linked.length > 0) throw new ConflictError(`data source ${source.name} has components linked to scenario${linked.length === 1 ? '' : 's'} ${linked.map((s) => s.name).join(', ')}; unlink them first`, { scenarios: linked })
        const [used] = await rows<{ n: number }>(tx, sql`select count(*)::int as n from series where organization_id = ${orgOf(ctx)} and component_id in (select id from components where organization_id = ${orgOf(ctx)} and data_source_id = ${id})`)
        if (used!.n > 0) throw new ConflictError(`data source ${source.name} has components that ${used!.n} series of facts come from; it cannot be deleted`, { series: used!.n })
        const notebooks = await rows<{ name: string }>(tx, sql`select name from automations where organization_id = ${orgOf(ctx)} and component_id in (select id from components where organization_id = ${orgOf(ctx)} and data_source_id = ${id}) order by name`)
        if (notebooks.length > 0) throw new ConflictError(`data source ${source.name} has components with notebook${notebooks.length === 1 ? '' : 's'} ${notebooks.map((n) => n.name).join(', ')}; delete them first`, { notebooks: notebooks.map((n) => n.name) })
        const gone = await tx.delete(components).where(and(inOrg(components, ctx), eq(components.dataSourceId, id))).returning({ id: components.id })
        await tx.delete(dataSources).where(and(inOrg(dataSources, ctx), eq(dataSources.id, id)))
        await events.appendEvents(tx, ctx, [
          ...gone.map((c) => ({ type: 'component.deleted', entityType: 'component', entityId: c.id, data: { data_source_id: id } })),
          { type: 'data_source.deleted', entityType: 'data_source', entityId: id, data: { name: source.name, components: gone.length } },
        ])
      })
    },

    async createComponent(ctx: RequestContext, sourceId: string, input: { name: string; description?: string | null | undefined; file_id?: string | undefined }) {
      const by = actorLabel(ctx.actor)
      return database
        .transaction(async (tx) => {
          await getSource(tx, ctx, sourceId)
          if (input.file_id) await files.get(tx, ctx, input.file_id).catch(() => {
            throw new ValidationError(`no file ${input.file_id} in this organisation`, [{ path: '/body/file_id', message: 'is not a file of this organisation' }])
          })
          const [row] = await tx.insert(components).values({ organizationId: orgOf(ctx), dataSourceId: sourceId, name: input.name.trim(), description: input.description ?? null, fileId: input.file_id ?? null, createdBy: by, modifiedBy: by }).returning()
          if (input.file_id) await tx.insert(componentFiles).values({ organizationId: orgOf(ctx), componentId: row!.id, version: 1, fileId: input.file_id, createdBy: by })
          await events.appendEvent(tx, ctx, { type: 'component.created', entityType: 'component', entityId: row!.id, data: { data_source_id: sourceId, name: row!.name, file_id: row!.fileId } })
          return toComponentView(row!)
        })
        .catch((err) => clash(err, `the data source already has a component named ${input.name}`))
    },

    /** A data source's components, newest first (the seed's -created_date). */
    async listComponents(ctx: RequestContext, sourceId: string, q: { active?: boolean | undefined; limit: number; cursor?: string | undefined }) {
      await getSource(db, ctx, sourceId)
      const page = await listNewestFirst(db, components, [inOrg(components, ctx), eq(components.dataSourceId, sourceId), q.active === undefined ? undefined : eq(components.isActive, q.active)], q)
      return { data: page.data.map(toComponentView), next_cursor: page.next_cursor }
    },

    async getComponentView(ctx: RequestContext, id: string) {
      return toComponentView(await getComponent(db, ctx, id))
    },

    async updateComponent(ctx: RequestContext, id: string, patch: { name?: string | undefined; description?: string | null | undefined; is_active?: boolean | undefined }) {
      return database
        .transaction(async (tx) => {
          const before = await getComponent(tx, ctx, id)
          const [row] = await tx
            .update(components)
            .set({ ...(patch.name !== undefined ? { name: patch.name.trim() } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}), ...(patch.is_active !== undefined ? { isActive: patch.is_active } : {}), modifiedBy: actorLabel(ctx.actor) })
            .where(and(inOrg(components, ctx), eq(components.id, id)))
            .returning()
          await events.appendEvent(tx, ctx, { type: 'component.updated', entityType: 'component', entityId: id, data: { before: { name: before.name, description: before.description, is_active: before.isActive }, after: { name: row!.name, description: row!.description, is_active: row!.isActive } } })
          return toComponentView(row!)
        })
        .catch((err) => clash(err, `the data source already has a component named ${patch.name}`))
    },

    /** Stores a new file for the component; the one it replaces stays as an earlier version. */
    async putFile(ctx: RequestContext, id: string, input: { name?: string | undefined; contentType: string; body: Readable; maxBytes: number }) {
      const component = await getComponent(db, ctx, id)
      // Bytes first (streamed, outside any transaction), then the records in one transaction.
      const file = await files.upload(ctx, { ...input, name: input.name ?? component.name })
      return database.transaction(async (tx) => {
        const [current] = await tx.select().from(components).where(and(inOrg(components, ctx), eq(components.id, id))).for('update')
        if (!current) throw notFound('component', id)
        const [last] = await tx.select({ version: componentFiles.version }).from(componentFiles).where(eq(componentFiles.componentId, id)).orderBy(desc(componentFiles.version)).limit(1)
        const version = (last?.version ?? 0) + 1
        const by = actorLabel(ctx.actor)
        await tx.insert(componentFiles).values({ organizationId: orgOf(ctx), componentId: id, version, fileId: file.id, createdBy: by })
        const [row] = await tx.update(components).set({ fileId: file.id, modifiedBy: by }).where(eq(components.id, id)).returning()
        await events.appendEvent(tx, ctx, { type: current.fileId ? 'component.file_replaced' : 'component.file_attached', entityType: 'component', entityId: id, data: { version, file_id: file.id, previous_file_id: current.fileId, name: file.name, size: file.size, sha256: file.sha256 } })
        return { ...toComponentView(row!), version, file: { id: file.id, name: file.name, content_type: file.contentType, size: file.size, sha256: file.sha256 } }
      })
    },

    /** The component's file (or an earlier version of it) as a stream. */
    async openFile(ctx: RequestContext, id: string, version?: number) {
      const component = await getComponent(db, ctx, id)
      let fileId = component.fileId
      if (version !== undefined) {
        const [v] = await db.select().from(componentFiles).where(and(inOrg(componentFiles, ctx), eq(componentFiles.componentId, id), eq(componentFiles.version, version)))
        if (!v) throw new NotFoundError(`component ${id} has no file version ${version}`)
        fileId = v.fileId
      }
      if (!fileId) throw new NotFoundError(`component ${component.name} has no file`)
      return files.open(ctx, fileId)
    },

    /** Every file the component has had, newest first. */
    async fileVersions(ctx: RequestContext, id: string) {
      await getComponent(db, ctx, id)
      const found = await rows<{ version: number; file_id: string; name: string; content_type: string; size: number; sha256: string; created_by: string | null; created_at: Date | string }>(
        db,
        sql`select v.version, v.file_id, f.name, f.content_type, f.size, f.sha256, v.created_by, v.created_at from component_files v join files f on f.id = v.file_id
            where v.organization_id = ${orgOf(ctx)} and v.component_id = ${id} order by v.version desc`,
      )
      return { data: found.map((v) => ({ ...v, size: Number(v.size), created_at: new Date(v.created_at).toISOString() })) }
    },
  }
}

export type DataSources = ReturnType<typeof createDataSources>
