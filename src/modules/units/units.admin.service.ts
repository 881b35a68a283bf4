// Units of measure, write side: an organisation's own unit types, units, categories, systems and
// system defaults. The global catalog (organization_id null) is read-only: changing or deleting
// a catalog row is refused (403), another organisation's rows do not exist (404). Every change
// writes its event in its own transaction. Names in requests (`type`, `unit`) are resolved by
// the read side's look-ups, before the transaction opens (they read through the outer handle).
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { isForeignKeyViolation, isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { orgOf } from '../../core/tenancy.ts'
import { unitCategories, unitDefinitions, unitSystemCategoryDefinitions, unitSystems, unitTypes, type UnitCategoryRow, type UnitDefinitionRow, type UnitSystemRow, type UnitTypeRow } from './units.schema.ts'
import { toUnitCategoryView, toUnitSystemView, toUnitTypeView, toUnitView, UUID, visibleTo, type Units } from './units.service.ts'

export interface UnitsAdminDeps {
  database: Database
  events: EventLog
  units: Units
}

/** scale/offset (value_in_base = (x + offset) * scale) or a, b, c, d ((a*x + b) / (c*x + d)). */
export interface ConversionInput {
  scale?: number | undefined
  offset?: number | undefined
  a?: number | undefined
  b?: number | undefined
  c?: number | undefined
  d?: number | undefined
}

export interface NewUnitType {
  name: string
  external_id?: string | null | undefined
  description?: string | null | undefined
}
export interface NewUnit extends ConversionInput {
  type: string
  name: string
  symbol: string
  long_name?: string | null | undefined
  aliases?: string[] | undefined
  external_id?: string | undefined
  is_base?: boolean | undefined
}
export type UnitPatch = Partial<Omit<NewUnit, 'type' | 'is_base' | 'external_id'>> & { external_id?: string | null | undefined }
export interface NewUnitCategory {
  name: string
  type: string
  description?: string | null | undefined
}
export interface NewUnitSystem {
  name: string
  description?: string | null | undefined
}

type Conversion = Pick<UnitDefinitionRow, 'a' | 'b' | 'c' | 'd' | 'scale' | 'offset'>

/** The row, if the caller's organisation owns it; a catalog row is read-only (403). */
function owned<T extends { organizationId: string | null }>(row: T | undefined, what: string, ref: string): T {
  if (!row) throw new NotFoundError(`${what} ${ref} not found`)
  if (row.organizationId === null) throw new ForbiddenError(`${what} ${ref} is part of the global unit catalog, which is read-only: create your own ${what} instead`, { read_only: true })
  return row
}

/** Path references: an id, or an external id (case ignored). The caller's own row wins over a catalog row of the same external id. */
const byRef = (id: SQL | undefined, externalId: SQL, ref: string) => (UUID.test(ref) ? id : externalId)

function conversionOf(input: ConversionInput): Conversion | undefined {
  const scaled = input.scale !== undefined || input.offset !== undefined
  const rational = input.a !== undefined || input.b !== undefined || input.c !== undefined || input.d !== undefined
  if (scaled && rational) throw new ValidationError('define a unit by scale and offset, or by a, b, c and d, not both', [{ path: '/body/a', message: 'cannot be given with scale or offset' }])
  for (const [k, v] of Object.entries(input)) {
    if (['scale', 'offset', 'a', 'b', 'c', 'd'].includes(k) && v !== undefined && !Number.isFinite(v)) throw new ValidationError(`${k} must be a finite number`, [{ path: `/body/${k}`, message: 'must be a finite number' }])
  }
  let c: Conversion
  if (scaled) {
    if (input.scale === undefined) throw new ValidationError('offset needs a scale', [{ path: '/body/scale', message: 'is required with offset' }])
    const offset = input.offset ?? 0
    c = { a: input.scale, b: offset * input.scale, c: 0, d: 1, scale: input.scale, offset }
  } else if (rational) {
    if (input.a === undefined) throw new ValidationError('a is required with b, c or d', [{ path: '/body/a', message: 'is required' }])
    c = { a: input.a, b: input.b ?? 0, c: input.c ?? 0, d: input.d ?? 1, scale: null, offset: null }
  } else return undefined
  if (c.a * c.d - c.b * c.c === 0) throw new ValidationError('this conversion cannot be inverted (a*d - b*c is 0, or scale is 0)', [{ path: scaled ? '/body/scale' : '/body/a', message: 'makes the conversion not invertible' }])
  return c
}

const IDENTITY: Conversion = { a: 1, b: 0, c: 0, d: 1, scale: 1, offset: 0 }
const isIdentity = (c: Conversion) => c.a === 1 && c.b === 0 && c.c === 0 && c.d === 1

/** Runs a write and turns the database's refusals into the domain's words. */
async function refusing<T>(work: () => Promise<T>, conflicts: Record<string, string>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    for (const [constraint, message] of Object.entries(conflicts)) {
      if (isUniqueViolation(err, constraint) || isForeignKeyViolation(err, constraint)) throw new ConflictError(message, { constraint })
    }
    throw err
  }
}

export function createUnitsAdmin({ database, events, units }: UnitsAdminDeps) {
  const db = database.db

  /** A type named in a request body (id, external id or name), the catalog's or the caller's; 422 otherwise. */
  async function typeFor(ctx: RequestContext, ref: string) {
    try {
      return await units.getUnitType(ctx, ref)
    } catch (err) {
      if (err instanceof NotFoundError) throw new ValidationError(`no unit type is named '${ref}'`, [{ path: '/body/type', message: `no unit type is named '${ref}'` }])
      throw err
    }
  }

  async function findType(tx: Executor, ctx: RequestContext, ref: string): Promise<UnitTypeRow> {
    const [row] = await tx
      .select()
      .from(unitTypes)
      .where(and(visibleTo(unitTypes.organizationId, ctx), byRef(eq(unitTypes.id, ref), sql`${unitTypes.externalId} = ${ref.toLowerCase()}`, ref)))
      .orderBy(sql`${unitTypes.organizationId} nulls last`)
      .limit(1)
    return owned(row, 'unit type', ref)
  }

  async function findUnit(tx: Executor, ctx: RequestContext, ref: string) {
    const [found] = await tx
      .select({ unit: unitDefinitions, type: unitTypes })
      .from(unitDefinitions)
      .innerJoin(unitTypes, eq(unitTypes.id, unitDefinitions.unitTypeId))
      .where(and(visibleTo(unitDefinitions.organizationId, ctx), byRef(eq(unitDefinitions.id, ref), sql`lower(${unitDefinitions.externalId}) = ${ref.toLowerCase()}`, ref)))
      .orderBy(sql`${unitDefinitions.organizationId} nulls last`)
      .limit(1)
    owned(found?.unit, 'unit', ref)
    return found!
  }

  async function findCategory(tx: Executor, ctx: RequestContext, id: string) {
    const [found] = await tx
      .select({ category: unitCategories, type: unitTypes })
      .from(unitCategories)
      .innerJoin(unitTypes, eq(unitTypes.id, unitCategories.unitTypeId))
      .where(and(visibleTo(unitCategories.organizationId, ctx), eq(unitCategories.id, id)))
    return found
  }

  async function findSystem(tx: Executor, ctx: RequestContext, id: string): Promise<UnitSystemRow> {
    const [row] = await tx
      .select()
      .from(unitSystems)
      .where(and(visibleTo(unitSystems.organizationId, ctx), eq(unitSystems.id, id)))
    return owned(row, 'unit system', id)
  }

  /** An external id is lower case (look-ups ignore case) and may not shadow a catalog row's. */
  async function externalIdFor(table: typeof unitTypes | typeof unitDefinitions, value: string | null | undefined, what: string): Promise<string | null | undefined> {
    if (value === undefined || value === null) return value
    const lower = value.toLowerCase()
    const [clash] = await db
      .select({ id: table.id })
      .from(table)
      .where(and(isNull(table.organizationId), eq(table.externalId, lower)))
    if (clash) throw new ConflictError(`the external id ${lower} belongs to a catalog ${what}: choose another`, { field: 'external_id' })
    return lower
  }

  /** Where the unit is a system default, for the message of a refused delete. */
  async function defaultsUsing(tx: Executor, where: SQL) {
    return tx
      .select({ unit_system_id: unitSystems.id, unit_system: unitSystems.name, unit_category_id: unitCategories.id, unit_category: unitCategories.name })
      .from(unitSystemCategoryDefinitions)
      .innerJoin(unitSystems, eq(unitSystems.id, unitSystemCategoryDefinitions.unitSystemId))
      .innerJoin(unitCategories, eq(unitCategories.id, unitSystemCategoryDefinitions.unitCategoryId))
      .where(where)
      .orderBy(unitSystems.name, unitCategories.name)
  }
  const describeDefaults = (used: { unit_system: string; unit_category: string }[]) => used.map((u) => `${u.unit_system} / ${u.unit_category}`).join(', ')

  const countOf = async (tx: Executor, table: typeof unitDefinitions | typeof unitCategories, where: SQL) =>
    ((await tx.select({ n: sql<number>`count(*)::int` }).from(table).where(where)) as [{ n: number }])[0].n

  const typeConflicts = (name: string) => ({ unit_types_name_key: `your organisation already has a unit type named ${name}`, unit_types_external_id_key: 'your organisation already has a unit type with this external id' })
  const unitConflicts = (name: string, type: UnitTypeRow) => ({
    unit_definitions_name_key: `${type.name} already has a unit named ${name}`,
    unit_definitions_external_id_key: 'your organisation already has a unit with this external id',
    unit_definitions_one_base_per_type: `${type.name} already has a base unit: every other unit of it is defined against that one (is_base must be false)`,
  })
  const categoryConflicts = (name: string, typeName: string) => ({ unit_categories_name_key: `${typeName} already has a category named ${name}` })
  const systemConflicts = (name: string) => ({ unit_systems_name_key: `your organisation already has a unit system named ${name}` })

  return {
    async createUnitType(ctx: RequestContext, input: NewUnitType) {
      const externalId = await externalIdFor(unitTypes, input.external_id, 'unit type')
      return database.transaction(async (tx) => {
        const [row] = await refusing(
          () => tx.insert(unitTypes).values({ organizationId: orgOf(ctx), name: input.name, externalId: externalId ?? null, description: input.description ?? null }).returning(),
          typeConflicts(input.name),
        )
        await events.appendEvent(tx, ctx, { type: 'unit_type.created', entityType: 'unit_type', entityId: row!.id, data: { name: row!.name, external_id: row!.externalId } })
        return toUnitTypeView(row!)
      })
    },

    async updateUnitType(ctx: RequestContext, ref: string, patch: Partial<NewUnitType>) {
      await findType(db, ctx, ref) // 404 or 403 before anything else
      const externalId = await externalIdFor(unitTypes, patch.external_id, 'unit type')
      return database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref)
        const changes = { ...(patch.name !== undefined ? { name: patch.name } : {}), ...(externalId !== undefined ? { externalId } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}) }
        if (Object.keys(changes).length === 0) return toUnitTypeView(type)
        const [row] = await refusing(() => tx.update(unitTypes).set(changes).where(eq(unitTypes.id, type.id)).returning(), typeConflicts(patch.name ?? type.name))
        await events.appendEvent(tx, ctx, { type: 'unit_type.updated', entityType: 'unit_type', entityId: type.id, data: { changed: Object.keys(patch), name: row!.name } })
        return toUnitTypeView(row!)
      })
    },

    async deleteUnitType(ctx: RequestContext, ref: string) {
      await database.transaction(async (tx) => {
        const type = await findType(tx, ctx, ref)
        const [unitCount, categoryCount] = [await countOf(tx, unitDefinitions, eq(unitDefinitions.unitTypeId, type.id)), await countOf(tx, unitCategories, eq(unitCategories.unitTypeId, type.id))]
        if (unitCount + categoryCount > 0) {
          throw new ConflictError(`unit type ${type.name} is in use: it has ${unitCount} unit(s) and ${categoryCount} categor${categoryCount === 1 ? 'y' : 'ies'}; delete those first`, { units: unitCount, categories: categoryCount })
        }
        await refusing(() => tx.delete(unitTypes).where(eq(unitTypes.id, type.id)), { unit_definitions_unit_type_id_unit_types_id_fk: `unit type ${type.name} gained a unit meanwhile`, unit_categories_unit_type_id_unit_types_id_fk: `unit type ${type.name} gained a category meanwhile` })
        await events.appendEvent(tx, ctx, { type: 'unit_type.deleted', entityType: 'unit_type', entityId: type.id, data: { name: type.name } })
      })
    },

    /**
     * A unit of a catalog type or of the organisation's own type. The first unit of an own type
     * is its base (conversion: the identity); a catalog type already has its base.
     */
    async createUnit(ctx: RequestContext, input: NewUnit) {
      const typeView = await typeFor(ctx, input.type)
      const conversion = conversionOf(input)
      const externalId = await externalIdFor(unitDefinitions, input.external_id, 'unit')
      return database.transaction(async (tx) => {
        // Serialises the "first unit is the base" decision for one type.
        const [type] = await tx.select().from(unitTypes).where(eq(unitTypes.id, typeView.id)).for('update')
        if (!type) throw new ValidationError(`no unit type is named '${input.type}'`, [{ path: '/body/type', message: 'was just deleted' }])
        let isBase: boolean
        if (type.organizationId === null) {
          if (input.is_base) throw new ConflictError(`${type.name} is a catalog type and already has its base unit: a unit you add to it is defined against that one (is_base must be false)`, { unit_type: type.name })
          isBase = false
        } else {
          const first = (await countOf(tx, unitDefinitions, eq(unitDefinitions.unitTypeId, type.id))) === 0
          if (first && input.is_base === false) throw new ValidationError(`${type.name} has no unit yet: its first unit is its base`, [{ path: '/body/is_base', message: 'must be true (or left out) for the first unit of a type' }])
          isBase = input.is_base ?? first
        }
        if (isBase && conversion && !isIdentity(conversion)) throw new ValidationError('a base unit is the one the others are defined against: its conversion is the identity (scale 1, offset 0)', [{ path: '/body/scale', message: 'must be 1 (offset 0) for a base unit' }])
        if (!isBase && !conversion) throw new ValidationError(`give the unit's conversion to the base unit of ${type.name}: scale (and offset), or a, b, c and d`, [{ path: '/body/scale', message: 'is required (or a, b, c, d)' }])
        const [row] = await refusing(
          () =>
            tx
              .insert(unitDefinitions)
              .values({
                organizationId: orgOf(ctx),
                unitTypeId: type.id,
                externalId: externalId ?? null,
                name: input.name,
                longName: input.long_name ?? null,
                symbol: input.symbol,
                aliases: input.aliases ?? [],
                ...(isBase ? IDENTITY : conversion!),
                isBase,
              })
              .returning(),
          unitConflicts(input.name, type),
        )
        await events.appendEvent(tx, ctx, {
          type: 'unit.created',
          entityType: 'unit',
          entityId: row!.id,
          data: { name: row!.name, symbol: row!.symbol, unit_type_id: type.id, unit_type: type.name, is_base: isBase, conversion: { a: row!.a, b: row!.b, c: row!.c, d: row!.d, scale: row!.scale, offset: row!.offset } },
        })
        return toUnitView(row!, type)
      })
    },

    async updateUnit(ctx: RequestContext, ref: string, patch: UnitPatch) {
      await findUnit(db, ctx, ref)
      const conversion = conversionOf(patch)
      const externalId = await externalIdFor(unitDefinitions, patch.external_id, 'unit')
      return database.transaction(async (tx) => {
        const { unit, type } = await findUnit(tx, ctx, ref)
        if (unit.isBase && conversion && !isIdentity(conversion)) throw new ValidationError(`${unit.symbol} is the base unit of ${type.name}: its conversion stays the identity`, [{ path: '/body/scale', message: 'cannot change for a base unit' }])
        const changes = {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.symbol !== undefined ? { symbol: patch.symbol } : {}),
          ...(patch.long_name !== undefined ? { longName: patch.long_name } : {}),
          ...(patch.aliases !== undefined ? { aliases: patch.aliases } : {}),
          ...(externalId !== undefined ? { externalId } : {}),
          ...(conversion && !unit.isBase ? conversion : {}),
        }
        if (Object.keys(changes).length === 0) return toUnitView(unit, type)
        const [row] = await refusing(() => tx.update(unitDefinitions).set(changes).where(eq(unitDefinitions.id, unit.id)).returning(), unitConflicts(patch.name ?? unit.name, type))
        await events.appendEvent(tx, ctx, { type: 'unit.updated', entityType: 'unit', entityId: unit.id, data: { changed: Object.keys(patch), name: row!.name, symbol: row!.symbol, unit_type: type.name } })
        return toUnitView(row!, type)
      })
    },

    async deleteUnit(ctx: RequestContext, ref: string) {
      await database.transaction(async (tx) => {
        const { unit, type } = await findUnit(tx, ctx, ref)
        const used = await defaultsUsing(tx, eq(unitSystemCategoryDefinitions.unitDefinitionId, unit.id))
        if (used.length > 0) throw new ConflictError(`unit ${unit.symbol} is in use: it is the default of ${describeDefaults(used)}; change or remove those defaults first`, { used_by: used })
        if (unit.isBase) {
          const others = await countOf(tx, unitDefinitions, and(eq(unitDefinitions.unitTypeId, type.id), sql`${unitDefinitions.id} <> ${unit.id}`)!)
          if (others > 0) throw new ConflictError(`unit ${unit.symbol} is the base unit of ${type.name}: ${others} other unit(s) are defined against it; delete them first`, { units: others })
        }
        await refusing(() => tx.delete(unitDefinitions).where(eq(unitDefinitions.id, unit.id)), {
          unit_system_category_definitions_unit_fk: `unit ${unit.symbol} became a system default meanwhile`,
          object_type_properties_unit_fk: `unit ${unit.symbol} is the unit of an object type property`,
          object_type_properties_display_unit_fk: `unit ${unit.symbol} is the display unit of an object type property`,
        })
        await events.appendEvent(tx, ctx, { type: 'unit.deleted', entityType: 'unit', entityId: unit.id, data: { name: unit.name, symbol: unit.symbol, unit_type: type.name } })
      })
    },

    async createUnitCategory(ctx: RequestContext, input: NewUnitCategory) {
      const type = await typeFor(ctx, input.type)
      return database.transaction(async (tx) => {
        const [row] = await refusing(
          () => tx.insert(unitCategories).values({ organizationId: orgOf(ctx), unitTypeId: type.id, name: input.name, description: input.description ?? null }).returning(),
          { ...categoryConflicts(input.name, type.name), unit_categories_unit_type_id_unit_types_id_fk: `unit type ${type.name} was just deleted` },
        )
        await events.appendEvent(tx, ctx, { type: 'unit_category.created', entityType: 'unit_category', entityId: row!.id, data: { name: row!.name, unit_type_id: type.id, unit_type: type.name } })
        return toUnitCategoryView(row!, type)
      })
    },

    async updateUnitCategory(ctx: RequestContext, id: string, patch: Partial<Omit<NewUnitCategory, 'type'>>) {
      return database.transaction(async (tx) => {
        const found = await findCategory(tx, ctx, id)
        const category = owned(found?.category, 'unit category', id)
        const changes = { ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}) }
        if (Object.keys(changes).length === 0) return toUnitCategoryView(category, found!.type)
        const [row] = await refusing(() => tx.update(unitCategories).set(changes).where(eq(unitCategories.id, id)).returning(), categoryConflicts(patch.name ?? category.name, found!.type.name))
        await events.appendEvent(tx, ctx, { type: 'unit_category.updated', entityType: 'unit_category', entityId: id, data: { changed: Object.keys(patch), name: row!.name } })
        return toUnitCategoryView(row!, found!.type)
      })
    },

    async deleteUnitCategory(ctx: RequestContext, id: string) {
      await database.transaction(async (tx) => {
        const found = await findCategory(tx, ctx, id)
        const category: UnitCategoryRow = owned(found?.category, 'unit category', id)
        const used = await defaultsUsing(tx, eq(unitSystemCategoryDefinitions.unitCategoryId, id))
        if (used.length > 0) throw new ConflictError(`unit category ${category.name} is in use: it has a default in ${describeDefaults(used)}; remove those defaults first`, { used_by: used })
        await refusing(() => tx.delete(unitCategories).where(eq(unitCategories.id, id)), { object_type_properties_category_fk: `unit category ${category.name} is in use by an object type property` })
        await events.appendEvent(tx, ctx, { type: 'unit_category.deleted', entityType: 'unit_category', entityId: id, data: { name: category.name, unit_type: found!.type.name } })
      })
    },

    async createUnitSystem(ctx: RequestContext, input: NewUnitSystem) {
      return database.transaction(async (tx) => {
        const [row] = await refusing(() => tx.insert(unitSystems).values({ organizationId: orgOf(ctx), name: input.name, description: input.description ?? null }).returning(), systemConflicts(input.name))
        await events.appendEvent(tx, ctx, { type: 'unit_system.created', entityType: 'unit_system', entityId: row!.id, data: { name: row!.name } })
        return toUnitSystemView(row!)
      })
    },

    async updateUnitSystem(ctx: RequestContext, id: string, patch: Partial<NewUnitSystem>) {
      return database.transaction(async (tx) => {
        const system = await findSystem(tx, ctx, id)
        const changes = { ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}) }
        if (Object.keys(changes).length === 0) return toUnitSystemView(system)
        const [row] = await refusing(() => tx.update(unitSystems).set(changes).where(eq(unitSystems.id, id)).returning(), systemConflicts(patch.name ?? system.name))
        await events.appendEvent(tx, ctx, { type: 'unit_system.updated', entityType: 'unit_system', entityId: id, data: { changed: Object.keys(patch), name: row!.name } })
        return toUnitSystemView(row!)
      })
    },

    /** A system's defaults are part of it and go with it. */
    async deleteUnitSystem(ctx: RequestContext, id: string) {
      await database.transaction(async (tx) => {
        const system = await findSystem(tx, ctx, id)
        const removed = await tx.delete(unitSystemCategoryDefinitions).where(eq(unitSystemCategoryDefinitions.unitSystemId, id)).returning({ id: unitSystemCategoryDefinitions.id })
        await tx.delete(unitSystems).where(eq(unitSystems.id, id))
        await events.appendEvent(tx, ctx, { type: 'unit_system.deleted', entityType: 'unit_system', entityId: id, data: { name: system.name, defaults_removed: removed.length } })
      })
    },

    /** Sets (or replaces) the default unit of a category in one of the organisation's systems. */
    async setSystemDefault(ctx: RequestContext, systemId: string, categoryId: string, unitRef: string) {
      // Path first: an unknown or foreign system or category is a 404 whatever the body says.
      const system = await findSystem(db, ctx, systemId)
      const found = await findCategory(db, ctx, categoryId)
      if (!found) throw new NotFoundError(`unit category ${categoryId} not found`)
      const unit = await units.resolveUnit(ctx, unitRef, 'body/unit')
      const { category, type } = found
      if (unit.unitTypeId !== category.unitTypeId) {
        throw new ValidationError(`${unit.symbol} is a unit of ${unit.unitTypeName}; category ${category.name} holds ${type.name}`, [{ path: '/body/unit', message: `must be a ${type.name} unit` }])
      }
      return database.transaction(async (tx) => {
        const [existing] = await tx
          .select()
          .from(unitSystemCategoryDefinitions)
          .where(and(eq(unitSystemCategoryDefinitions.organizationId, orgOf(ctx)), eq(unitSystemCategoryDefinitions.unitSystemId, system.id), eq(unitSystemCategoryDefinitions.unitCategoryId, category.id)))
          .for('update')
        const wrongType = { unit_system_category_definitions_unit_fk: `${unit.symbol} is not a ${type.name} unit, or was just deleted`, unit_system_category_definitions_key: 'this default was just set by another request' }
        try {
          if (existing) await tx.update(unitSystemCategoryDefinitions).set({ unitDefinitionId: unit.id, unitTypeId: category.unitTypeId }).where(eq(unitSystemCategoryDefinitions.id, existing.id))
          else await refusing(() => tx.insert(unitSystemCategoryDefinitions).values({ organizationId: orgOf(ctx), unitSystemId: system.id, unitCategoryId: category.id, unitTypeId: category.unitTypeId, unitDefinitionId: unit.id }), { unit_system_category_definitions_key: wrongType.unit_system_category_definitions_key })
        } catch (err) {
          // The database's own guard: the unit's type must be the category's.
          if (isForeignKeyViolation(err, 'unit_system_category_definitions_unit_fk')) throw new ValidationError(wrongType.unit_system_category_definitions_unit_fk, [{ path: '/body/unit', message: `must be a ${type.name} unit` }])
          // The system or category was deleted since it was looked up.
          if (isForeignKeyViolation(err)) throw new NotFoundError(`unit system ${systemId} or unit category ${categoryId} not found`)
          throw err
        }
        await events.appendEvent(tx, ctx, {
          type: 'unit_system.default_set',
          entityType: 'unit_system',
          entityId: system.id,
          data: { unit_category_id: category.id, unit_category: category.name, unit_id: unit.id, unit: unit.symbol, previous_unit_id: existing?.unitDefinitionId ?? null },
        })
        return { unit_system: toUnitSystemView(system), unit_category: toUnitCategoryView(category, type), unit: toUnitView(unit.row, { name: unit.unitTypeName }) }
      })
    },

    async removeSystemDefault(ctx: RequestContext, systemId: string, categoryId: string) {
      await database.transaction(async (tx) => {
        const system = await findSystem(tx, ctx, systemId)
        const removed = await tx
          .delete(unitSystemCategoryDefinitions)
          .where(and(eq(unitSystemCategoryDefinitions.organizationId, orgOf(ctx)), eq(unitSystemCategoryDefinitions.unitSystemId, system.id), eq(unitSystemCategoryDefinitions.unitCategoryId, categoryId)))
          .returning()
        if (removed.length === 0) throw new NotFoundError(`unit system ${system.name} has no default for category ${categoryId}`)
        await events.appendEvent(tx, ctx, { type: 'unit_system.default_removed', entityType: 'unit_system', entityId: system.id, data: { unit_category_id: categoryId, unit_id: removed[0]!.unitDefinitionId } })
      })
    },
  }
}

export type UnitsAdmin = ReturnType<typeof createUnitsAdmin>
