// `assets.revalidate`: after a breaking schema change (published with migrate), every entity of
// the type is checked against the current schema. Valid ones take its defaults and version;
// failing ones keep their properties and their old version (`GET /entities?stale=true` lists
// them) and are reported in the job's result with every error.
import { createHash } from 'node:crypto'
import { and, asc, eq, gt, sql } from 'drizzle-orm'
import { rows } from '../../core/db/database.ts'
import type { JobHandler } from '../../core/jobs/worker.ts'
import type { ModuleDeps } from '../index.ts'
import { entities, objectTypes, type EntityRow } from './assets.schema.ts'
import { diffProperties } from './entities.service.ts'
import type { createObjectTypes } from './objectTypes.service.ts'
import { fieldErrors, validatorFor } from './schema.compile.ts'

const BATCH = 500
/** Failures listed in the result; the count covers all of them. */
const REPORTED_FAILURES = 1000

export interface RevalidationResult {
  object_type_id: string
  schema_version: number
  checked: number
  valid: number
  invalid: number
  failures: { id: string; name: string; errors: { path: string; message: string }[] }[]
}

export function assetJobs(deps: ModuleDeps, assets: { types: ReturnType<typeof createObjectTypes> }): JobHandler<any>[] {
  const { database, events } = deps
  const revalidate: JobHandler<{ object_type_id: string; version: number }> = {
    type: 'assets.revalidate',
    timeoutMs: 60 * 60 * 1000,
    async run(job) {
      const typeId = job.params.object_type_id
      const [type] = await database.db.select().from(objectTypes).where(eq(objectTypes.id, typeId))
      if (!type || type.organizationId !== job.ctx.organizationId) throw new Error(`object type ${typeId} no longer exists`)
      // The current version: a newer breaking change has its own job, which this one then matches.
      const schema = await assets.types.currentSchema(database.db, typeId)
      if (!schema) throw new Error(`object type ${type.name} has no schema`)
      const validator = validatorFor(schema.id, schema.definition)
      const [{ total }] = (await database.db.select({ total: sql<number>`count(*)::int` }).from(entities).where(eq(entities.objectTypeId, typeId))) as [{ total: number }]
      const result: RevalidationResult = { object_type_id: typeId, schema_version: schema.version, checked: 0, valid: 0, invalid: 0, failures: [] }
      let after = '00000000-0000-0000-0000-000000000000'
      for (;;) {
        const batch: EntityRow[] = await database.db.select().from(entities).where(and(eq(entities.objectTypeId, typeId), gt(entities.id, after))).orderBy(asc(entities.id)).limit(BATCH)
        if (batch.length === 0) break
        after = batch[batch.length - 1]!.id
        await database.transaction(async (tx) => {
          const changed: { row: EntityRow; value: Record<string, unknown> }[] = []
          for (const row of batch) {
            result.checked++
            const value = structuredClone(row.properties)
            if (validator(value)) {
              result.valid++
              if (row.schemaVersion !== schema.version || JSON.stringify(value) !== JSON.stringify(row.properties)) changed.push({ row, value })
            } else {
              result.invalid++
              if (result.failures.length < REPORTED_FAILURES) result.failures.push({ id: row.id, name: row.name, errors: fieldErrors(validator.errors, '/properties') })
            }
          }
          if (changed.length === 0) return
          await tx.execute(sql`update entities e set properties = r.p, schema_version = ${schema.version}, updated_at = now()
                               from jsonb_to_recordset(${JSON.stringify(changed.map((c) => ({ id: c.row.id, p: c.value })))}::jsonb) as r(id uuid, p jsonb)
                               where e.id = r.id and e.organization_id = ${type.organizationId}`)
          await events.appendEvents(
            tx,
            job.ctx,
            changed.map(({ row, value }) => ({ type: 'entity.updated', entityType: type.name, entityId: row.id, data: { name: row.name, entity_type: type.name, diff: { properties: diffProperties(row.properties, value) }, schema_version: schema.version, revalidated: true } })),
          )
        })
        await job.progress(Math.min(99, Math.floor((result.checked / Math.max(total, 1)) * 100)), `${result.checked} of ${total} entities checked, ${result.invalid} invalid`)
      }
      await database.transaction((tx) =>
        events.appendEvent(tx, job.ctx, { type: 'object_type.revalidated', entityType: 'object_type', entityId: typeId, data: { name: type.name, schema_version: schema.version, checked: result.checked, valid: result.valid, invalid: result.invalid } }),
      )
      return result
    },
  }
  const indexProperty: JobHandler<{ property: string }> = {
    type: 'assets.index_property',
    timeoutMs: 60 * 60 * 1000,
    async run(job) {
      const property = job.params.property
      if (!PROPERTY_NAME.test(property)) throw new Error(`${property} is not a property name`)
      const name = rangeIndexName(property)
      await job.progress(0, `building ${name} on stratum_jsonb_number(properties -> '${property}')`)
      const create = (concurrently: boolean) =>
        sql.raw(`create index ${concurrently ? 'concurrently ' : ''}if not exists "${name}" on entities (stratum_jsonb_number(properties -> '${property}'))`)
      if (database.kind === 'postgres') {
        // Concurrently, so writers are not blocked while a million rows are indexed; a build that
        // failed half-way leaves an invalid index, which is dropped and built again.
        const [invalid] = await rows(database.db, sql`select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ${name} and not i.indisvalid`)
        if (invalid) await database.db.execute(sql.raw(`drop index concurrently if exists "${name}"`))
        await database.db.execute(create(true))
      } else {
        await database.db.execute(create(false))
      }
      await job.progress(100, `${name} is ready`)
      return { property, index: name }
    },
  }
  return [revalidate, indexProperty]
}

/** Property names as the API accepts them: safe to quote into the index definition. */
const PROPERTY_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

/**
 * One range index per property name, shared by every type and organisation that indexes a
 * property of that name (the expression is the same for all of them).
 */
export const rangeIndexName = (property: string) => `entities_num_${createHash('sha256').update(property).digest('hex').slice(0, 20)}`
