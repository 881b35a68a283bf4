// Property definitions (seed 000 ObjectTypeProperty) as requests give them: unit names resolved
// (before the transaction opens: the units service reads through the outer handle), the base unit
// of the category set as the property's unit, and every inconsistency (enum without values,
// bounds on a string, a default that is not a valid value...) reported by its JSON path.
import type { Executor } from '../../core/db/database.ts'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import type { RequestContext } from '../../core/context.ts'
import type { createUnits } from '../units/units.service.ts'
import { DATA_TYPES, type DataType, type PropertyRow } from './assets.schema.ts'
import type { PropertyPatch } from './objectTypes.service.ts'
import { compileSchema, defaultProblem } from './schema.compile.ts'

export interface PreparedUnits {
  categories: Map<string, { id: string; unitTypeId: string; baseId: string }>
  displays: Map<string, { id: string; unitTypeId: string; symbol: string; typeName: string }>
}

export function createPropertyDefinitions({ units }: { units: ReturnType<typeof createUnits> }) {
  /**
   * The unit names in property inputs, resolved before the transaction opens: the units service
   * reads through the outer handle, which must not be used inside a transaction.
   */
  async function prepareUnits(ctx: RequestContext, inputs: { input: PropertyPatch; at: string }[]): Promise<PreparedUnits> {
    const prepared: PreparedUnits = { categories: new Map(), displays: new Map() }
    for (const { input, at } of inputs) {
      if (input.unit_category && !prepared.categories.has(input.unit_category)) {
        const { category, base } = await units.resolveCategory(ctx, input.unit_category, `${at}/unit_category`)
        prepared.categories.set(input.unit_category, { id: category.id, unitTypeId: category.unit_type_id, baseId: base.id })
      }
      if (input.display_unit && !prepared.displays.has(input.display_unit)) {
        const u = await units.resolveUnit(ctx, input.display_unit, `${at.slice(1)}/display_unit`)
        prepared.displays.set(input.display_unit, { id: u.id, unitTypeId: u.unitTypeId, symbol: u.symbol, typeName: u.unitTypeName })
      }
    }
    return prepared
  }

  /** The unit columns of a property input, checked against its data type and category. */
  async function resolveUnits(exec: Executor, input: PropertyPatch, prev: PropertyRow | undefined, at: string, prepared: PreparedUnits) {
    const dataType = input.data_type ?? prev?.dataType
    let unitCategoryId = prev?.unitCategoryId ?? null
    let unitId = prev?.unitId ?? null
    let displayUnitId = prev?.displayUnitId ?? null
    if (input.unit_category !== undefined) {
      if (input.unit_category === null) {
        unitCategoryId = unitId = displayUnitId = null
      } else {
        const category = prepared.categories.get(input.unit_category)!
        if (input.display_unit === undefined && prev?.unitCategoryId !== category.id) displayUnitId = null
        unitCategoryId = category.id
        unitId = category.baseId
      }
    }
    if (unitCategoryId && dataType !== 'number' && dataType !== 'integer') {
      throw new ValidationError('only number and integer properties carry a unit', [{ path: `${at}/unit_category`, message: `a ${dataType} property has no unit` }])
    }
    if (input.display_unit !== undefined) {
      if (input.display_unit === null) displayUnitId = null
      else {
        if (!unitId) throw new ValidationError('a display unit needs a unit category', [{ path: `${at}/display_unit`, message: 'set unit_category first' }])
        const unit = prepared.displays.get(input.display_unit)!
        const base = (await units.unitsByIds(exec, [unitId])).get(unitId)!
        if (unit.unitTypeId !== base.unitTypeId) throw new ValidationError(`${unit.symbol} is not a unit of this property's category`, [{ path: `${at}/display_unit`, message: `${unit.symbol} is a ${unit.typeName} unit` }])
        displayUnitId = unit.id
      }
    }
    return { unitCategoryId, unitId, displayUnitId }
  }

  /** The column values of a property, checked for consistency (enum values, bounds, default). */
  function propertyColumns(input: PropertyPatch, prev: PropertyRow | undefined, at: string) {
    const errors: FieldError[] = []
    const dataType = (input.data_type ?? prev?.dataType) as DataType
    if (!DATA_TYPES.includes(dataType)) errors.push({ path: `${at}/data_type`, message: `must be one of ${DATA_TYPES.join(', ')}` })
    const enumValues = input.enum_values !== undefined ? input.enum_values : dataType === 'enum' ? (prev?.enumValues ?? null) : null
    if (dataType === 'enum' && (!enumValues || enumValues.length === 0)) errors.push({ path: `${at}/enum_values`, message: 'an enum property needs at least one value' })
    if (dataType !== 'enum' && enumValues && enumValues.length > 0) errors.push({ path: `${at}/enum_values`, message: 'only enum properties have enum values' })
    if (enumValues && new Set(enumValues).size !== enumValues.length) errors.push({ path: `${at}/enum_values`, message: 'values must be distinct' })
    const numeric = dataType === 'number' || dataType === 'integer'
    const minimum = input.minimum !== undefined ? input.minimum : numeric ? (prev?.minimum ?? null) : null
    const maximum = input.maximum !== undefined ? input.maximum : numeric ? (prev?.maximum ?? null) : null
    if (!numeric && (minimum != null || maximum != null)) errors.push({ path: `${at}/${minimum != null ? 'minimum' : 'maximum'}`, message: 'only number and integer properties have bounds' })
    if (minimum != null && maximum != null && minimum > maximum) errors.push({ path: `${at}/minimum`, message: `must not exceed maximum (${maximum})` })
    const timeVarying = input.time_varying ?? prev?.timeVarying ?? false
    const required = input.required ?? prev?.required ?? false
    if (timeVarying && required) errors.push({ path: `${at}/required`, message: 'a time-varying property is a series, not a required entity property' })
    const indexed = input.indexed ?? prev?.indexed ?? false
    if (indexed && (!numeric || timeVarying)) errors.push({ path: `${at}/indexed`, message: 'only static number and integer properties get a range index (equality filters on any property use the GIN index)' })
    const defaultValue = input.default !== undefined ? input.default : (prev?.defaultValue ?? null)
    if (defaultValue !== null && defaultValue !== undefined && errors.length === 0) {
      const probe = compileSchema([{ name: 'v', dataType, timeVarying: false, required: false, enumValues, minimum, maximum }])
      const problem = defaultProblem(probe, defaultValue)
      if (problem) errors.push({ path: `${at}/default`, message: problem })
    }
    if (errors.length > 0) throw new ValidationError(errors[0]!.message, errors)
    return {
      dataType,
      enumValues,
      minimum,
      maximum,
      timeVarying,
      required,
      indexed,
      defaultValue: defaultValue ?? null,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.openserver !== undefined ? { openserver: input.openserver } : {}),
    }
  }

  return { prepareUnits, resolveUnits, propertyColumns }
}
