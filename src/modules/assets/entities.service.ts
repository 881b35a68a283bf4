// Entities (seed 000 ObjectInstance, seed 001 `entities`): create, read, change, soft delete and
// restore, bulk upsert, and the filtered list. `properties` are validated by Ajv against the
// type's current schema version (defaults filled in), and the entity records that version.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import type { UnitPreferences } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import { entities, objectTypeProperties, objectTypes, type EntityRow, type ObjectTypeRow, type SchemaRow } from './assets.schema.ts'
import { UUID, type ObjectTypes } from './objectTypes.service.ts'
import { canonicalJson, fieldErrors, validatorFor } from './schema.compile.ts'
import { createBulkUpsert } from './upsertEntities.ts'

type Units = ReturnType<typeof createUnits>

export const BULK_LIMIT = 10_000

export interface NewEntity {
  type: string
  name: string
  description?: string | null | undefined
  properties?: Record<string, unknown> | undefined
  status?: string | undefined
  external_id?: string | null | undefined
}
export interface EntityPatch {
  name?: string | undefined
  description?: string | null | undefined
  /** A JSON merge patch (RFC 7396) of the properties: null removes a key. */
  properties?: Record<string, unknown> | undefined
  status?: string | undefined
  external_id?: string | null | undefined
}

export interface EntityQuery {
  limit: number
  cursor?: string | undefined
  /** A type name, or a family: `device.*` (device and device.esp32...). */
  type?: string | undefined
  status?: string | undefined
  /** `true` (default), `false` (soft-deleted only) or `all`. */
  active?: 'true' | 'false' | 'all' | undefined
  q?: string | undefined
  external_id?: string | undefined
  /** Entities validated against an older schema version than their type's current one. */
  stale?: boolean | undefined
  /** `properties.<path>[op]` filters, as given in the query string. */
  filters?: Record<string, string> | undefined
  unit_system?: string | undefined
  /** `property:unit` pairs, comma-separated. */
  units?: string | undefined
}

export const toEntityView = (e: EntityRow, typeName: string) => ({
  id: e.id,
  organization_id: e.organizationId,
  object_type_id: e.objectTypeId,
  entity_type: typeName,
  name: e.name,
  description: e.description,
  properties: e.properties,
  status: e.status,
  is_active: e.isActive,
  schema_version: e.schemaVersion,
  external_id: e.externalId,
  managed_by: e.managedBy,
  created_by: e.createdBy,
  created_at: e.createdAt.toISOString(),
  updated_at: e.updatedAt.toISOString(),
})
export type EntityView = ReturnType<typeof toEntityView> & { units?: Record<string, string> }

/** Top-level differences between two property documents, for `entity.updated` events. */
export function diffProperties(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {}
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    // Canonical: stored documents come back from jsonb with their keys reordered.
    if (canonicalJson(before[k]) !== canonicalJson(after[k])) out[k] = { from: before[k] ?? null, to: after[k] ?? null }
  }
  return out
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

const FILTER = /^properties\.([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)(?:\[(eq|ne|gt|gte|lt|lte|in|exists)\])?$/
const RANGE_SQL = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const

/** The JSON values a query-string value may stand for: "5" is 5 or "5", "true" is true or "true". */
function candidatesOf(text: string): unknown[] {
  const out: unknown[] = [text]
  if (text !== '' && Number.isFinite(Number(text))) out.push(Number(text))
  if (text === 'true' || text === 'false') out.push(text === 'true')
  if (text === 'null') out.push(null)
  return out
}

const nest = (path: string[], value: unknown): unknown => path.reduceRight<unknown>((acc, k) => ({ [k]: acc }), value)

/** SQL for the `properties.<path>[op]=value` filters: containment (GIN) for equality, stratum_jsonb_number for ranges. */
export function propertyFilters(filters: Record<string, string>): SQL[] {
  const out: SQL[] = []
  for (const [key, value] of Object.entries(filters)) {
    const m = FILTER.exec(key)
    if (!m) throw new BadRequestError(`${key} is not a property filter: use properties.<name>[op]=value with op one of eq, ne, gt, gte, lt, lte, in, exists`, [{ path: `/query/${key}`, message: 'is not a property filter' }])
    const path = m[1]!.split('.')
    const op = (m[2] ?? 'eq') as 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'exists'
    const pathArray = `{${path.join(',')}}`
    const contains = (values: unknown[]) => sql`(${sql.join(values.map((v) => sql`${entities.properties} @> ${JSON.stringify(nest(path, v))}::jsonb`), sql` or `)})`
    switch (op) {
      case 'eq':
        out.push(contains(candidatesOf(value)))
        break
      case 'ne':
        out.push(sql`not ${contains(candidatesOf(value))}`)
        break
      case 'in':
        out.push(contains(value.split(',').flatMap(candidatesOf)))
        break
      case 'exists':
        if (value !== 'true' && value !== 'false') throw new BadRequestError(`${key} must be true or false`, [{ path: `/query/${key}`, message: 'must be true or false' }])
        out.push(value === 'true' ? sql`${entities.properties} #> ${pathArray}::text[] is not null` : sql`${entities.properties} #> ${pathArray}::text[] is null`)
        break
      default: {
        const n = Number(value)
        if (value === '' || !Number.isFinite(n)) throw new BadRequestError(`${key} compares numbers: ${JSON.stringify(value)} is not one`, [{ path: `/query/${key}`, message: 'must be a number' }])
        const target = path.length === 1 ? sql`${entities.properties} -> ${path[0]!}` : sql`${entities.properties} #> ${pathArray}::text[]`
        out.push(sql`stratum_jsonb_number(${target}) ${sql.raw(RANGE_SQL[op])} ${n}::float8`)
      }
    }
  }
  return out
}

export interface EntitiesDeps {
  database: Database
  events: EventLog
  types: ObjectTypes
  units: Units
  preferences: Pick<UnitPreferences, 'presentValues' | 'preferredSystem'>
}

export function createEntities({ database, events, types, units, preferences }: EntitiesDeps) {
  const db = database.db

  async function findEntity(exec: Executor, ctx: RequestContext, id: string, lock = false): Promise<{ entity: EntityRow; type: ObjectTypeRow }> {
    if (!UUID.test(id)) throw new NotFoundError(`entity ${id} not found`)
    const q = exec.select({ entity: entities, type: objectTypes }).from(entities).innerJoin(objectTypes, eq(objectTypes.id, entities.objectTypeId)).where(and(inOrg(entities, ctx), eq(entities.id, id)))
    const [found] = lock ? await q.for('update', { of: entities }) : await q
    if (!found) throw new NotFoundError(`entity ${id} not found`)
    return found
  }

  /** Entities by name (case ignored), each with its type, across types: the caller decides which type it wanted. */
  async function findByNames(exec: Executor, ctx: RequestContext, names: string[]): Promise<{ entity: EntityRow; type: ObjectTypeRow }[]> {
    if (names.length === 0) return []
    return exec
      .select({ entity: entities, type: objectTypes })
      .from(entities)
      .innerJoin(objectTypes, eq(objectTypes.id, entities.objectTypeId))
      .where(and(inOrg(entities, ctx), sql`lower(${entities.name}) = any(${sql.param([...new Set(names.map((n) => n.toLowerCase()))])}::text[])`))
  }

  function assertWritable(e: EntityRow) {
    if (e.managedBy) throw new ForbiddenError(`entity ${e.name} mirrors a ${e.managedBy} record and changes with it; change the record instead`, { managed_by: e.managedBy })
  }

  /** The detail of a 422 for properties: names the first errors, as the field errors do. */
  function propertiesProblem(type: ObjectTypeRow, schema: SchemaRow, errors: FieldError[]) {
    const named = errors.slice(0, 3).map((e) => `${e.path.replace(/^\/body\/properties/, '') || '/'} ${e.message}`)
    return new ValidationError(`properties do not match the schema of ${type.name} (version ${schema.version}): ${named.join('; ')}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`, errors)
  }

  /** Validates (and fills defaults into) properties against the type's current schema. */
  function validate(schema: SchemaRow, properties: Record<string, unknown>, at: string): { value: Record<string, unknown>; errors: FieldError[] } {
    const value = structuredClone(properties)
    const validator = validatorFor(schema.id, schema.definition)
    if (validator(value)) return { value, errors: [] }
    return { value, errors: fieldErrors(validator.errors, at) }
  }

  async function schemaOf(exec: Executor, type: ObjectTypeRow): Promise<SchemaRow> {
    const s = await types.currentSchema(exec, type.id)
    if (!s) throw new ConflictError(`object type ${type.name} has no schema yet`)
    return s
  }

  /** Properties with a unit, by name: what `unit_system` converts. */
  async function unitProperties(typeIds: string[]) {
    if (typeIds.length === 0) return new Map<string, { name: string; unitId: string; categoryId: string }[]>()
    const found = await db
      .select({ typeId: objectTypeProperties.objectTypeId, name: objectTypeProperties.name, unitId: objectTypeProperties.unitId, categoryId: objectTypeProperties.unitCategoryId })
      .from(objectTypeProperties)
      .where(and(sql`${objectTypeProperties.objectTypeId} = any(${sql.param(typeIds)}::uuid[])`, sql`${objectTypeProperties.unitId} is not null`, eq(objectTypeProperties.timeVarying, false)))
    const out = new Map<string, { name: string; unitId: string; categoryId: string }[]>()
    for (const r of found) out.set(r.typeId, [...(out.get(r.typeId) ?? []), { name: r.name, unitId: r.unitId!, categoryId: r.categoryId! }])
    return out
  }

  /**
   * Views of rows, with unit-bearing numeric properties in the caller's requested system
   * (`unit_system`: a name, an id, or `preferred`), else in their stored base unit; `units`
   * names the unit of each.
   */
  async function present(ctx: RequestContext, found: { entity: EntityRow; typeName: string }[], unitSystem?: string, unitsParam?: string): Promise<EntityView[]> {
    const views: EntityView[] = found.map((r) => toEntityView(r.entity, r.typeName))
    // `units=measured_depth:ft,water_depth:m`: a unit per property, before any system.
    const wanted = new Map<string, string>()
    for (const part of (unitsParam ?? '').split(',').filter(Boolean)) {
      const at = part.indexOf(':')
      if (at < 1 || at === part.length - 1) throw new ValidationError(`units takes property:unit pairs, not '${part}'`, [{ path: '/query/units', message: `'${part}' is not property:unit` }])
      wanted.set(part.slice(0, at), part.slice(at + 1))
    }
    // The system is resolved first: an unknown one is a 422 whether or not this page has units.
    let system: string | undefined
    if (unitSystem === 'preferred') system = (await preferences.preferredSystem(ctx)).id
    else if (unitSystem) {
      const s = await units.findUnitSystem(ctx, unitSystem)
      if (!s) throw new ValidationError(`no unit system is named '${unitSystem}'`, [{ path: '/query/unit_system', message: `no unit system is named '${unitSystem}'` }])
      system = s.id
    }
    const byType = await unitProperties([...new Set(found.map((r) => r.entity.objectTypeId))])
    const unknown = [...wanted.keys()].filter((name) => ![...byType.values()].some((props) => props.some((p) => p.name === name)))
    if (views.length > 0 && unknown.length > 0) throw new ValidationError(`${unknown.join(', ')}: no unit-bearing property of that name here`, [{ path: '/query/units', message: `${unknown.join(', ')} is not a unit-bearing property of these entities` }])
    if (byType.size === 0) return views
    // One conversion per (type, property) over all the page's values.
    for (const [typeId, props] of byType) {
      const of = views.filter((v) => v.object_type_id === typeId)
      for (const p of props) {
        const holders = of.filter((v) => typeof v.properties[p.name] === 'number')
        let symbol = (await units.resolveUnit(ctx, p.unitId, 'unit')).symbol
        const asUnit = wanted.get(p.name)
        if (asUnit) {
          const target = await units.resolveUnit(ctx, asUnit, 'query/units')
          if (target.unitTypeId !== (await units.resolveUnit(ctx, p.unitId, 'unit')).unitTypeId) {
            throw new ValidationError(`${asUnit} is not a unit of ${p.name}'s category`, [{ path: '/query/units', message: `${target.symbol} is a ${target.unitTypeName} unit; ${p.name} is in ${symbol}` }])
          }
          const shown = await preferences.presentValues(ctx, { unit: p.unitId, values: holders.map((v) => v.properties[p.name] as number), as: { unit: target.id } })
          holders.forEach((v, i) => (v.properties = { ...v.properties, [p.name]: shown.values[i] }))
          symbol = shown.unit.symbol
        } else if (system && holders.length > 0) {
          try {
            const shown = await preferences.presentValues(ctx, { unit: p.unitId, values: holders.map((v) => v.properties[p.name] as number), as: { unit_system: system, category: p.categoryId } })
            holders.forEach((v, i) => (v.properties = { ...v.properties, [p.name]: shown.values[i] }))
            symbol = shown.unit.symbol
          } catch (err) {
            // The system has no default for this category: the values stay in their base unit.
            if (!(err instanceof ValidationError)) throw err
          }
        }
        for (const v of of) v.units = { ...(v.units ?? {}), [p.name]: symbol }
      }
    }
    return views
  }

  function conflictOf(err: unknown, input: { name: string; external_id?: string | null | undefined }, typeName: string): never {
    if (isUniqueViolation(err, 'entities_name_key')) throw new ConflictError(`an entity of type ${typeName} named ${input.name} already exists`, { name: input.name, entity_type: typeName })
    if (isUniqueViolation(err, 'entities_external_id_key')) throw new ConflictError(`an entity with external id ${input.external_id} already exists`, { external_id: input.external_id })
    throw err
  }

  async function insertOne(tx: Executor, ctx: RequestContext, input: NewEntity, managedBy: string | null = null): Promise<{ entity: EntityRow; type: ObjectTypeRow }> {
    const type = await types.findType(tx, ctx, input.type).catch((err) => {
      if (err instanceof NotFoundError) throw new ValidationError(`no object type is named ${input.type}`, [{ path: '/body/type', message: `no object type is named ${input.type}` }])
      throw err
    })
    if (type.managedBy && !managedBy) throw new ForbiddenError(`entities of type ${type.name} are kept by ${type.managedBy}`, { managed_by: type.managedBy })
    const schema = await schemaOf(tx, type)
    const { value, errors } = validate(schema, input.properties ?? {}, '/body/properties')
    if (errors.length > 0) throw propertiesProblem(type, schema, errors)
    let entity: EntityRow
    try {
      ;[entity] = (await tx
        .insert(entities)
        .values({ organizationId: orgOf(ctx), objectTypeId: type.id, name: input.name, description: input.description ?? null, properties: value, status: input.status ?? 'active', schemaVersion: schema.version, externalId: input.external_id ?? null, managedBy, createdBy: actorLabel(ctx.actor) })
        .returning()) as [EntityRow]
    } catch (err) {
      conflictOf(err, input, type.name)
    }
    await events.appendEvent(tx, ctx, { type: 'entity.created', entityType: type.name, entityId: entity.id, data: { name: entity.name, entity_type: type.name, properties: entity.properties, status: entity.status, external_id: entity.externalId } })
    return { entity, type }
  }

  async function updateOne(tx: Executor, ctx: RequestContext, found: { entity: EntityRow; type: ObjectTypeRow }, patch: EntityPatch, at = '/body'): Promise<EntityRow> {
    const { entity, type } = found
    const changes: Partial<EntityRow> = {}
    if (patch.name !== undefined && patch.name !== entity.name) changes.name = patch.name
    if (patch.description !== undefined && patch.description !== entity.description) changes.description = patch.description
    if (patch.status !== undefined && patch.status !== entity.status) changes.status = patch.status
    if (patch.external_id !== undefined && patch.external_id !== entity.externalId) changes.externalId = patch.external_id
    let diff: Record<string, { from: unknown; to: unknown }> = {}
    if (patch.properties !== undefined) {
      const schema = await schemaOf(tx, type)
      const merged = mergePatch(entity.properties, patch.properties) as Record<string, unknown>
      const { value, errors } = validate(schema, merged, `${at}/properties`)
      if (errors.length > 0) throw propertiesProblem(type, schema, errors)
      diff = diffProperties(entity.properties, value)
      if (Object.keys(diff).length > 0 || entity.schemaVersion !== schema.version) {
        changes.properties = value
        changes.schemaVersion = schema.version
      }
    }
    if (Object.keys(changes).length === 0) return entity
    let row: EntityRow
    try {
      ;[row] = (await tx.update(entities).set(changes).where(eq(entities.id, entity.id)).returning()) as [EntityRow]
    } catch (err) {
      conflictOf(err, { name: patch.name ?? entity.name, external_id: patch.external_id }, type.name)
    }
    const fields = Object.fromEntries(
      (['name', 'description', 'status', 'externalId'] as const).filter((k) => k in changes).map((k) => [k === 'externalId' ? 'external_id' : k, { from: entity[k], to: row[k] }]),
    )
    await events.appendEvent(tx, ctx, { type: 'entity.updated', entityType: type.name, entityId: entity.id, data: { name: row.name, entity_type: type.name, diff: { ...fields, ...(Object.keys(diff).length ? { properties: diff } : {}) }, schema_version: row.schemaVersion } })
    return row
  }

  async function setActive(ctx: RequestContext, id: string, active: boolean) {
    return database.transaction(async (tx) => {
      const found = await findEntity(tx, ctx, id, true)
      assertWritable(found.entity)
      if (found.entity.isActive === active) return toEntityView(found.entity, found.type.name)
      if (!active) {
        // An entity in use by a live relationship ends those relationships with it.
        await tx.execute(sql`update relationships set valid_to = now() where organization_id = ${found.entity.organizationId} and (from_entity_id = ${id} or to_entity_id = ${id}) and (valid_to is null or valid_to > now()) and valid_from < now()`)
      }
      const [row] = await tx.update(entities).set({ isActive: active }).where(eq(entities.id, id)).returning()
      await events.appendEvent(tx, ctx, { type: active ? 'entity.restored' : 'entity.deleted', entityType: found.type.name, entityId: id, data: { name: row!.name, entity_type: found.type.name } })
      return toEntityView(row!, found.type.name)
    })
  }

  return {
    findEntity,
    findByNames,
    insertOne,
    updateOne,
    present,

    async create(ctx: RequestContext, input: NewEntity) {
      const { entity, type } = await database.transaction((tx) => insertOne(tx, ctx, input))
      return (await present(ctx, [{ entity, typeName: type.name }]))[0]!
    },

    async get(ctx: RequestContext, id: string, unitSystem?: string, unitsParam?: string) {
      const { entity, type } = await findEntity(db, ctx, id)
      return (await present(ctx, [{ entity, typeName: type.name }], unitSystem, unitsParam))[0]!
    },

    async update(ctx: RequestContext, id: string, patch: EntityPatch) {
      const { entity, type } = await database.transaction(async (tx) => {
        const found = await findEntity(tx, ctx, id, true)
        assertWritable(found.entity)
        if (!found.entity.isActive) throw new ConflictError(`entity ${found.entity.name} is deleted; restore it first`, { is_active: false })
        return { entity: await updateOne(tx, ctx, found, patch), type: found.type }
      })
      return (await present(ctx, [{ entity, typeName: type.name }]))[0]!
    },

    /** Soft delete (is_active false); its live relationships end now. */
    remove: (ctx: RequestContext, id: string) => setActive(ctx, id, false),
    restore: (ctx: RequestContext, id: string) => setActive(ctx, id, true),

    async list(ctx: RequestContext, q: EntityQuery) {
      const conds: (SQL | undefined)[] = [inOrg(entities, ctx)]
      if (q.type) {
        const family = q.type.endsWith('.*')
        const name = family ? q.type.slice(0, -2) : q.type
        const escaped = name.replace(/[\\%_]/g, (c) => `\\${c}`)
        const typeIds = await db
          .select({ id: objectTypes.id })
          .from(objectTypes)
          .where(and(inOrg(objectTypes, ctx), family ? sql`(lower(${objectTypes.name}) = lower(${name}) or lower(${objectTypes.name}) like lower(${escaped}) || '.%')` : sql`lower(${objectTypes.name}) = lower(${name})`))
        if (typeIds.length === 0) return { data: [], next_cursor: null }
        conds.push(typeIds.length === 1 ? eq(entities.objectTypeId, typeIds[0]!.id) : sql`${entities.objectTypeId} = any(${sql.param(typeIds.map((t) => t.id))}::uuid[])`)
      }
      if (q.status) conds.push(eq(entities.status, q.status))
      if ((q.active ?? 'true') !== 'all') conds.push(eq(entities.isActive, (q.active ?? 'true') === 'true'))
      if (q.external_id) conds.push(eq(entities.externalId, q.external_id))
      if (q.q) conds.push(sql`to_tsvector('simple', ${entities.name} || ' ' || coalesce(${entities.description}, '')) @@ websearch_to_tsquery('simple', ${q.q})`)
      if (q.stale) conds.push(sql`${entities.schemaVersion} is distinct from ${objectTypes.schemaVersion}`)
      conds.push(...propertyFilters(q.filters ?? {}))
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        conds.push(sql`(${entities.createdAt}, ${entities.id}) < (${ts}::timestamptz, ${id}::uuid)`)
      }
      const found = await db
        .select({ entity: entities, typeName: objectTypes.name, key: timestampKey(entities.createdAt) })
        .from(entities)
        .innerJoin(objectTypes, eq(objectTypes.id, entities.objectTypeId))
        .where(and(...conds))
        .orderBy(desc(entities.createdAt), desc(entities.id))
        .limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.entity.id])
      return { data: await present(ctx, page.data, q.unit_system, q.units), next_cursor: page.next_cursor }
    },

    bulkUpsert: createBulkUpsert({ database, events, types, schemaOf, validate }),
  }
}

export type Entities = ReturnType<typeof createEntities>
