// Bulk upsert of entities (POST /entities/bulk): up to 10,000 rows in one transaction, all or
// nothing. Every row is validated first and every error listed by /body/items/<i>/... path; then
// rows are matched by external_id (else by type and name) and written as one JSON parameter per
// 5,000 rows (updates first, so a name freed by a rename can be taken), with one event per row.
// Measured in docs/benchmarks.md section 5: 0.53-0.55x of the bare SQL statement.
import { and, eq, sql } from 'drizzle-orm'
import { newId } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { orgOf } from '../../core/tenancy.ts'
import { entities, type EntityRow, type ObjectTypeRow, type SchemaRow } from './assets.schema.ts'
import { BULK_LIMIT, diffProperties, type NewEntity } from './entities.service.ts'
import type { ObjectTypes } from './objectTypes.service.ts'

export interface BulkUpsertDeps {
  database: Database
  events: EventLog
  types: ObjectTypes
  schemaOf(exec: Executor, type: ObjectTypeRow): Promise<SchemaRow>
  validate(schema: SchemaRow, properties: Record<string, unknown>, at: string): { value: Record<string, unknown>; errors: FieldError[] }
}

export function createBulkUpsert({ database, events, types, schemaOf, validate }: BulkUpsertDeps) {
  /**
   * Creates or changes up to 10,000 entities in one transaction: matched by external_id when
   * given, else by (type, name). Every row is validated first; any error refuses the whole
   * request, listing each by index and path.
   */
  return async function bulkUpsert(ctx: RequestContext, items: NewEntity[]) {
    if (items.length > BULK_LIMIT) throw new ValidationError(`at most ${BULK_LIMIT} entities per request`, [{ path: '/body/items', message: `has ${items.length} items; the limit is ${BULK_LIMIT}` }])
    return database.transaction(async (tx) => {
      const errors: FieldError[] = []
      // Types and their current schemas, once each.
      const typeRefs = [...new Set(items.map((i) => i.type))]
      const typeOf = new Map<string, { type: ObjectTypeRow; schema: SchemaRow }>()
      for (const ref of typeRefs) {
        try {
          const type = await types.findType(tx, ctx, ref)
          if (type.managedBy) continue
          typeOf.set(ref, { type, schema: await schemaOf(tx, type) })
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err
        }
      }
      // Existing rows, by external id and by (type, name).
      const extIds = items.map((i) => i.external_id).filter((x): x is string => !!x)
      const org = orgOf(ctx)
      const byExt = new Map<string, EntityRow>()
      const byName = new Map<string, EntityRow>()
      if (extIds.length > 0) {
        const found = await tx.select().from(entities).where(and(eq(entities.organizationId, org), sql`${entities.externalId} = any(${sql.param(extIds)}::text[])`)).for('update')
        for (const e of found) byExt.set(e.externalId!, e)
      }
      // By name too when a new external id would create a row: its name may be taken already.
      const named = items.filter((i) => typeOf.has(i.type) && (!i.external_id || !byExt.has(i.external_id)))
      if (named.length > 0) {
        const keys = named.map((i) => ({ t: typeOf.get(i.type)!.type.id, n: i.name.toLowerCase() }))
        const found = await rows<{ id: string }>(tx, sql`select e.id from entities e join jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) k(t uuid, n text) on e.object_type_id = k.t and lower(e.name) = k.n where e.organization_id = ${org} for update of e`)
        if (found.length > 0) {
          const full = await tx.select().from(entities).where(sql`${entities.id} = any(${sql.param(found.map((f) => f.id))}::uuid[])`)
          for (const e of full) byName.set(`${e.objectTypeId}:${e.name.toLowerCase()}`, e)
        }
      }
      const seen = new Set<string>()
      const inserts: { i: number; row: typeof entities.$inferInsert; typeName: string }[] = []
      const updates: { i: number; before: EntityRow; after: EntityRow; typeName: string; diff: Record<string, { from: unknown; to: unknown }> }[] = []
      const actor = actorLabel(ctx.actor)
      items.forEach((item, i) => {
        const at = `/body/items/${i}`
        const t = typeOf.get(item.type)
        if (!t) {
          errors.push({ path: `${at}/type`, message: `no object type is named ${item.type} (or its entities are kept by another module)` })
          return
        }
        const nameKey = `n:${t.type.id}:${item.name.toLowerCase()}`
        const key = item.external_id ? `x:${item.external_id}` : nameKey
        // Two rows of one type and name would clash in the database whatever their external ids.
        if (seen.has(key) || seen.has(nameKey)) {
          errors.push({ path: item.external_id && seen.has(key) ? `${at}/external_id` : `${at}/name`, message: 'appears twice in this request' })
          return
        }
        seen.add(key).add(nameKey)
        const existing = item.external_id ? byExt.get(item.external_id) : byName.get(`${t.type.id}:${item.name.toLowerCase()}`)
        const holder = byName.get(`${t.type.id}:${item.name.toLowerCase()}`)
        if (item.external_id && !existing && holder) {
          errors.push({ path: `${at}/name`, message: `an entity of type ${t.type.name} named ${holder.name} already exists${holder.externalId ? ` with external id ${holder.externalId}` : ''}` })
          return
        }
        if (existing?.managedBy) {
          errors.push({ path: at, message: `mirrors a ${existing.managedBy} record and cannot be changed here` })
          return
        }
        if (existing && existing.objectTypeId !== t.type.id) {
          errors.push({ path: `${at}/type`, message: `external id ${item.external_id} belongs to an entity of another type` })
          return
        }
        const { value, errors: propErrors } = validate(t.schema, item.properties ?? {}, `${at}/properties`)
        if (propErrors.length > 0) {
          errors.push(...propErrors)
          return
        }
        if (!existing) {
          inserts.push({
            i,
            typeName: t.type.name,
            row: { id: newId(), organizationId: org, objectTypeId: t.type.id, name: item.name, description: item.description ?? null, properties: value, status: item.status ?? 'active', schemaVersion: t.schema.version, externalId: item.external_id ?? null, createdBy: actor },
          })
          return
        }
        const after: EntityRow = {
          ...existing,
          name: item.name,
          description: item.description !== undefined ? item.description : existing.description,
          properties: value,
          status: item.status ?? existing.status,
          isActive: true,
          schemaVersion: t.schema.version,
        }
        const diff = diffProperties(existing.properties, value)
        const same = diff && Object.keys(diff).length === 0 && after.name === existing.name && after.description === existing.description && after.status === existing.status && existing.isActive && existing.schemaVersion === after.schemaVersion
        if (!same) updates.push({ i, before: existing, after, typeName: t.type.name, diff })
      })
      if (errors.length > 0) throw new ValidationError(`${new Set(errors.map((e) => e.path.split('/')[3])).size} of ${items.length} entities are not valid; nothing was written`, errors.slice(0, 1000))

      // One statement per chunk, whatever its size: the rows travel as one JSON parameter.
      // Updates first, so that a row renamed away frees its name for a row created here.
      for (let k = 0; k < updates.length; k += 5000) {
        const payload = updates.slice(k, k + 5000).map(({ after }) => ({ id: after.id, n: after.name, d: after.description, p: after.properties, s: after.status, v: after.schemaVersion }))
        try {
          await tx.execute(
            sql`update entities e set name = r.n, description = r.d, properties = coalesce(r.p, '{}'::jsonb), status = r.s, schema_version = r.v, is_active = true, updated_at = now()
                from jsonb_to_recordset(${JSON.stringify(payload)}::jsonb) as r(id uuid, n text, d text, p jsonb, s text, v int)
                where e.id = r.id and e.organization_id = ${org}::uuid`,
          )
        } catch (err) {
          if (isUniqueViolation(err, 'entities_name_key')) throw new ConflictError('a renamed entity would take the name of another entity of its type', {})
          throw err
        }
      }
      for (let k = 0; k < inserts.length; k += 5000) {
        const payload = inserts.slice(k, k + 5000).map(({ row }) => ({ id: row.id, o: row.objectTypeId, n: row.name, d: row.description, p: row.properties, s: row.status, v: row.schemaVersion, x: row.externalId }))
        try {
          await tx.execute(
            sql`insert into entities (id, organization_id, object_type_id, name, description, properties, status, schema_version, external_id, created_by)
                select r.id, ${org}::uuid, r.o, r.n, r.d, coalesce(r.p, '{}'::jsonb), r.s, r.v, r.x, ${actor}
                from jsonb_to_recordset(${JSON.stringify(payload)}::jsonb) as r(id uuid, o uuid, n text, d text, p jsonb, s text, v int, x text)`,
          )
        } catch (err) {
          if (isUniqueViolation(err, 'entities_name_key') || isUniqueViolation(err, 'entities_external_id_key')) throw new ConflictError('another request created some of these entities meanwhile; repeat the request', {})
          throw err
        }
      }
      const idOf = new Map(inserts.map((c) => [c.i, c.row.id!]))
      const updatedAt = new Map(updates.map((u) => [u.i, u.after.id]))
      const evts: NewEvent[] = [
        ...inserts.map(({ i, row, typeName }) => ({ type: 'entity.created', entityType: typeName, entityId: idOf.get(i)!, data: { name: row.name, entity_type: typeName, properties: row.properties, status: row.status, external_id: row.externalId, bulk: true } })),
        ...updates.map(({ before, after, typeName, diff }) => {
          // The same diff as a single update's: changed fields, then changed properties.
          const fields = Object.fromEntries((['name', 'description', 'status'] as const).filter((k) => before[k] !== after[k]).map((k) => [k, { from: before[k], to: after[k] }]))
          return { type: before.isActive ? 'entity.updated' : 'entity.restored', entityType: typeName, entityId: after.id, data: { name: after.name, entity_type: typeName, diff: { ...fields, properties: diff }, schema_version: after.schemaVersion, bulk: true } }
        }),
      ]
      await events.appendEvents(tx, ctx, evts)
      const out = items.map((item, i) => {
        const id = idOf.get(i) ?? updatedAt.get(i)
        if (id) return { index: i, id, result: idOf.has(i) ? ('created' as const) : ('updated' as const) }
        const t = typeOf.get(item.type)!
        return { index: i, id: (item.external_id ? byExt.get(item.external_id) : byName.get(`${t.type.id}:${item.name.toLowerCase()}`))!.id, result: 'unchanged' as const }
      })
      return { created: inserts.length, updated: updates.length, unchanged: items.length - inserts.length - updates.length, items: out }
    })
  }
}
