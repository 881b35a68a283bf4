// An object type's JSON Schema (2020-12): compiled from its static property definitions, merged
// over an optional raw schema (for nested structures like the seed-001 `device.esp32`
// document), and compared with the previous version to classify the change. Pure functions; the
// service stores the results.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { DataType } from './assets.schema.ts'

export const DIALECT = 'https://json-schema.org/draft/2020-12/schema'

export type JsonSchema = Record<string, unknown>

/** What the compiler needs from a property definition. */
export interface PropertyDefinition {
  name: string
  description?: string | null
  dataType: DataType
  timeVarying: boolean
  required: boolean
  defaultValue?: unknown
  enumValues?: string[] | null
  minimum?: number | null
  maximum?: number | null
  /** The base unit's symbol, when the property has a unit category. */
  unit?: string | null
  openserver?: string | null
}

function propertySchema(p: PropertyDefinition): JsonSchema {
  const s: JsonSchema = {}
  switch (p.dataType) {
    case 'number':
    case 'integer':
      s.type = p.dataType
      if (p.minimum != null) s.minimum = p.minimum
      if (p.maximum != null) s.maximum = p.maximum
      break
    case 'string':
      s.type = 'string'
      break
    case 'boolean':
      s.type = 'boolean'
      break
    case 'enum':
      s.type = 'string'
      s.enum = [...(p.enumValues ?? [])]
      break
    case 'timestamp':
      s.type = 'string'
      s.format = 'date-time'
      break
    case 'json':
      break
  }
  if (p.description) s.description = p.description
  if (p.defaultValue !== undefined && p.defaultValue !== null) s.default = p.defaultValue
  if (p.unit) s['x-unit'] = p.unit
  if (p.openserver) s['x-openserver'] = p.openserver
  return s
}

/**
 * The type's schema: the raw schema (if any) with the static properties merged into its
 * `properties` and `required`. Unknown properties are refused unless the raw schema says
 * otherwise.
 */
export function compileSchema(properties: PropertyDefinition[], raw?: JsonSchema | null): JsonSchema {
  const base: JsonSchema = raw ? structuredClone(raw) : {}
  const props: Record<string, JsonSchema> = { ...((base.properties as Record<string, JsonSchema> | undefined) ?? {}) }
  const required = new Set<string>((base.required as string[] | undefined) ?? [])
  for (const p of properties) {
    if (p.timeVarying) continue
    props[p.name] = propertySchema(p)
    if (p.required) required.add(p.name)
  }
  const { $schema: _s, type: _t, properties: _p, required: _r, additionalProperties, ...rest } = base
  return {
    $schema: DIALECT,
    type: 'object',
    ...rest,
    properties: props,
    ...(required.size > 0 ? { required: [...required].sort() } : {}),
    additionalProperties: additionalProperties ?? false,
  }
}

// ---------------------------------------------------------------------------------------------
// Change classification
// ---------------------------------------------------------------------------------------------

export interface SchemaChange {
  kind: string
  /** JSON Pointer into the entity's properties (`/hardware/model`). */
  path: string
  breaking: boolean
  message: string
}

const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const

const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v)
const typesOf = (s: JsonSchema): string[] | undefined => (s.type === undefined ? undefined : Array.isArray(s.type) ? (s.type as string[]) : [s.type as string])
/**
 * JSON with object keys sorted: PostgreSQL's jsonb does not keep key order, so a document read
 * back from the database must not differ from the same document as written.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v))
}
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b)

/** Does every value of type set `from` also satisfy `to`? (integer fits number.) */
function typesWiden(from: string[] | undefined, to: string[] | undefined): boolean {
  if (to === undefined) return true
  if (from === undefined) return false
  return from.every((t) => to.includes(t) || (t === 'integer' && to.includes('number')))
}

function compare(prev: JsonSchema, next: JsonSchema, path: string, out: SchemaChange[]) {
  const add = (kind: string, breaking: boolean, message: string, at = path) => out.push({ kind, path: at || '/', breaking, message })
  const where = path || 'the document'

  const pt = typesOf(prev)
  const nt = typesOf(next)
  if (!same(pt, nt)) {
    const widened = typesWiden(pt, nt)
    add(widened ? 'type_widened' : 'type_changed', !widened, `type of ${where} changed from ${pt?.join('|') ?? 'any'} to ${nt?.join('|') ?? 'any'}`)
  }
  if (!same(prev.format, next.format)) {
    const relaxed = next.format === undefined
    add(relaxed ? 'format_removed' : 'format_changed', !relaxed, `format of ${where} changed from ${String(prev.format ?? 'none')} to ${String(next.format ?? 'none')}`)
  }
  if (!same(prev.enum, next.enum)) {
    const pe = prev.enum as unknown[] | undefined
    const ne = next.enum as unknown[] | undefined
    const widened = ne === undefined || (pe !== undefined && pe.every((v) => ne.some((w) => same(v, w))))
    add(widened ? 'enum_widened' : 'enum_narrowed', !widened, widened ? `enum of ${where} widened` : `enum of ${where} narrowed: ${pe ? pe.filter((v) => !ne!.some((w) => same(v, w))).map(String).join(', ') || 'values' : 'values'} no longer allowed`)
  }
  if (!same(prev.const, next.const)) add('const_changed', next.const !== undefined, `const of ${where} changed`)
  if (!same(prev.pattern, next.pattern)) add('pattern_changed', next.pattern !== undefined, `pattern of ${where} changed`)
  for (const k of LOWER_BOUNDS) {
    const a = prev[k] as number | undefined
    const b = next[k] as number | undefined
    if (a === b) continue
    const relaxed = b === undefined || (a !== undefined && b < a)
    add(relaxed ? 'bound_relaxed' : 'bound_tightened', !relaxed, `${k} of ${where} changed from ${a ?? 'none'} to ${b ?? 'none'}`)
  }
  for (const k of UPPER_BOUNDS) {
    const a = prev[k] as number | undefined
    const b = next[k] as number | undefined
    if (a === b) continue
    const relaxed = b === undefined || (a !== undefined && b > a)
    add(relaxed ? 'bound_relaxed' : 'bound_tightened', !relaxed, `${k} of ${where} changed from ${a ?? 'none'} to ${b ?? 'none'}`)
  }
  if (!same(prev.default, next.default)) add('default_changed', false, `default of ${where} changed`)
  // Stored values are in the unit: a different unit makes every stored value mean something else.
  if (prev['x-unit'] !== next['x-unit']) {
    const changed = prev['x-unit'] !== undefined && next['x-unit'] !== undefined
    add(changed ? 'unit_changed' : 'unit_set', changed, `unit of ${where} changed from ${String(prev['x-unit'] ?? 'none')} to ${String(next['x-unit'] ?? 'none')}`)
  }

  // Object members.
  const pp = (isObject(prev.properties) ? prev.properties : {}) as Record<string, JsonSchema>
  const np = (isObject(next.properties) ? next.properties : {}) as Record<string, JsonSchema>
  const preq = new Set((prev.required as string[] | undefined) ?? [])
  const nreq = new Set((next.required as string[] | undefined) ?? [])
  const closed = (s: JsonSchema) => s.additionalProperties === false || s.unevaluatedProperties === false
  for (const name of Object.keys(np)) {
    const at = `${path}/${escape(name)}`
    if (!(name in pp)) {
      const requiredWithoutDefault = nreq.has(name) && np[name]!.default === undefined
      // Was the name free-form before? Then existing documents may hold anything there.
      const wasOpen = !closed(prev)
      add('property_added', requiredWithoutDefault || wasOpen, requiredWithoutDefault ? `required property ${at} added without a default` : wasOpen ? `property ${at} now has a schema (it was free-form)` : `optional property ${at} added`, at)
      continue
    }
    compare(pp[name]!, np[name]!, at, out)
  }
  for (const name of Object.keys(pp)) {
    if (!(name in np)) {
      const at = `${path}/${escape(name)}`
      // Removing a property from a closed schema makes documents holding it invalid; from an open one it only drops its checks.
      add('property_removed', closed(next), `property ${at} removed`, at)
    }
  }
  for (const name of nreq) {
    if (preq.has(name) || !(name in pp)) continue
    const at = `${path}/${escape(name)}`
    add('property_required', np[name]?.default === undefined, `property ${at} became required${np[name]?.default === undefined ? '' : ' (with a default)'}`, at)
  }
  for (const name of preq) if (!nreq.has(name)) add('property_optional', false, `property ${path}/${escape(name)} became optional`, `${path}/${escape(name)}`)
  if (closed(prev) !== closed(next)) add(closed(next) ? 'closed' : 'opened', closed(next), closed(next) ? `${where} no longer accepts unknown properties` : `${where} now accepts unknown properties`)
  else if (isObject(prev.additionalProperties) || isObject(next.additionalProperties)) {
    if (isObject(prev.additionalProperties) && isObject(next.additionalProperties)) compare(prev.additionalProperties, next.additionalProperties, `${path}/*`, out)
    else add('additional_properties_changed', isObject(next.additionalProperties), `schema of unknown properties of ${where} changed`)
  }

  // Array items.
  if (isObject(prev.items) && isObject(next.items)) compare(prev.items, next.items, `${path}/items`, out)
  else if (!same(prev.items, next.items)) add('items_changed', next.items !== undefined, `items of ${where} changed`)

  // Anything else we do not reason about (allOf, $ref, if/then...): a change is treated as breaking.
  const known = new Set(['$schema', '$id', 'type', 'format', 'enum', 'const', 'pattern', ...LOWER_BOUNDS, ...UPPER_BOUNDS, 'default', 'properties', 'required', 'additionalProperties', 'unevaluatedProperties', 'items', 'description', 'title', 'examples', 'x-unit', 'x-openserver', '$comment'])
  for (const k of new Set([...Object.keys(prev), ...Object.keys(next)])) {
    if (known.has(k) || same(prev[k], next[k])) continue
    add('keyword_changed', true, `${k} of ${where} changed (treated as breaking)`)
  }
}

const escape = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1')

/** The differences between two versions of a schema, and whether any of them is breaking. */
export function classifyChange(prev: JsonSchema, next: JsonSchema): { breaking: boolean; changes: SchemaChange[] } {
  const changes: SchemaChange[] = []
  compare(prev, next, '', changes)
  return { breaking: changes.some((c) => c.breaking), changes }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/**
 * Ajv for entity properties: JSON Schema 2020-12, every error reported, defaults filled in
 * (`useDefaults`), formats checked. `x-unit` and `x-openserver` are annotations.
 */
function createAjv() {
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, validateFormats: true })
  ;(addFormats as unknown as (a: Ajv2020) => void)(ajv)
  ajv.addVocabulary(['x-unit', 'x-openserver'])
  return ajv
}

const ajv = createAjv()
const compiled = new Map<string, ValidateFunction>()

/**
 * Compiles without leaving the schema registered in Ajv: every version of a type (and every
 * check of it) is a new object with the same `$id`, which Ajv would otherwise refuse as
 * "already exists" from the second compile on, and whose compiled copies it would keep forever.
 */
function compileDetached(definition: JsonSchema): ValidateFunction {
  const id = typeof definition.$id === 'string' ? definition.$id : undefined
  // Removing by $id must not take a schema Ajv holds itself (the 2020-12 meta-schemas) with it.
  if (id !== undefined && ajv.getSchema(id)) throw new Error(`$id ${id} is taken by a schema the validator holds`)
  try {
    return ajv.compile(definition)
  } finally {
    ajv.removeSchema(definition)
  }
}

/** Checks that `definition` is a schema Ajv can compile; returns the error message otherwise. */
export function schemaProblem(definition: JsonSchema): string | undefined {
  try {
    if (definition.$schema !== undefined && definition.$schema !== DIALECT) return `$schema must be ${DIALECT}`
    compileDetached(definition)
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** A validator for a stored schema version, compiled once per process (versions never change). */
export function validatorFor(schemaId: string, definition: JsonSchema): ValidateFunction {
  let v = compiled.get(schemaId)
  if (!v) {
    if (compiled.size > 5000) compiled.clear()
    v = compileDetached(definition)
    compiled.set(schemaId, v)
  }
  return v
}

/** Why `value` is not a valid default for the single property `v` of `probe`; undefined when it is. */
export function defaultProblem(probe: JsonSchema, value: unknown): string | undefined {
  const v = compileDetached(probe)
  if (v({ v: structuredClone(value) })) return undefined
  return fieldErrors(v.errors, '')[0]?.message ?? 'is not a valid value of this property'
}

/** Ajv's errors as field errors, each a JSON Pointer under `prefix` naming the offending value. */
export function fieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): { path: string; message: string }[] {
  return (errors ?? []).map((e) => {
    let path = e.instancePath
    let message = e.message ?? 'is not valid'
    if (e.keyword === 'required') {
      path += `/${escape(String((e.params as { missingProperty: string }).missingProperty))}`
      message = 'is required'
    } else if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const extra = (e.params as { additionalProperty?: string; unevaluatedProperty?: string }).additionalProperty ?? (e.params as { unevaluatedProperty?: string }).unevaluatedProperty
      path += `/${escape(String(extra))}`
      message = 'is not a property of this type'
    } else if (e.keyword === 'enum') {
      message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`
    }
    return { path: `${prefix}${path}`, message }
  })
}
