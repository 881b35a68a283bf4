// The rules seed 000 states, kept by the database: one base unit per type, a system default of
// the category's own type, names unique per owner (global catalog vs an organisation), finite
// and invertible conversions. And the shipped catalog migration is what the generator writes.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uuidv7 } from 'uuidv7'
import { rows } from '../../core/db/database.ts'
import { MIGRATIONS_DIR } from '../../core/db/migrate.ts'
import { testRuntime } from '../../../test/app.ts'
import { buildCatalog, renderCatalogSql, unitCategoryIdOf, unitIdOf, unitSystemIdOf, unitTypeIdOf } from './units.catalog.ts'

let rt: Awaited<ReturnType<typeof testRuntime>>
beforeAll(async () => {
  rt = await testRuntime()
})
afterAll(() => rt.close())

/** Runs `statement` in a transaction that is rolled back; answers the error's message, or null. */
async function refusal(statement: ReturnType<typeof sql>): Promise<string | null> {
  try {
    await rt.database.transaction(async (tx) => {
      await tx.execute(statement)
      throw new Error('__rollback__')
    })
  } catch (e) {
    const messages: string[] = []
    for (let c = e as { message?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) messages.push(c.message ?? '')
    return messages.join(' | ').includes('__rollback__') ? null : messages.join(' | ')
  }
  return null
}

const pressure = unitTypeIdOf('Pressure')
const temperature = unitTypeIdOf('Temperature')
const newUnit = (over: { id?: string; type?: string; name?: string; isBase?: boolean; a?: number; org?: string | null; externalId?: string | null } = {}) =>
  sql`insert into unit_definitions (id, organization_id, unit_type_id, external_id, name, symbol, a, b, c, d, is_base)
      values (${over.id ?? uuidv7()}, ${over.org ?? null}, ${over.type ?? pressure}, ${over.externalId ?? null}, ${over.name ?? `probe ${uuidv7()}`}, 'p', ${over.a ?? 2}, 0, 0, 1, ${over.isBase ?? false})`

describe('database rules', () => {
  it('refuses a second base unit for a type', async () => {
    expect(await refusal(newUnit({ isBase: true, a: 1 }))).toMatch(/unit_definitions_one_base_per_type/)
    // a new type's first base unit is fine
    const id = uuidv7()
    expect(await refusal(sql`with t as (insert into unit_types (id, name) values (${id}, 'Probe Quantity') returning id) insert into unit_definitions (id, unit_type_id, name, symbol, a, b, c, d, is_base) select ${uuidv7()}, id, 'probe', 'p', 1, 0, 0, 1, true from t`)).toBeNull()
  })

  it('refuses a base unit whose conversion is not the identity', async () => {
    const type = uuidv7()
    await rt.database.transaction((tx) => tx.execute(sql`insert into unit_types (id, name) values (${type}, 'Probe Quantity 2')`))
    expect(await refusal(newUnit({ type, isBase: true, a: 2 }))).toMatch(/unit_definitions_base_is_identity/)
  })

  it('refuses non-finite and non-invertible conversions', async () => {
    expect(await refusal(newUnit({ a: Number.NaN }))).toMatch(/unit_definitions_finite/)
    expect(await refusal(sql`insert into unit_definitions (id, unit_type_id, name, symbol, a, b, c, d) values (${uuidv7()}, ${pressure}, 'inf', 'p', 'Infinity', 0, 0, 1)`)).toMatch(/unit_definitions_finite/)
    expect(await refusal(newUnit({ a: 0 }))).toMatch(/unit_definitions_invertible/)
    expect(await refusal(sql`insert into unit_definitions (id, unit_type_id, name, symbol, a, b, c, d, scale, "offset") values (${uuidv7()}, ${pressure}, 'so', 'p', 2, 0, 0, 1, 3, 0)`)).toMatch(/unit_definitions_scale_offset/)
  })

  it('refuses a system default whose unit is not of the category\'s type', async () => {
    const insertDefault = (unit: string, type: string) =>
      sql`insert into unit_system_category_definitions (id, unit_system_id, unit_category_id, unit_type_id, unit_definition_id, organization_id)
          values (${uuidv7()}, ${unitSystemIdOf('SI')}, ${unitCategoryIdOf('Pressure', 'Casing Pressure')}, ${type}, ${unit}, ${uuidv7()})`
    // the unit's own type: the category is a pressure one
    expect(await refusal(insertDefault(unitIdOf('temperature:deg_f'), temperature))).toMatch(/unit_system_category_definitions_category_fk/)
    // the category's type: the unit is a temperature
    expect(await refusal(insertDefault(unitIdOf('temperature:deg_f'), pressure))).toMatch(/unit_system_category_definitions_unit_fk/)
    // a pressure unit is fine (an organisation's own default for a global category)
    expect(await refusal(insertDefault(unitIdOf('pressure:bar'), pressure))).toBeNull()
  })

  it('keeps names unique per owner: two global rows clash, an organisation may reuse a global name', async () => {
    expect(await refusal(newUnit({ name: 'PSI' }))).toMatch(/unit_definitions_name_key/)
    expect(await refusal(newUnit({ externalId: 'pressure:psi' }))).toMatch(/unit_definitions_external_id_key/)
    const org = uuidv7()
    expect(await refusal(sql`${newUnit({ name: 'PSI', org, externalId: 'pressure:psi' })}`)).toBeNull()
    expect(await refusal(sql`insert into unit_systems (id, name) values (${uuidv7()}, 'SI')`)).toMatch(/unit_systems_name_key/)
    expect(await refusal(sql`insert into unit_systems (id, name, organization_id) values (${uuidv7()}, 'SI', ${org})`)).toBeNull()
    expect(await refusal(sql`insert into unit_categories (id, unit_type_id, name) values (${uuidv7()}, ${pressure}, 'Casing Pressure')`)).toMatch(/unit_categories_name_key/)
    expect(await refusal(sql`insert into unit_system_category_definitions (id, unit_system_id, unit_category_id, unit_type_id, unit_definition_id) values (${uuidv7()}, ${unitSystemIdOf('SI')}, ${unitCategoryIdOf('Pressure', 'Pressure')}, ${pressure}, ${unitIdOf('pressure:bar')})`)).toMatch(/unit_system_category_definitions_key/)
  })
})

describe('the catalog migration', () => {
  it('is what scripts/units-catalog-sql.ts writes from src/modules/units/catalog/', () => {
    expect(readFileSync(join(MIGRATIONS_DIR, '0003_units_catalog.sql'), 'utf8')).toBe(renderCatalogSql(buildCatalog()))
  })

  it('stores every factor exactly as the catalog builder computed it', async () => {
    const catalog = buildCatalog()
    const stored = await rows<{ id: string; a: number; b: number; scale: number; offset: number }>(rt.database.db, sql`select id, a, b, scale, "offset" from unit_definitions where organization_id is null`)
    expect(stored).toHaveLength(catalog.units.length)
    const byId = new Map(stored.map((r) => [r.id, r]))
    for (const u of catalog.units) {
      const r = byId.get(u.id)!
      expect([Number(r.a), Number(r.b), Number(r.scale), Number(r.offset)], u.externalId).toEqual([u.a, u.b, u.scale, u.offset])
    }
  })
})
