// Demo data for `stratum seed --demo`: the seeds' own examples, in the organisations identity's
// demo creates (Acme Research Labs and BioTech Innovations, found here through their mirror
// entities). Seed 000: object types Well and Compressor with unit categories and OpenServer tags,
// Well-12 in a Field -> Platform -> Well tree. Seed 001: ESP32 devices validated by the seed's
// device.esp32 document, an oven they monitor, the projects Bioreactor Optimization and
// Fermentation Development, and the relationships monitors, owns, manages, participates_in.
// Safe to run twice: an organisation that already has the Well type is left alone.
import { and, eq, like } from 'drizzle-orm'
import { newId } from '../../core/behaviours/columns.ts'
import { systemContext, type RequestContext } from '../../core/context.ts'
import type { ModuleDeps } from '../index.ts'
import { entities, objectTypes, relationships } from './assets.schema.ts'
import type { Assets } from './index.ts'
import type { NewObjectType } from './objectTypes.service.ts'
import type { JsonSchema } from './schema.compile.ts'

/** Seed 001's device.esp32 document as JSON Schema 2020-12: required name and hardware.model, the status enum with its default. */
export const ESP32_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string' },
    location: { type: 'string' },
    status: { type: 'string', enum: ['online', 'offline', 'maintenance', 'error'], default: 'offline' },
    firmware: { type: 'object', properties: { version: { type: 'string' }, lastUpdate: { type: 'string', format: 'date-time' } } },
    hardware: {
      type: 'object',
      required: ['model'],
      properties: {
        model: { type: 'string' },
        macAddress: { type: 'string' },
        sensors: {
          type: 'array',
          items: {
            type: 'object',
            properties: { type: { type: 'string' }, unit: { type: 'string' }, range: { type: 'object', properties: { min: { type: 'number' }, max: { type: 'number' } } } },
          },
        },
      },
    },
    config: {
      type: 'object',
      properties: {
        readingInterval: { type: 'integer', minimum: 1 },
        alertThresholds: { type: 'object', additionalProperties: { type: 'object', properties: { min: { type: 'number' }, max: { type: 'number' } } } },
      },
    },
  },
  additionalProperties: false,
}

/** An ESP32's properties as seed 001 shows them. */
export const esp32Document = (name: string, location: string, mac: string) => ({
  name,
  location,
  status: 'online',
  firmware: { version: '1.0.0', lastUpdate: '2024-03-20T10:00:00Z' },
  hardware: { model: 'ESP32-WROOM-32', macAddress: mac, sensors: [{ type: 'temperature', unit: 'celsius', range: { min: -40, max: 125 } }] },
  config: { readingInterval: 300, alertThresholds: { temperature: { min: 15, max: 30 } } },
})

export const DEMO_TYPES: NewObjectType[] = [
  { name: 'Field', description: 'An oil field', properties: [{ name: 'country', data_type: 'string' }, { name: 'operator', data_type: 'string' }] },
  { name: 'Platform', description: 'A production platform', properties: [{ name: 'water_depth', data_type: 'number', unit_category: 'Length', minimum: 0 }, { name: 'installed', data_type: 'timestamp' }] },
  {
    name: 'Well',
    description: 'A producing well (seed 000 ObjectType)',
    properties: [
      { name: 'measured_depth', data_type: 'number', unit_category: 'Measured Depth', display_unit: 'ft', minimum: 0 },
      { name: 'status', data_type: 'enum', enum_values: ['producing', 'shut_in', 'abandoned'], default: 'producing' },
      { name: 'api_number', data_type: 'string' },
      { name: 'tubing_head_pressure', data_type: 'number', time_varying: true, unit_category: 'Tubing Head Pressure', openserver: 'GAP.MOD[{PROD}].WELL[{Well-12}].THP' },
      { name: 'oil_rate', data_type: 'number', time_varying: true, unit_category: 'Oil Rate', openserver: 'GAP.MOD[{PROD}].WELL[{Well-12}].SolverResults[0].OilRate' },
    ],
  },
  {
    name: 'Compressor',
    description: 'A gas compressor (seed 000 ObjectType)',
    properties: [
      { name: 'manufacturer', data_type: 'string' },
      { name: 'rated_power', data_type: 'number', unit_category: 'Power', minimum: 0 },
      { name: 'discharge_pressure', data_type: 'number', time_varying: true, unit_category: 'Pressure', openserver: 'GAP.MOD[{PROD}].COMP[{K-101}].DischargePressure' },
    ],
  },
  { name: 'device', description: 'The device family' },
  {
    name: 'device.esp32',
    description: 'An ESP32 sensor node (seed 001)',
    schema: ESP32_SCHEMA,
    // What its readings measure (seed 001 sensor.reading `sensorType`): series, not document properties.
    properties: [
      { name: 'temperature', data_type: 'number', time_varying: true, unit_category: 'Temperature' },
      { name: 'humidity', data_type: 'number', time_varying: true },
    ],
  },
  { name: 'equipment.oven', description: 'Production equipment a device monitors', properties: [{ name: 'model', data_type: 'string' }, { name: 'max_temperature', data_type: 'number', unit_category: 'Temperature' }] },
  {
    name: 'project',
    description: 'A research project (seed 001)',
    properties: [
      { name: 'start_date', data_type: 'string' },
      { name: 'end_date', data_type: 'string' },
      { name: 'budget', data_type: 'string' },
      { name: 'progress_percentage', data_type: 'integer', minimum: 0, maximum: 100, default: 0 },
      { name: 'priority', data_type: 'enum', enum_values: ['low', 'medium', 'high'], default: 'medium' },
      { name: 'tags', data_type: 'json' },
      { name: 'settings', data_type: 'json' },
    ],
  },
]

export async function seedAssetsDemo(deps: ModuleDeps, assets: Assets): Promise<{ created: number }> {
  const orgs = await deps.database.db
    .select({ organizationId: entities.organizationId, name: entities.name })
    .from(entities)
    .where(like(entities.externalId, 'organization:%'))
  let created = 0
  for (const org of orgs.filter((o) => o.name === 'Acme Research Labs' || o.name === 'BioTech Innovations')) {
    const ctx = systemContext({ organizationId: org.organizationId })
    const [done] = await deps.database.db.select({ id: objectTypes.id }).from(objectTypes).where(and(eq(objectTypes.organizationId, org.organizationId), eq(objectTypes.name, 'Well')))
    if (done) continue
    created += await seedOrganization(deps, assets, ctx, org.name === 'Acme Research Labs')
  }
  return { created }
}

async function seedOrganization(deps: ModuleDeps, assets: Assets, ctx: RequestContext, acme: boolean): Promise<number> {
  for (const t of DEMO_TYPES) await assets.types.createType(ctx, t)
  const items = acme
    ? [
        { type: 'Field', name: 'North Field', properties: { country: 'Norway', operator: 'Acme' } },
        { type: 'Platform', name: 'Platform A', properties: { water_depth: 110, installed: '2019-06-01T00:00:00Z' } },
        { type: 'Well', name: 'Well-12', external_id: 'well-12', properties: { measured_depth: 3048, api_number: '42-501-20130' } },
        { type: 'Well', name: 'Well-7', external_id: 'well-7', properties: { measured_depth: 2590.8, status: 'shut_in' } },
        { type: 'Compressor', name: 'K-101', properties: { manufacturer: 'Siemens', rated_power: 4_500_000 } },
        { type: 'device.esp32', name: 'ESP32 Device', external_id: 'esp32-device-001', properties: esp32Document('ESP32 Device', 'Lab A', '24:6F:28:00:00:01') },
        { type: 'device.esp32', name: 'ESP32 Device 2', external_id: 'esp32-device-002', properties: esp32Document('ESP32 Device 2', 'Lab B', '24:6F:28:00:00:02') },
        { type: 'equipment.oven', name: 'Oven 1', properties: { model: 'Bake-3000', max_temperature: 573.15 } },
        {
          type: 'project',
          name: 'Bioreactor Optimization',
          properties: { start_date: '2024-01-15', end_date: '2024-06-15', budget: '$50,000', progress_percentage: 25, priority: 'high', tags: ['optimization', 'bioreactor'], settings: { data_retention_days: 365, alert_thresholds: { temperature: { min: 20, max: 30 } } } },
        },
      ]
    : [
        { type: 'device.esp32', name: 'ESP32 Fermenter Probe', external_id: 'esp32-device-101', properties: esp32Document('ESP32 Fermenter Probe', 'Fermentation Hall', '24:6F:28:00:01:01') },
        {
          type: 'project',
          name: 'Fermentation Development',
          properties: { start_date: '2024-02-01', end_date: '2024-09-30', budget: '$80,000', progress_percentage: 10, priority: 'medium', tags: ['fermentation'], settings: { data_retention_days: 730 } },
        },
      ]
  const result = await assets.entities.bulkUpsert(ctx, items)
  const id = (name: string) => result.items[items.findIndex((i) => i.name === name)]!.id
  await deps.database.transaction(async (tx) => {
    const mirror = async (prefix: string) => (await tx.select().from(entities).where(and(eq(entities.organizationId, ctx.organizationId!), like(entities.externalId, `${prefix}:%`))))[0]!
    const org = await mirror('organization')
    const user = await mirror('user')
    const links: [string, string, string, Record<string, unknown>?][] = acme
      ? [
          [id('Platform A'), id('North Field'), 'part_of'],
          [id('Well-12'), id('Platform A'), 'part_of'],
          [id('Well-7'), id('Platform A'), 'part_of'],
          [id('K-101'), id('Platform A'), 'part_of'],
          [id('ESP32 Device'), id('Oven 1'), 'monitors', { sensor: 'temperature' }],
          [org.id, id('ESP32 Device'), 'owns'],
          [org.id, id('ESP32 Device 2'), 'owns'],
          [user.id, id('Bioreactor Optimization'), 'manages'],
          [user.id, id('Bioreactor Optimization'), 'participates_in', { role: 'lead scientist' }],
        ]
      : [
          [org.id, id('ESP32 Fermenter Probe'), 'owns'],
          [user.id, id('Fermentation Development'), 'participates_in'],
        ]
    const validFrom = new Date('2024-01-01T00:00:00Z')
    const rows = links.map(([from, to, type, properties]) => ({ id: newId(), organizationId: ctx.organizationId!, fromEntityId: from, toEntityId: to, relationshipType: type, properties: properties ?? {}, validFrom, createdBy: 'demo' }))
    await tx.insert(relationships).values(rows)
    await deps.events.appendEvents(
      tx,
      ctx,
      rows.map((r) => ({ type: 'relationship.created', entityType: 'relationship', entityId: r.id, data: { from_entity_id: r.fromEntityId, to_entity_id: r.toEntityId, relationship_type: r.relationshipType, demo: true } })),
    )
    return rows.length
  })
  return DEMO_TYPES.length + items.length + (acme ? 9 : 2)
}
