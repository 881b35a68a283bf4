// Object types, their property definitions and their versioned schemas. Every change to a type's
// properties (or its raw schema) recompiles the schema; a changed schema becomes a new version
// and closes the previous one. A breaking change is refused unless the caller passes `migrate`,
// and then existing entities are revalidated by the `assets.revalidate` job.
import { and, asc, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { isForeignKeyViolation, isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { pageOfRows, decodeCursor } from '../../core/http/pagination.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import type { createUnits } from '../units/units.service.ts'
import { objectTypeProperties, objectTypeSchemas, objectTypes, type DataType, type ObjectTypeRow, type PropertyRow, type SchemaRow } from './assets.schema.ts'
import { createPropertyDefinitions, type PreparedUnits } from './properties.define.ts'
import { canonicalJson, classifyChange, compileSchema, schemaProblem, type JsonSchema, type PropertyDefinition, type SchemaChange } from './schema.compile.ts'

type Units = ReturnType<typeof createUnits>

export { UUID }

export interface NewProperty {
  name: string
  description?: string | null | undefined
  data_type: DataType
  time_varying?: boolean | undefined
  unit_category?: string | null | undefined
  display_unit?: string | null | undefined
  openserver?: string | null | undefined
  required?: boolean | undefined
  /** Build a range index on the value (static number and integer properties). */
  indexed?: boolean | undefined
  default?: unknown
  enum_values?: string[] | null | undefined
  minimum?: number | null | undefined
  maximum?: number | null | undefined
}
export type PropertyPatch = Partial<NewProperty>

export interface NewObjectType {
  name: string
  description?: string | null | undefined
  properties?: NewProperty[] | undefined
  schema?: JsonSchema | null | undefined
}

/** How a write that changes the schema went: the new version, and the revalidation job when one runs. */
export interface SchemaOutcome {
  schema_version: number
  change: 'none' | 'initial' | 'compatible' | 'breaking'
  changes: SchemaChange[]
  revalidation_job_id: string | null
}

export const toObjectTypeView = (t: ObjectTypeRow) => ({
  id: t.id,
  organization_id: t.organizationId,
  name: t.name,
  family: t.name.split('.')[0]!,
  description: t.description,
  schema_version: t.schemaVersion,
  raw_schema: t.rawSchema,
  managed_by: t.managedBy,
  created_by: t.createdBy,
  created_at: t.createdAt.toISOString(),
  updated_at: t.updatedAt.toISOString(),
})

export interface UnitRef {
  id: string
  symbol: string
}

export const toPropertyView = (p: PropertyRow, units: Map<string, UnitRef> = new Map()) => ({
  id: p.id,
  object_type_id: p.objectTypeId,
  name: p.name,
  description: p.description,
  data_type: p.dataType,
  time_varying: p.timeVarying,
  unit_category_id: p.unitCategoryId,
  unit_id: p.unitId,
  unit: p.unitId ? (units.get(p.unitId)?.symbol ?? null) : null,
  display_unit_id: p.displayUnitId,
  display_unit: p.displayUnitId ? (units.get(p.displayUnitId)?.symbol ?? null) : null,
  openserver: p.openserver,
  required: p.required,
  indexed: p.indexed,
  default: p.defaultValue ?? null,
  enum_values: p.enumValues ?? null,
  minimum: p.minimum,
  maximum: p.maximum,
  position: p.position,
  created_at: p.createdAt.toISOString(),
  updated_at: p.updatedAt.toISOString(),
})

export const toSchemaView = (s: SchemaRow, typeName: string) => ({
  id: s.id,
  key: s.key,
  version: s.version,
  object_type_id: s.objectTypeId,
  entity_type: typeName,
  definition: s.definition,
  description: s.description,
  source: s.source,
  change: s.change,
  changes: s.changes,
  valid_from: s.validFrom.toISOString(),
  valid_to: s.validTo?.toISOString() ?? null,
  created_by: s.createdBy,
})

export interface ObjectTypesDeps {
  database: Database
  events: EventLog
  units: Units
}

export function createObjectTypes({ database, events, units }: ObjectTypesDeps) {
  const db = database.db

  /** A type by id or name (case ignored) in the caller's organisation. */
  async function findType(exec: Executor, ctx: RequestContext, ref: string, lock = false): Promise<ObjectTypeRow> {
    const match = UUID.test(ref) ? eq(objectTypes.id, ref) : sql`lower(${objectTypes.name}) = lower(${ref})`
    const q = exec.select().from(objectTypes).where(and(inOrg(objectTypes, ctx), match))
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw new NotFoundError(`object type ${ref} not found`)
    return row
  }

  function assertWritable(type: ObjectTypeRow) {
    if (type.managedBy) throw new ForbiddenError(`object type ${type.name} is kept by ${type.managedBy} and cannot be changed through this API`, { managed_by: type.managedBy })
  }

  const { prepareUnits, resolveUnits, propertyColumns } = createPropertyDefinitions({ units })

  async function unitSymbols(exec: Executor, rows: PropertyRow[]): Promise<Map<string, UnitRef>> {
    const ids = [...new Set(rows.flatMap((p) => [p.unitId, p.displayUnitId]).filter((x): x is string => !!x))]
    return units.unitsByIds(exec, ids)
  }

  async function definitionsOf(tx: Executor, ctx: RequestContext, typeId: string): Promise<{ rows: PropertyRow[]; defs: PropertyDefinition[] }> {
    const rows = await tx.select().from(objectTypeProperties).where(and(inOrg(objectTypeProperties, ctx), eq(objectTypeProperties.objectTypeId, typeId))).orderBy(asc(objectTypeProperties.position), asc(objectTypeProperties.createdAt))
    const symbols = await unitSymbols(tx, rows)
    const defs = rows.map((p) => ({
      name: p.name,
      description: p.description,
      dataType: p.dataType,
      timeVarying: p.timeVarying,
      required: p.required,
      defaultValue: p.defaultValue,
      enumValues: p.enumValues,
      minimum: p.minimum,
      maximum: p.maximum,
      unit: p.unitId ? (symbols.get(p.unitId)?.symbol ?? null) : null,
      openserver: p.openserver,
    }))
    return { rows, defs }
  }

  async function currentSchema(exec: Executor, typeId: string): Promise<SchemaRow | undefined> {
    const [row] = await exec.select().from(objectTypeSchemas).where(and(eq(objectTypeSchemas.objectTypeId, typeId), sql`${objectTypeSchemas.validTo} is null`))
    return row
  }

  /**
   * Recompiles the type's schema after a change and, if it differs, stores it as the next
   * version. Breaking without `migrate`: 409 listing the changes (the caller's transaction rolls
   * back). Breaking with `migrate`: the revalidation job is enqueued in the same transaction.
   */
  async function publish(tx: Executor, ctx: RequestContext, type: ObjectTypeRow, opts: { migrate?: boolean | undefined; description?: string | null | undefined }): Promise<SchemaOutcome> {
    const { defs } = await definitionsOf(tx, ctx, type.id)
    const next = compileSchema(defs, type.rawSchema)
    const problem = schemaProblem(next)
    if (problem) throw new ValidationError(`the resulting schema is not valid: ${problem}`, [{ path: '/body', message: problem }])
    const prev = await currentSchema(tx, type.id)
    if (prev && canonicalJson(prev.definition) === canonicalJson(next)) return { schema_version: prev.version, change: 'none', changes: [], revalidation_job_id: null }
    const { breaking, changes } = prev ? classifyChange(prev.definition, next) : { breaking: false, changes: [] }
    if (breaking && !opts.migrate) {
      throw new ConflictError(`this is a breaking change to ${type.name}'s schema (${changes.filter((c) => c.breaking).map((c) => c.message).join('; ')}); repeat it with migrate=true to apply it and revalidate existing entities`, { breaking: true, changes })
    }
    const now = new Date()
    const version = (prev?.version ?? 0) + 1
    if (prev) await tx.update(objectTypeSchemas).set({ validTo: now }).where(eq(objectTypeSchemas.id, prev.id))
    const change = prev ? (breaking ? 'breaking' : 'compatible') : 'initial'
    const [row] = await tx
      .insert(objectTypeSchemas)
      .values({ organizationId: orgOf(ctx), objectTypeId: type.id, key: `${type.name}.v${version}`, version, definition: next, description: opts.description ?? null, source: type.rawSchema ? 'raw' : 'properties', change, changes, validFrom: now, createdBy: actorLabel(ctx.actor) })
      .returning()
    await tx.update(objectTypes).set({ schemaVersion: version }).where(eq(objectTypes.id, type.id))
    let jobId: string | null = null
    if (breaking) {
      const job = await enqueueJob(tx, ctx, { type: 'assets.revalidate', params: { object_type_id: type.id, version } })
      jobId = job.id
    }
    await events.appendEvent(tx, ctx, { type: 'object_type.schema_changed', entityType: 'object_type', entityId: type.id, data: { name: type.name, version, change, changes, revalidation_job_id: jobId, schema_id: row!.id } })
    return { schema_version: version, change, changes, revalidation_job_id: jobId }
  }

  /** Enqueues the range index of a property that just became indexed (or was renamed); its job id. */
  async function indexIfNeeded(tx: Executor, ctx: RequestContext, row: PropertyRow, prev?: PropertyRow): Promise<string | null> {
    if (!row.indexed || (prev?.indexed && prev.name === row.name)) return null
    const job = await enqueueJob(tx, ctx, { type: 'assets.index_property', params: { property: row.name }, idempotencyKey: `assets.index_property:${row.name}:${row.id}:${row.updatedAt.getTime()}` })
    return job.id
  }

  function propertyConflict(err: unknown, name: string, typeName: string): never {
    if (isUniqueViolation(err, 'object_type_properties_name_key')) throw new ConflictError(`object type ${typeName} already has a property named ${name}`, { name })
    throw err
  }

  async function insertProperty(tx: Executor, ctx: RequestContext, type: ObjectTypeRow, input: NewProperty, at: string, position: number, prepared: PreparedUnits) {
    const cols = propertyColumns(input, undefined, at)
    const unitCols = await resolveUnits(tx, input, undefined, at, prepared)
    try {
      const [row] = await tx
        .insert(objectTypeProperties)
        .values({ organizationId: orgOf(ctx), objectTypeId: type.id, name: input.name, description: input.description ?? null, openserver: input.openserver ?? null, ...cols, ...unitCols, position })
        .returning()
      return row!
    } catch (err) {
      propertyConflict(err, input.name, type.name)
    }
  }

  async function nextPosition(tx: Executor, typeId: string): Promise<number> {
    const [r] = await tx.select({ n: sql<number>`coalesce(max(${objectTypeProperties.position}) + 1, 0)::int` }).from(objectTypeProperties).where(eq(objectTypeProperties.objectTypeId, typeId))
    return r!.n
  }

  function checkRawSchema(schema: JsonSchema | null | undefined, at: string) {
    if (!schema) return
    if (schema.type !== undefined && schema.type !== 'object') throw new ValidationError('an object type schema describes an object', [{ path: `${at}/type`, message: "must be 'object'" }])
    const problem = schemaProblem(compileSchema([], schema))
    if (problem) throw new ValidationError(`schema is not a valid JSON Schema 2020-12 document: ${problem}`, [{ path: at, message: problem }])
  }

  return {
    findType,
    currentSchema,
    publish,

    /** Creates a type, optionally with its properties and a raw schema; its schema version 1 is published at once. */
    async createType(ctx: RequestContext, input: NewObjectType, managedBy: string | null = null, tx?: Executor) {
      checkRawSchema(input.schema, '/body/schema')
      const run = async (tx: Executor) => {
        let type: ObjectTypeRow
        try {
          ;[type] = (await tx
            .insert(objectTypes)
            .values({ organizationId: orgOf(ctx), name: input.name, description: input.description ?? null, rawSchema: input.schema ?? null, managedBy, createdBy: actorLabel(ctx.actor) })
            .returning()) as [ObjectTypeRow]
        } catch (err) {
          if (isUniqueViolation(err, 'object_types_name_key')) throw new ConflictError(`an object type named ${input.name} already exists`, { name: input.name })
          throw err
        }
        for (const [i, p] of (input.properties ?? []).entries()) await indexIfNeeded(tx, ctx, await insertProperty(tx, ctx, type, p, `/body/properties/${i}`, i, prepared))
        await events.appendEvent(tx, ctx, { type: 'object_type.created', entityType: 'object_type', entityId: type.id, data: { name: type.name, properties: (input.properties ?? []).map((p) => p.name) } })
        await publish(tx, ctx, type, { description: `initial schema of ${type.name}` })
        return toObjectTypeView((await findType(tx, ctx, type.id))!)
      }
      // With the caller's transaction (mirror types), properties must not name units: those are resolved through the outer handle.
      const prepared = await prepareUnits(ctx, (input.properties ?? []).map((p, i) => ({ input: p, at: `/body/properties/${i}` })))
      return tx ? run(tx) : database.transaction(run)
    },

    async listTypes(ctx: RequestContext, q: { limit: number; cursor?: string | undefined; family?: string | undefined; q?: string | undefined }) {
      const conds = [inOrg(objectTypes, ctx)]
      if (q.family) conds.push(sql`(lower(${objectTypes.name}) = lower(${q.family}) or lower(${objectTypes.name}) like lower(${q.family.replace(/[\\%_]/g, (c) => `\\${c}`)}) || '.%')`)
      if (q.q) conds.push(sql`${objectTypes.name} ilike ${`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`)
      if (q.cursor) {
        const [name, id] = decodeCursor(q.cursor, ['string', 'uuid']) as [string, string]
        conds.push(sql`(lower(${objectTypes.name}), ${objectTypes.id}) > (${name}, ${id}::uuid)`)
      }
      const found = await db.select().from(objectTypes).where(and(...conds)).orderBy(sql`lower(${objectTypes.name})`, asc(objectTypes.id)).limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (t) => [t.name.toLowerCase(), t.id])
      return { data: page.data.map(toObjectTypeView), next_cursor: page.next_cursor }
    },

    async getType(ctx: RequestContext, ref: string) {
      return toObjectTypeView(await findType(db, ctx, ref))
    },

    /** Renames or describes a type, or replaces its raw schema (which may be breaking). */
    async updateType(ctx: RequestContext, ref: string, patch: { name?: string | undefined; description?: string | null | undefined; schema?: JsonSchema | null | undefined; migrate?: boolean | undefined }) {
      checkRawSchema(patch.schema, '/body/schema')
      return database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref, true)
        assertWritable(type)
        const changes: Partial<ObjectTypeRow> = {}
        if (patch.name !== undefined && patch.name !== type.name) changes.name = patch.name
        if (patch.description !== undefined) changes.description = patch.description
        if (patch.schema !== undefined) changes.rawSchema = patch.schema
        if (Object.keys(changes).length === 0) return { ...toObjectTypeView(type), schema_change: null }
        let updated: ObjectTypeRow
        try {
          ;[updated] = (await tx.update(objectTypes).set(changes).where(eq(objectTypes.id, type.id)).returning()) as [ObjectTypeRow]
        } catch (err) {
          if (isUniqueViolation(err, 'object_types_name_key')) throw new ConflictError(`an object type named ${patch.name} already exists`, { name: patch.name })
          throw err
        }
        await events.appendEvent(tx, ctx, { type: 'object_type.updated', entityType: 'object_type', entityId: type.id, data: { changed: Object.keys(changes), name: updated.name, previous_name: type.name } })
        const outcome = patch.schema !== undefined ? await publish(tx, ctx, updated, { migrate: patch.migrate }) : null
        return { ...toObjectTypeView((await findType(tx, ctx, type.id))!), schema_change: outcome }
      })
    },

    /** Deletes a type that has no entities (soft-deleted ones included: restore or purge them first). */
    async deleteType(ctx: RequestContext, ref: string) {
      await database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref, true)
        assertWritable(type)
        const [used] = await tx.execute(sql`select count(*)::int as n from entities where organization_id = ${type.organizationId} and object_type_id = ${type.id}`).then((r) => (r as unknown as { rows: { n: number }[] }).rows)
        if (used && used.n > 0) throw new ConflictError(`object type ${type.name} has ${used.n} entities; delete them first`, { entities: used.n })
        await tx.delete(objectTypes).where(eq(objectTypes.id, type.id))
        await events.appendEvent(tx, ctx, { type: 'object_type.deleted', entityType: 'object_type', entityId: type.id, data: { name: type.name } })
      })
    },

    async listProperties(ctx: RequestContext, ref: string) {
      const type = await findType(db, ctx, ref)
      const rows = await db.select().from(objectTypeProperties).where(and(inOrg(objectTypeProperties, ctx), eq(objectTypeProperties.objectTypeId, type.id))).orderBy(asc(objectTypeProperties.position), asc(objectTypeProperties.createdAt))
      const symbols = await unitSymbols(db, rows)
      return { data: rows.map((p) => toPropertyView(p, symbols)), next_cursor: null }
    },

    async getProperty(ctx: RequestContext, ref: string, propertyId: string) {
      const type = await findType(db, ctx, ref)
      const [row] = await db.select().from(objectTypeProperties).where(and(inOrg(objectTypeProperties, ctx), eq(objectTypeProperties.objectTypeId, type.id), eq(objectTypeProperties.id, propertyId)))
      if (!row) throw new NotFoundError(`property ${propertyId} of object type ${type.name} not found`)
      return toPropertyView(row, await unitSymbols(db, [row]))
    },

    async addProperty(ctx: RequestContext, ref: string, input: NewProperty, migrate?: boolean) {
      const prepared = await prepareUnits(ctx, [{ input, at: '/body' }])
      return database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref, true)
        assertWritable(type)
        const row = await insertProperty(tx, ctx, type, input, '/body', await nextPosition(tx, type.id), prepared)
        await events.appendEvent(tx, ctx, { type: 'object_type.property_added', entityType: 'object_type', entityId: type.id, data: { name: type.name, property: row.name, property_id: row.id, data_type: row.dataType } })
        const outcome = await publish(tx, ctx, type, { migrate })
        return { ...toPropertyView(row, await unitSymbols(tx, [row])), schema_change: outcome, index_job_id: await indexIfNeeded(tx, ctx, row) }
      })
    },

    async updateProperty(ctx: RequestContext, ref: string, propertyId: string, patch: PropertyPatch, migrate?: boolean) {
      const prepared = await prepareUnits(ctx, [{ input: patch, at: '/body' }])
      return database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref, true)
        assertWritable(type)
        const [prev] = await tx.select().from(objectTypeProperties).where(and(inOrg(objectTypeProperties, ctx), eq(objectTypeProperties.objectTypeId, type.id), eq(objectTypeProperties.id, propertyId)))
        if (!prev) throw new NotFoundError(`property ${propertyId} of object type ${type.name} not found`)
        const cols = propertyColumns(patch, prev, '/body')
        const unitCols = await resolveUnits(tx, patch, prev, '/body', prepared)
        let row: PropertyRow
        try {
          ;[row] = (await tx
            .update(objectTypeProperties)
            .set({ ...cols, ...unitCols, ...(patch.name !== undefined ? { name: patch.name } : {}) })
            .where(eq(objectTypeProperties.id, prev.id))
            .returning()) as [PropertyRow]
        } catch (err) {
          propertyConflict(err, patch.name ?? prev.name, type.name)
        }
        await events.appendEvent(tx, ctx, { type: 'object_type.property_updated', entityType: 'object_type', entityId: type.id, data: { name: type.name, property: row.name, property_id: row.id, changed: Object.keys(patch) } })
        const outcome = await publish(tx, ctx, type, { migrate })
        return { ...toPropertyView(row, await unitSymbols(tx, [row])), schema_change: outcome, index_job_id: await indexIfNeeded(tx, ctx, row, prev) }
      })
    },

    async deleteProperty(ctx: RequestContext, ref: string, propertyId: string, migrate?: boolean) {
      return database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref, true)
        assertWritable(type)
        const [prev] = await tx
          .delete(objectTypeProperties)
          .where(and(inOrg(objectTypeProperties, ctx), eq(objectTypeProperties.objectTypeId, type.id), eq(objectTypeProperties.id, propertyId)))
          .returning()
          .catch((err) => {
            if (isForeignKeyViolation(err, 'series_property_fk')) throw new ConflictError(`property ${propertyId} of ${type.name} has series of measurements; delete them first`, { property_id: propertyId })
            throw err
          })
        if (!prev) throw new NotFoundError(`property ${propertyId} of object type ${type.name} not found`)
        await events.appendEvent(tx, ctx, { type: 'object_type.property_removed', entityType: 'object_type', entityId: type.id, data: { name: type.name, property: prev.name, property_id: prev.id } })
        return { schema_change: await publish(tx, ctx, type, { migrate }) }
      })
    },

    async listSchemas(ctx: RequestContext, ref: string, q: { limit: number; cursor?: string | undefined }) {
      const type = await findType(db, ctx, ref)
      const conds = [inOrg(objectTypeSchemas, ctx), eq(objectTypeSchemas.objectTypeId, type.id)]
      if (q.cursor) conds.push(sql`${objectTypeSchemas.version} < ${decodeCursor(q.cursor, ['number'])[0] as number}`)
      const found = await db.select().from(objectTypeSchemas).where(and(...conds)).orderBy(desc(objectTypeSchemas.version)).limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (s) => [s.version])
      return { data: page.data.map((s) => toSchemaView(s, type.name)), next_cursor: page.next_cursor }
    },

    /** A version by number, `current`, or the one valid at a time (`at`). */
    async getSchema(ctx: RequestContext, ref: string, version: string) {
      const type = await findType(db, ctx, ref)
      const match = version === 'current' ? sql`${objectTypeSchemas.validTo} is null` : /^\d+$/.test(version) ? eq(objectTypeSchemas.version, Number(version)) : undefined
      if (!match) throw new ValidationError("version must be a number or 'current'", [{ path: '/params/version', message: "must be a number or 'current'" }])
      const [row] = await db.select().from(objectTypeSchemas).where(and(inOrg(objectTypeSchemas, ctx), eq(objectTypeSchemas.objectTypeId, type.id), match))
      if (!row) throw new NotFoundError(`object type ${type.name} has no schema version ${version}`)
      return toSchemaView(row, type.name)
    },
  }
}

export type ObjectTypes = ReturnType<typeof createObjectTypes>
