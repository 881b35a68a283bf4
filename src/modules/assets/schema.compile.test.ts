// The schema compiler and the change classifier as pure functions: property definitions to JSON
// Schema 2020-12, each compatible and breaking kind of change (nested paths included), and Ajv
// validation with defaults and JSON-pointer errors.
import { describe, expect, it } from 'vitest'
import { ESP32_SCHEMA } from '../../../test/fixtures/esp32.ts'
import { DIALECT, canonicalJson, classifyChange, compileSchema, defaultProblem, fieldErrors, schemaProblem, validatorFor, type JsonSchema, type PropertyDefinition } from './schema.compile.ts'

const prop = (name: string, dataType: PropertyDefinition['dataType'], extra: Partial<PropertyDefinition> = {}): PropertyDefinition => ({ name, dataType, timeVarying: false, required: false, ...extra })

const ESP32: JsonSchema = ESP32_SCHEMA

let ids = 0
const validate = (schema: JsonSchema, value: Record<string, unknown>) => {
  const v = validatorFor(`test-${++ids}`, schema)
  const ok = v(value)
  return { ok, value, errors: fieldErrors(v.errors, '/properties') }
}

describe('compileSchema', () => {
  it('compiles every data type, bounds, enum, default, unit and openserver tag; time-varying properties stay out', () => {
    const s = compileSchema([
      prop('depth', 'number', { minimum: 0, maximum: 12000, unit: 'm', openserver: 'DOM.Wells[{Well1}].Depth', description: 'Total depth' }),
      prop('count', 'integer', { minimum: 1 }),
      prop('label', 'string', { required: true }),
      prop('flowing', 'boolean', { defaultValue: false }),
      prop('state', 'enum', { enumValues: ['producing', 'shut_in'], defaultValue: 'producing' }),
      prop('spudded', 'timestamp'),
      prop('extra', 'json'),
      prop('pressure', 'number', { timeVarying: true, unit: 'Pa' }),
    ])
    expect(s).toEqual({
      $schema: DIALECT,
      type: 'object',
      properties: {
        depth: { type: 'number', minimum: 0, maximum: 12000, description: 'Total depth', 'x-unit': 'm', 'x-openserver': 'DOM.Wells[{Well1}].Depth' },
        count: { type: 'integer', minimum: 1 },
        label: { type: 'string' },
        flowing: { type: 'boolean', default: false },
        state: { type: 'string', enum: ['producing', 'shut_in'], default: 'producing' },
        spudded: { type: 'string', format: 'date-time' },
        extra: {},
      },
      required: ['label'],
      additionalProperties: false,
    })
    expect(schemaProblem(s)).toBeUndefined()
  })

  it('merges static properties over a raw schema, keeping its nested structure and its openness', () => {
    const s = compileSchema([prop('serial', 'string', { required: true })], ESP32)
    expect(s.$schema).toBe(DIALECT)
    expect(s.required).toEqual(['name', 'serial'])
    expect(Object.keys(s.properties as object)).toEqual(['name', 'location', 'status', 'firmware', 'hardware', 'config', 'serial'])
    expect(s.additionalProperties).toBe(false)
    expect(compileSchema([], { type: 'object', additionalProperties: true }).additionalProperties).toBe(true)
    // The raw schema itself is not changed.
    expect(ESP32.required).toEqual(['name'])
    // A static property replaces a raw one of the same name.
    expect((compileSchema([prop('status', 'string')], ESP32).properties as Record<string, JsonSchema>).status).toEqual({ type: 'string' })
  })

  it('validates the esp32 document as the seed shows: required, enum, default, nested errors by JSON path', () => {
    const s = compileSchema([], ESP32)
    const good = validate(s, { name: 'ESP32 Device', location: 'Lab A', hardware: { model: 'ESP32-WROOM-32', sensors: [{ type: 'temperature', unit: 'celsius', range: { min: -40, max: 125 } }] } })
    expect(good.ok).toBe(true)
    expect(good.value.status).toBe('offline')
    const bad = validate(s, { location: 7, status: 'asleep', hardware: { sensors: [{ range: { min: 'low' } }] }, firmware: { lastUpdate: 'yesterday' }, colour: 'red' })
    expect(bad.ok).toBe(false)
    expect(bad.errors).toEqual(
      expect.arrayContaining([
        { path: '/properties/name', message: 'is required' },
        { path: '/properties/location', message: 'must be string' },
        { path: '/properties/status', message: 'must be one of "online", "offline", "maintenance", "error"' },
        { path: '/properties/hardware/model', message: 'is required' },
        { path: '/properties/hardware/sensors/0/range/min', message: 'must be number' },
        { path: '/properties/firmware/lastUpdate', message: expect.stringMatching(/date-time/) },
        { path: '/properties/colour', message: 'is not a property of this type' },
      ]),
    )
    expect(bad.errors).toHaveLength(7)
  })

  it('escapes JSON pointer segments in error paths', () => {
    const s = compileSchema([prop('a/b', 'string', { required: true })])
    expect(validate(s, {}).errors).toEqual([{ path: '/properties/a~1b', message: 'is required' }])
  })

  it('checks defaults against the property and reports unusable schemas', () => {
    expect(defaultProblem(compileSchema([prop('v', 'integer', { minimum: 0 })]), -1)).toMatch(/>= 0/)
    expect(defaultProblem(compileSchema([prop('v', 'enum', { enumValues: ['a'] })]), 'b')).toMatch(/must be one of "a"/)
    expect(defaultProblem(compileSchema([prop('v', 'integer')]), 3)).toBeUndefined()
    expect(schemaProblem({ type: 'object', properties: { a: { type: 'no-such-type' } } })).toBeDefined()
    expect(schemaProblem({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' })).toMatch(/2020-12/)
  })

  it('compiles a raw schema with an $id more than once (every version of a type shares it)', () => {
    const raw = { ...ESP32, $id: 'https://example.com/schemas/device.esp32' }
    const v1 = compileSchema([], raw)
    expect(schemaProblem(v1)).toBeUndefined()
    expect(schemaProblem(v1)).toBeUndefined()
    const v2 = compileSchema([prop('serial', 'string')], raw)
    expect(schemaProblem(v2)).toBeUndefined()
    expect(validate(v1, { name: 'a', serial: 'x' }).ok).toBe(false)
    expect(validate(v2, { name: 'a', serial: 'x' }).ok).toBe(true)
    // An $id naming the meta-schema is refused, and the meta-schema survives it.
    expect(schemaProblem({ $id: DIALECT, type: 'object' })).toMatch(/taken/)
    expect(schemaProblem(compileSchema([prop('x', 'string')], { $schema: DIALECT, type: 'object' }))).toBeUndefined()
  })
})

describe('classifyChange', () => {
  const base = [prop('depth', 'number', { minimum: 0, maximum: 100 }), prop('state', 'enum', { enumValues: ['a', 'b'] }), prop('label', 'string', { required: true })]
  const v1 = compileSchema(base)
  const change = (next: PropertyDefinition[], prev = v1) => classifyChange(prev, compileSchema(next))
  const kinds = (r: ReturnType<typeof classifyChange>) => r.changes.map((c) => [c.kind, c.path, c.breaking])

  it('finds no change in the same schema, whatever its key order (jsonb reorders keys)', () => {
    expect(classifyChange(v1, compileSchema(base))).toEqual({ breaking: false, changes: [] })
    const withDefault = compileSchema([prop('cfg', 'json', { defaultValue: { min: 1, max: 2 } })])
    const reordered = JSON.parse(canonicalJson(withDefault)) as JsonSchema
    expect(Object.keys(reordered)).not.toEqual(Object.keys(withDefault))
    expect(classifyChange(reordered, withDefault)).toEqual({ breaking: false, changes: [] })
    expect(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}')
  })

  it('is compatible: adding an optional property, or a required one with a default', () => {
    expect(kinds(change([...base, prop('note', 'string')]))).toEqual([['property_added', '/note', false]])
    const r = change([...base, prop('flag', 'boolean', { required: true, defaultValue: true })])
    expect(r.breaking).toBe(false)
    expect(kinds(r)).toEqual([['property_added', '/flag', false]])
  })

  it('is compatible: widening an enum, relaxing or dropping a bound, integer to number, dropping a format, making optional', () => {
    expect(kinds(change([base[0]!, prop('state', 'enum', { enumValues: ['a', 'b', 'c'] }), base[2]!]))).toEqual([['enum_widened', '/state', false]])
    expect(kinds(change([prop('depth', 'number', { minimum: -10, maximum: 100 }), base[1]!, base[2]!]))).toEqual([['bound_relaxed', '/depth', false]])
    expect(kinds(change([prop('depth', 'number', { minimum: 0 }), base[1]!, base[2]!]))).toEqual([['bound_relaxed', '/depth', false]])
    expect(kinds(change([base[0]!, base[1]!, prop('label', 'string')]))).toEqual([['property_optional', '/label', false]])
    expect(kinds(change([base[0]!, prop('state', 'string'), base[2]!]))).toEqual([['enum_widened', '/state', false]])
    const ints = compileSchema([prop('n', 'integer')])
    expect(kinds(classifyChange(ints, compileSchema([prop('n', 'number')])))).toEqual([['type_widened', '/n', false]])
    const ts = compileSchema([prop('t', 'timestamp')])
    expect(kinds(classifyChange(ts, compileSchema([prop('t', 'string')])))).toEqual([['format_removed', '/t', false]])
    expect(kinds(classifyChange(ts, compileSchema([prop('t', 'json')])))).toEqual([['type_widened', '/t', false], ['format_removed', '/t', false]])
    expect(kinds(change([base[0]!, prop('state', 'enum', { enumValues: ['a', 'b'], defaultValue: 'a' }), base[2]!]))).toEqual([['default_changed', '/state', false]])
  })

  it('is breaking: a required property without default, removing, retyping, narrowing an enum, tightening a bound', () => {
    const required = change([...base, prop('serial', 'string', { required: true })])
    expect(required.breaking).toBe(true)
    expect(kinds(required)).toEqual([['property_added', '/serial', true]])
    expect(required.changes[0]!.message).toMatch(/required property \/serial added without a default/)
    expect(kinds(change([base[0]!, base[2]!]))).toEqual([['property_removed', '/state', true]])
    expect(kinds(change([prop('depth', 'string'), base[1]!, base[2]!]))).toEqual([['type_changed', '/depth', true], ['bound_relaxed', '/depth', false], ['bound_relaxed', '/depth', false]])
    const narrowed = change([base[0]!, prop('state', 'enum', { enumValues: ['a'] }), base[2]!])
    expect(kinds(narrowed)).toEqual([['enum_narrowed', '/state', true]])
    expect(narrowed.changes[0]!.message).toMatch(/b no longer allowed/)
    expect(kinds(change([prop('depth', 'number', { minimum: 1, maximum: 100 }), base[1]!, base[2]!]))).toEqual([['bound_tightened', '/depth', true]])
    expect(kinds(change([prop('depth', 'number', { minimum: 0, maximum: 50 }), base[1]!, base[2]!]))).toEqual([['bound_tightened', '/depth', true]])
    expect(kinds(change([prop('depth', 'number', { minimum: 0, maximum: 100 }), base[1]!, prop('label', 'string', { required: true }), prop('n', 'number')], compileSchema([...base, prop('n', 'number', { required: false })])))).toEqual([])
    const made = classifyChange(compileSchema([prop('n', 'number')]), compileSchema([prop('n', 'number', { required: true })]))
    expect(kinds(made)).toEqual([['property_required', '/n', true]])
    const n2i = classifyChange(compileSchema([prop('n', 'number')]), compileSchema([prop('n', 'integer')]))
    expect(kinds(n2i)).toEqual([['type_changed', '/n', true]])
    expect(kinds(classifyChange(compileSchema([prop('s', 'string')]), compileSchema([prop('s', 'enum', { enumValues: ['x'] })])))).toEqual([['enum_narrowed', '/s', true]])
  })

  it('is breaking when a unit changes (stored values would mean something else), not when one is first set or dropped', () => {
    const pa = compileSchema([prop('p', 'number', { unit: 'Pa' })])
    expect(kinds(classifyChange(pa, compileSchema([prop('p', 'number', { unit: 'K' })])))).toEqual([['unit_changed', '/p', true]])
    expect(kinds(classifyChange(compileSchema([prop('p', 'number')]), pa))).toEqual([['unit_set', '/p', false]])
    expect(kinds(classifyChange(pa, compileSchema([prop('p', 'number')])))).toEqual([['unit_set', '/p', false]])
  })

  it('classifies nested raw-schema changes with their JSON paths', () => {
    const clone = () => structuredClone(ESP32) as any
    const v = compileSchema([], ESP32)

    const widened = clone()
    widened.properties.status.enum.push('rebooting')
    expect(kinds(classifyChange(v, compileSchema([], widened)))).toEqual([['enum_widened', '/status', false]])

    const nested = clone()
    nested.properties.hardware.required.push('macAddress')
    const r = classifyChange(v, compileSchema([], nested))
    expect(kinds(r)).toEqual([['property_required', '/hardware/macAddress', true]])

    const deep = clone()
    deep.properties.hardware.properties.sensors.items.properties.range.properties.min.type = 'string'
    expect(kinds(classifyChange(v, compileSchema([], deep)))).toEqual([['type_changed', '/hardware/sensors/items/range/min', true]])

    const bounded = clone()
    bounded.properties.config.properties.readingInterval.minimum = 60
    expect(kinds(classifyChange(v, compileSchema([], bounded)))).toEqual([['bound_tightened', '/config/readingInterval', true]])

    const relaxed = clone()
    delete relaxed.properties.config.properties.readingInterval.minimum
    expect(kinds(classifyChange(v, compileSchema([], relaxed)))).toEqual([['bound_relaxed', '/config/readingInterval', false]])

    // Nested objects are open (no additionalProperties): a new member there may clash with what entities already hold.
    const added = clone()
    added.properties.firmware.properties.channel = { type: 'string' }
    expect(kinds(classifyChange(v, compileSchema([], added)))).toEqual([['property_added', '/firmware/channel', true]])
    // ...and removing one from an open object only drops its checks.
    const removed = clone()
    delete removed.properties.firmware.properties.version
    expect(kinds(classifyChange(v, compileSchema([], removed)))).toEqual([['property_removed', '/firmware/version', false]])

    const closed = clone()
    closed.properties.firmware.additionalProperties = false
    expect(kinds(classifyChange(v, compileSchema([], closed)))).toEqual([['closed', '/firmware', true]])
    expect(kinds(classifyChange(compileSchema([], closed), v))).toEqual([['opened', '/firmware', false]])

    const opened = clone()
    opened.additionalProperties = true
    expect(kinds(classifyChange(v, compileSchema([], opened)))).toEqual([['opened', '/', false]])

    const unknownKeyword = clone()
    unknownKeyword.properties.hardware.allOf = [{ required: ['macAddress'] }]
    expect(kinds(classifyChange(v, compileSchema([], unknownKeyword)))).toEqual([['keyword_changed', '/hardware', true]])
  })
})
