// Units of measure, read side and conversion: lists and look-ups over the global catalog plus
// the caller's organisation's own rows, and conversion between units named by id, external id,
// symbol or alias. Organisation-owned additions (create/update/delete) come with the next slice.
import { and, asc, eq, ilike, isNull, or, sql, type SQL } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'
import type { RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError } from '../../core/errors.ts'
import { decodeCursor, pageOfRows } from '../../core/http/pagination.ts'
import { orgOf } from '../../core/tenancy.ts'
import { convert, convertValues, type ConvertibleUnit } from './units.convert.ts'
import { unitCategories, unitDefinitions, unitSystemCategoryDefinitions, unitSystems, unitTypes, type UnitCategoryRow, type UnitDefinitionRow, type UnitSystemRow, type UnitTypeRow } from './units.schema.ts'

export interface UnitsDeps {
  database: Database
}

interface Page {
  limit: number
  cursor?: string | undefined
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Rows the caller may read: the global catalog (organization_id null) and its own organisation's.
 * The units module's one scoping rule, beside src/core/tenancy.ts's inOrg for tables that have
 * no global rows.
 */
export const visibleTo = (column: AnyPgColumn, ctx: RequestContext): SQL => or(isNull(column), eq(column, orgOf(ctx)))!

/** Keyset on (name, id): every list here is alphabetical. */
function afterName(name: AnyPgColumn, id: AnyPgColumn, cursor: string | undefined): SQL | undefined {
  if (!cursor) return undefined
  const [n, i] = decodeCursor(cursor, ['string', 'string']) as [string, string]
  return sql`(${name}, ${id}) > (${n}, ${i}::uuid)`
}

const like = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

export const toUnitTypeView = (t: UnitTypeRow) => ({
  id: t.id,
  name: t.name,
  external_id: t.externalId,
  description: t.description,
  organization_id: t.organizationId,
  source: t.source,
})

export const toUnitView = (u: UnitDefinitionRow, type: { name: string }) => ({
  id: u.id,
  external_id: u.externalId,
  name: u.name,
  long_name: u.longName,
  symbol: u.symbol,
  aliases: u.aliases,
  unit_type_id: u.unitTypeId,
  unit_type: type.name,
  is_base: u.isBase,
  conversion: { a: u.a, b: u.b, c: u.c, d: u.d, scale: u.scale, offset: u.offset },
  organization_id: u.organizationId,
  source: u.source,
  source_reference: u.sourceReference,
})

export const toUnitSystemView = (s: UnitSystemRow) => ({ id: s.id, name: s.name, description: s.description, organization_id: s.organizationId, source: s.source })

export const toUnitCategoryView = (c: UnitCategoryRow, type: { name: string }) => ({
  id: c.id,
  name: c.name,
  unit_type_id: c.unitTypeId,
  unit_type: type.name,
  description: c.description,
  organization_id: c.organizationId,
  source: c.source,
})

const toConvertible = (u: UnitDefinitionRow, typeName: string): ConvertibleUnit & { row: UnitDefinitionRow } => ({
  id: u.id,
  symbol: u.symbol,
  unitTypeId: u.unitTypeId,
  unitTypeName: typeName,
  a: u.a,
  b: u.b,
  c: u.c,
  d: u.d,
  scale: u.scale,
  offset: u.offset,
  row: u,
})

type Resolved = ReturnType<typeof toConvertible>

export interface ConvertRequest {
  from: string
  /** The target unit; or `to_system` (with an optional `category`): that system's default for it. */
  to?: string | undefined
  to_system?: string | undefined
  category?: string | undefined
  value?: number | undefined
  values?: number[] | undefined
}

export function createUnits({ database }: UnitsDeps) {
  const db = database.db

  /** A type by id, external id (`pressure`) or name, among those the caller sees; 404 otherwise. */
  async function findType(ctx: RequestContext, ref: string): Promise<UnitTypeRow | undefined> {
    const match = UUID.test(ref) ? eq(unitTypes.id, ref) : or(eq(unitTypes.externalId, ref.toLowerCase()), sql`lower(${unitTypes.name}) = lower(${ref})`)
    const [row] = await db
      .select()
      .from(unitTypes)
      .where(and(visibleTo(unitTypes.organizationId, ctx), match))
      .orderBy(sql`${unitTypes.organizationId} nulls first`)
      .limit(1)
    return row
  }

  /**
   * Every unit `ref` may name, grouped by how it matched, most specific first: id, external id
   * (ignoring case), symbol (exact case: mPa is not MPa), name, long name or alias (exact case),
   * and only if none of those match, symbol, name, long name or alias ignoring case.
   */
  async function candidates(ctx: RequestContext, ref: string): Promise<Resolved[][]> {
    const lower = ref.toLowerCase()
    const found = await db
      .select({ unit: unitDefinitions, typeName: unitTypes.name })
      .from(unitDefinitions)
      .innerJoin(unitTypes, eq(unitTypes.id, unitDefinitions.unitTypeId))
      .where(
        and(
          visibleTo(unitDefinitions.organizationId, ctx),
          or(
            UUID.test(ref) ? eq(unitDefinitions.id, ref) : undefined,
            sql`lower(${unitDefinitions.externalId}) = ${lower}`,
            sql`lower(${unitDefinitions.symbol}) = ${lower}`,
            sql`lower(${unitDefinitions.name}) = ${lower}`,
            sql`lower(${unitDefinitions.longName}) = ${lower}`,
            sql`exists (select 1 from unnest(${unitDefinitions.aliases}) as alias where lower(alias) = ${lower})`,
          ),
        ),
      )
      .orderBy(asc(unitDefinitions.externalId), asc(unitDefinitions.id))
    const units = found.map((f) => toConvertible(f.unit, f.typeName))
    return [
      units.filter((u) => u.id === lower),
      units.filter((u) => u.row.externalId?.toLowerCase() === lower),
      units.filter((u) => u.row.symbol === ref),
      units.filter((u) => u.row.name === ref || u.row.longName === ref || u.row.aliases.includes(ref)),
      units,
    ]
  }

  /** The most specific non-empty group, narrowed to the types in `types` when given. */
  function pick(groups: Resolved[][], types?: Set<string>): Resolved[] {
    for (const group of groups) {
      if (group.length === 0) continue
      const narrowed = types ? group.filter((u) => types.has(u.unitTypeId)) : group
      return narrowed.length > 0 ? narrowed : group
    }
    return []
  }

  function oneOf(found: Resolved[], ref: string, field: string): Resolved {
    if (found.length === 1) return found[0]!
    if (found.length === 0) throw new ValidationError(`no unit is named '${ref}' (give an id, an external id such as pressure:psi, a symbol or an alias)`, [{ path: `/${field}`, message: `no unit is named '${ref}'` }])
    const list = found.map((u) => `${u.row.externalId ?? u.id} (${u.unitTypeName})`)
    const err = new ValidationError(`'${ref}' is ambiguous: it names ${found.length} units: ${list.join(', ')}; give an external id`, [{ path: `/${field}`, message: `is ambiguous: ${list.join(', ')}` }])
    throw Object.assign(err, { details: { candidates: found.map((u) => ({ id: u.id, external_id: u.row.externalId, symbol: u.row.symbol, unit_type: u.unitTypeName })) } })
  }

  /** One unit by reference, for a request field (`from`, `to`); 422 naming the field otherwise. */
  async function resolveUnit(ctx: RequestContext, ref: string, field = 'unit'): Promise<Resolved> {
    return oneOf(pick(await candidates(ctx, ref)), ref, field)
  }

  /**
   * Both ends of a conversion. An ambiguous symbol on one side is narrowed by the other side's
   * type (kg/m3 to lbm/ft3 is a density, not a mass concentration).
   */
  async function resolvePair(ctx: RequestContext, from: string, to: string): Promise<[Resolved, Resolved]> {
    const [fromGroups, toGroups] = [await candidates(ctx, from), await candidates(ctx, to)]
    const typesOf = (units: Resolved[]) => new Set(units.map((u) => u.unitTypeId))
    const fromAll = pick(fromGroups)
    const toAll = pick(toGroups)
    return [oneOf(pick(fromGroups, typesOf(toAll)), from, 'from'), oneOf(pick(toGroups, typesOf(fromAll)), to, 'to')]
  }

  async function getUnitSystem(ctx: RequestContext, id: string) {
    const [row] = await db
      .select()
      .from(unitSystems)
      .where(and(visibleTo(unitSystems.organizationId, ctx), eq(unitSystems.id, id)))
    if (!row) throw new NotFoundError(`unit system ${id} not found`)
    return toUnitSystemView(row)
  }

  /** A system by id or name (case-insensitive) among those the caller sees; the catalog's first. */
  async function findUnitSystem(ctx: RequestContext, ref: string): Promise<UnitSystemRow | undefined> {
    const match = UUID.test(ref) ? eq(unitSystems.id, ref) : sql`lower(${unitSystems.name}) = lower(${ref})`
    const [row] = await db
      .select()
      .from(unitSystems)
      .where(and(visibleTo(unitSystems.organizationId, ctx), match))
      .orderBy(sql`${unitSystems.organizationId} nulls first`)
      .limit(1)
    return row
  }

  /**
   * The default unit of `system` for `unit`'s quantity: for the category `category` names (id or
   * name, within the unit's type), or for the type's own category (named like the type). An
   * organisation's own default for a category wins over the catalog's. Undefined: no default.
   */
  async function systemDefault(ctx: RequestContext, system: UnitSystemRow, unit: Resolved, category?: string, categoryField = '/body/category'): Promise<Resolved | undefined> {
    const match = category ? (UUID.test(category) ? eq(unitCategories.id, category) : sql`lower(${unitCategories.name}) = lower(${category})`) : sql`lower(${unitCategories.name}) = lower(${unit.unitTypeName})`
    const [cat] = await db
      .select()
      .from(unitCategories)
      .where(and(visibleTo(unitCategories.organizationId, ctx), eq(unitCategories.unitTypeId, unit.unitTypeId), match))
      .orderBy(sql`${unitCategories.organizationId} nulls first`)
      .limit(1)
    if (!cat) {
      if (category) throw new ValidationError(`no category '${category}' of ${unit.unitTypeName} (the type of ${unit.symbol})`, [{ path: categoryField, message: `is not a category of ${unit.unitTypeName}` }])
      return undefined
    }
    const [found] = await db
      .select({ unit: unitDefinitions, typeName: unitTypes.name })
      .from(unitSystemCategoryDefinitions)
      .innerJoin(unitDefinitions, eq(unitDefinitions.id, unitSystemCategoryDefinitions.unitDefinitionId))
      .innerJoin(unitTypes, eq(unitTypes.id, unitDefinitions.unitTypeId))
      .where(and(visibleTo(unitSystemCategoryDefinitions.organizationId, ctx), eq(unitSystemCategoryDefinitions.unitSystemId, system.id), eq(unitSystemCategoryDefinitions.unitCategoryId, cat.id)))
      .orderBy(sql`${unitSystemCategoryDefinitions.organizationId} nulls last`)
      .limit(1)
    return found ? toConvertible(found.unit, found.typeName) : undefined
  }

  /** `systemDefault` for a request: 422 naming `field` when the system is unknown or has no default. */
  async function targetInSystem(ctx: RequestContext, from: Resolved, systemRef: string, category: string | undefined, field: string, categoryField: string): Promise<Resolved> {
    const system = await findUnitSystem(ctx, systemRef)
    if (!system) throw new ValidationError(`no unit system is named '${systemRef}'`, [{ path: field, message: `no unit system is named '${systemRef}'` }])
    const target = await systemDefault(ctx, system, from, category, categoryField)
    if (!target) {
      const what = category ? `category ${category}` : `${from.unitTypeName}`
      throw new ValidationError(`unit system ${system.name} has no default unit for ${what}`, [{ path: field, message: `${system.name} has no default unit for ${what}` }])
    }
    return target
  }

  /**
   * A unit category by id or name (case ignored; the caller's own before the catalog's), with
   * the base unit of its type: what an object type property with this category is stored in.
   * 422 naming `field` when there is none.
   */
  async function resolveCategory(ctx: RequestContext, ref: string, field: string) {
    const [found] = await db
      .select({ category: unitCategories, typeName: unitTypes.name, base: unitDefinitions })
      .from(unitCategories)
      .innerJoin(unitTypes, eq(unitTypes.id, unitCategories.unitTypeId))
      .leftJoin(unitDefinitions, and(eq(unitDefinitions.unitTypeId, unitCategories.unitTypeId), eq(unitDefinitions.isBase, true)))
      .where(and(visibleTo(unitCategories.organizationId, ctx), UUID.test(ref) ? eq(unitCategories.id, ref) : sql`lower(${unitCategories.name}) = lower(${ref})`))
      .orderBy(sql`${unitCategories.organizationId} nulls last`)
      .limit(1)
    if (!found) throw new ValidationError(`no unit category is named '${ref}'`, [{ path: field, message: `no unit category is named '${ref}'` }])
    if (!found.base) throw new ValidationError(`unit type ${found.typeName} has no base unit yet`, [{ path: field, message: `the category's type ${found.typeName} has no base unit` }])
    return { category: toUnitCategoryView(found.category, { name: found.typeName }), base: toConvertible(found.base, found.typeName) }
  }

  /** Symbols and types of units by id, through `exec` (so it may run inside another module's transaction). */
  async function unitsByIds(exec: Executor, ids: string[]): Promise<Map<string, { id: string; symbol: string; unitTypeId: string }>> {
    if (ids.length === 0) return new Map()
    const found = await exec
      .select({ id: unitDefinitions.id, symbol: unitDefinitions.symbol, unitTypeId: unitDefinitions.unitTypeId })
      .from(unitDefinitions)
      .where(sql`${unitDefinitions.id} = any(${sql.param(ids)}::uuid[])`)
    return new Map(found.map((u) => [u.id, u]))
  }

  return {
    resolveUnit,
    resolveCategory,
    unitsByIds,
    getUnitSystem,
    findUnitSystem,
    systemDefault,
    targetInSystem,

    async convert(ctx: RequestContext, req: ConvertRequest) {
      const hasValue = req.value !== undefined
      const hasValues = req.values !== undefined
      if (hasValue === hasValues) throw new ValidationError('give either value or values', [{ path: hasValue ? '/values' : '/value', message: hasValue ? 'cannot be given with value' : 'is required (or values)' }])
      if ((req.to === undefined) === (req.to_system === undefined)) throw new ValidationError('give either to or to_system', [{ path: req.to === undefined ? '/body/to' : '/body/to_system', message: req.to === undefined ? 'is required (or to_system)' : 'cannot be given with to' }])
      if (req.category !== undefined && req.to_system === undefined) throw new ValidationError('category goes with to_system', [{ path: '/body/category', message: 'is only used with to_system' }])
      let from: Resolved, to: Resolved
      if (req.to !== undefined) [from, to] = await resolvePair(ctx, req.from, req.to)
      else {
        from = await resolveUnit(ctx, req.from, 'from')
        to = await targetInSystem(ctx, from, req.to_system!, req.category, '/body/to_system', '/body/category')
      }
      const units = { from: toUnitView(from.row, { name: from.unitTypeName }), to: toUnitView(to.row, { name: to.unitTypeName }), unit: { id: to.id, external_id: to.row.externalId, symbol: to.row.symbol } }
      if (hasValue) return { value: convert(req.value!, from, to), ...units }
      return { values: convertValues(req.values!, from, to), ...units }
    },

    async listUnitTypes(ctx: RequestContext, query: Page & { q?: string | undefined }) {
      const found = await db
        .select()
        .from(unitTypes)
        .where(and(visibleTo(unitTypes.organizationId, ctx), query.q ? ilike(unitTypes.name, like(query.q)) : undefined, afterName(unitTypes.name, unitTypes.id, query.cursor)))
        .orderBy(asc(unitTypes.name), asc(unitTypes.id))
        .limit(query.limit + 1)
      const page = pageOfRows(found, query.limit, (r) => [r.name, r.id])
      return { data: page.data.map(toUnitTypeView), next_cursor: page.next_cursor }
    },

    async getUnitType(ctx: RequestContext, ref: string) {
      const row = await findType(ctx, ref)
      if (!row) throw new NotFoundError(`unit type ${ref} not found`)
      return toUnitTypeView(row)
    },

    async listUnits(ctx: RequestContext, query: Page & { type?: string | undefined; q?: string | undefined; is_base?: boolean | undefined }) {
      let typeId: string | undefined
      if (query.type) {
        const type = await findType(ctx, query.type)
        if (!type) return { data: [], next_cursor: null }
        typeId = type.id
      }
      const q = query.q ? like(query.q) : undefined
      const found = await db
        .select({ unit: unitDefinitions, typeName: unitTypes.name })
        .from(unitDefinitions)
        .innerJoin(unitTypes, eq(unitTypes.id, unitDefinitions.unitTypeId))
        .where(
          and(
            visibleTo(unitDefinitions.organizationId, ctx),
            typeId ? eq(unitDefinitions.unitTypeId, typeId) : undefined,
            query.is_base === undefined ? undefined : eq(unitDefinitions.isBase, query.is_base),
            q
              ? or(
                  ilike(unitDefinitions.name, q),
                  ilike(unitDefinitions.symbol, q),
                  ilike(unitDefinitions.longName, q),
                  ilike(unitDefinitions.externalId, q),
                  sql`exists (select 1 from unnest(${unitDefinitions.aliases}) as alias where alias ilike ${q})`,
                )
              : undefined,
            afterName(unitDefinitions.name, unitDefinitions.id, query.cursor),
          ),
        )
        .orderBy(asc(unitDefinitions.name), asc(unitDefinitions.id))
        .limit(query.limit + 1)
      const page = pageOfRows(found, query.limit, (r) => [r.unit.name, r.unit.id])
      return { data: page.data.map((r) => toUnitView(r.unit, { name: r.typeName })), next_cursor: page.next_cursor }
    },

    /** A unit by id or external id (not by symbol: a path names one thing). */
    async getUnit(ctx: RequestContext, ref: string) {
      const [found] = await db
        .select({ unit: unitDefinitions, typeName: unitTypes.name })
        .from(unitDefinitions)
        .innerJoin(unitTypes, eq(unitTypes.id, unitDefinitions.unitTypeId))
        .where(and(visibleTo(unitDefinitions.organizationId, ctx), UUID.test(ref) ? eq(unitDefinitions.id, ref) : sql`lower(${unitDefinitions.externalId}) = ${ref.toLowerCase()}`))
        .orderBy(sql`${unitDefinitions.organizationId} nulls first`)
        .limit(1)
      if (!found) throw new NotFoundError(`unit ${ref} not found`)
      return toUnitView(found.unit, { name: found.typeName })
    },

    async listUnitSystems(ctx: RequestContext, query: Page) {
      const found = await db
        .select()
        .from(unitSystems)
        .where(and(visibleTo(unitSystems.organizationId, ctx), afterName(unitSystems.name, unitSystems.id, query.cursor)))
        .orderBy(asc(unitSystems.name), asc(unitSystems.id))
        .limit(query.limit + 1)
      const page = pageOfRows(found, query.limit, (r) => [r.name, r.id])
      return { data: page.data.map(toUnitSystemView), next_cursor: page.next_cursor }
    },

    /** The default unit of each category in a system, alphabetically by type then category. */
    async listSystemDefaults(ctx: RequestContext, id: string, query: { type?: string | undefined }) {
      const system = await getUnitSystem(ctx, id)
      let typeId: string | undefined
      if (query.type) {
        const type = await findType(ctx, query.type)
        if (!type) return { unit_system: system, data: [] }
        typeId = type.id
      }
      const found = await db
        .select({ category: unitCategories, unit: unitDefinitions, typeName: unitTypes.name })
        .from(unitSystemCategoryDefinitions)
        .innerJoin(unitCategories, eq(unitCategories.id, unitSystemCategoryDefinitions.unitCategoryId))
        .innerJoin(unitDefinitions, eq(unitDefinitions.id, unitSystemCategoryDefinitions.unitDefinitionId))
        .innerJoin(unitTypes, eq(unitTypes.id, unitSystemCategoryDefinitions.unitTypeId))
        .where(and(eq(unitSystemCategoryDefinitions.unitSystemId, system.id), visibleTo(unitSystemCategoryDefinitions.organizationId, ctx), typeId ? eq(unitSystemCategoryDefinitions.unitTypeId, typeId) : undefined))
        .orderBy(asc(unitTypes.name), asc(unitCategories.name))
      return {
        unit_system: system,
        data: found.map((r) => ({ unit_category: toUnitCategoryView(r.category, { name: r.typeName }), unit: toUnitView(r.unit, { name: r.typeName }) })),
      }
    },

    async listUnitCategories(ctx: RequestContext, query: Page & { type?: string | undefined; q?: string | undefined }) {
      let typeId: string | undefined
      if (query.type) {
        const type = await findType(ctx, query.type)
        if (!type) return { data: [], next_cursor: null }
        typeId = type.id
      }
      const found = await db
        .select({ category: unitCategories, typeName: unitTypes.name })
        .from(unitCategories)
        .innerJoin(unitTypes, eq(unitTypes.id, unitCategories.unitTypeId))
        .where(
          and(
            visibleTo(unitCategories.organizationId, ctx),
            typeId ? eq(unitCategories.unitTypeId, typeId) : undefined,
            query.q ? ilike(unitCategories.name, like(query.q)) : undefined,
            afterName(unitCategories.name, unitCategories.id, query.cursor),
          ),
        )
        .orderBy(asc(unitCategories.name), asc(unitCategories.id))
        .limit(query.limit + 1)
      const page = pageOfRows(found, query.limit, (r) => [r.category.name, r.category.id])
      return { data: page.data.map((r) => toUnitCategoryView(r.category, { name: r.typeName })), next_cursor: page.next_cursor }
    },

    async getUnitCategory(ctx: RequestContext, id: string) {
      const [found] = await db
        .select({ category: unitCategories, typeName: unitTypes.name })
        .from(unitCategories)
        .innerJoin(unitTypes, eq(unitTypes.id, unitCategories.unitTypeId))
        .where(and(visibleTo(unitCategories.organizationId, ctx), eq(unitCategories.id, id)))
      if (!found) throw new NotFoundError(`unit category ${id} not found`)
      return toUnitCategoryView(found.category, { name: found.typeName })
    },
  }
}

export type Units = ReturnType<typeof createUnits>
