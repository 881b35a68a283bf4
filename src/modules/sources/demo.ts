// Demo data for `stratum seed --demo`, in Acme Research Labs where the assets demo puts Well-12:
// the data sources of a well study (field measurements in, forecasts out, an allocation process),
// two scenarios over 2026, and daily facts for Well-12 from each forecast run and from Vendor A.
// Everything goes through the services, so events are written as for any other caller.
//
// The four-eyes rule is kept, not bypassed: the identity demo's owner (demo@stratum.example)
// creates and submits the scenarios, and a second member, reviewer@stratum.example (admin, so
// holding scenarios:approve), is made here to approve Base Case. High Water Cut stays a draft.
//
// Safe to run twice: each record is looked up by name before it is made, facts are written only
// for a component that has no Well-12 series yet, and logs only for a scenario that has none.
import { and, eq, sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { NotFoundError } from '../../core/errors.ts'
import { createAssets, type Assets } from '../assets/index.ts'
import { createIdentity } from '../identity/index.ts'
import type { ModuleDeps } from '../index.ts'
import type { FactItem } from '../measurements/facts.service.ts'
import { createMeasurements } from '../measurements/index.ts'
import { convert, createUnitsModule } from '../units/index.ts'
import type { Sources } from './index.ts'
import { dataSources, scenarioLogs, scenarios, type DataSourceType } from './sources.schema.ts'

/** The organisation (its slug) and the member the identity demo makes. */
export const DEMO_ORGANIZATION = 'acme-research-labs'
export const DEMO_EMAIL = 'demo@stratum.example'
export const REVIEWER_EMAIL = 'reviewer@stratum.example'
export const WELL = 'Well-12'

export const DEMO_SOURCES: { name: string; type: DataSourceType; description: string; components: { name: string; description: string }[] }[] = [
  {
    name: 'Field measurements',
    type: 'INPUT',
    description: 'Measured well rates and water cut, as the well-test vendors deliver them',
    components: [
      { name: 'Vendor A', description: 'Daily well tests, first half of 2026' },
      { name: 'Vendor B', description: 'Second vendor (no deliveries yet)' },
    ],
  },
  {
    name: 'Forecast',
    type: 'OUTPUT',
    description: 'Production forecasts from the reservoir model',
    components: [
      { name: 'Model run 1', description: 'Reference decline: water cut 20% rising to 40% over 2026' },
      { name: 'Model run 2', description: 'Early water breakthrough: water cut 20% rising to 65% over 2026' },
    ],
  },
  { name: 'Allocation', type: 'PROCESS', description: 'Back-allocation of measured field totals to wells', components: [{ name: 'Daily allocation', description: 'Daily allocation run' }] },
]

const YEAR_START = Date.UTC(2026, 0, 1)
const DAYS = 365
/** Vendor A measured the first half of the year (1 January to 30 June). */
const MEASURED_DAYS = 181

/**
 * A forecast run: liquid rate declining exponentially (rate per year), water cut rising linearly
 * over the year; oil = liquid x (1 - water cut). Water cut is a fraction of the liquid, 0 to 1.
 */
export const FORECAST_RUNS = {
  'Model run 1': { liquid: 1500, decline: 0.1, waterCutFrom: 0.2, waterCutTo: 0.4 },
  'Model run 2': { liquid: 1500, decline: 0.15, waterCutFrom: 0.2, waterCutTo: 0.65 },
} as const

export function forecast(run: keyof typeof FORECAST_RUNS, day: number): { oilRate: number; waterCut: number } {
  const r = FORECAST_RUNS[run]
  const t = day / DAYS
  const waterCut = r.waterCutFrom + (r.waterCutTo - r.waterCutFrom) * t
  return { oilRate: r.liquid * Math.exp(-r.decline * t) * (1 - waterCut), waterCut }
}

/** A fixed pseudo-random sequence (mulberry32), so the "measurements" are the same on every run. */
function noise(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return (((x ^ (x >>> 14)) >>> 0) / 4294967296) * 2 - 1
  }
}

/** Vendor A's tests: Model run 1 with +-5% on oil and +-0.02 on water cut. */
export function measured(day: number, next: () => number): { oilRate: number; waterCut: number } {
  const f = forecast('Model run 1', day)
  return { oilRate: Math.round(f.oilRate * (1 + 0.05 * next()) * 10) / 10, waterCut: Math.round(Math.min(1, Math.max(0, f.waterCut + 0.02 * next())) * 1000) / 1000 }
}

const date = (day: number) => new Date(YEAR_START + day * 86_400_000).toISOString()

export const DEMO_SCENARIOS = [
  {
    name: 'Base Case',
    description: 'Well-12 on the reference decline (Model run 1), checked against Vendor A tests',
    components: ['Field measurements/Vendor A', 'Forecast/Model run 1'],
    approve: true,
    logs: [
      { level: 'info', progress: 0, message: `Checking inputs for ${WELL}, ${date(0).slice(0, 10)} to 2027-01-01` },
      { level: 'info', progress: 40, message: `Field measurements/Vendor A: ${MEASURED_DAYS} daily oil_rate and water_cut tests, ${date(0).slice(0, 10)} to ${date(MEASURED_DAYS - 1).slice(0, 10)}` },
      { level: 'info', progress: 80, message: `Forecast/Model run 1: ${DAYS} daily values, water cut ${FORECAST_RUNS['Model run 1'].waterCutFrom * 100}% to ${FORECAST_RUNS['Model run 1'].waterCutTo * 100}%` },
      { level: 'warning', progress: 90, message: `Vendor A has no tests after ${date(MEASURED_DAYS - 1).slice(0, 10)}: the second half of the year is forecast only` },
      { level: 'info', progress: 100, message: 'Inputs complete; submitting for approval' },
    ],
  },
  {
    name: 'High Water Cut',
    description: 'Well-12 with early water breakthrough (Model run 2)',
    components: ['Field measurements/Vendor A', 'Forecast/Model run 2'],
    approve: false,
    logs: [
      { level: 'info', progress: 0, message: `Draft: Model run 2 assumes water cut rising to ${FORECAST_RUNS['Model run 2'].waterCutTo * 100}% by year end` },
      { level: 'info', progress: 50, message: `Forecast/Model run 2: ${DAYS} daily values loaded; to be reviewed with reservoir engineering` },
    ],
  },
] as const

const PERIOD = { period_start: '2026-01-01T00:00:00.000Z', period_end: '2027-01-01T00:00:00.000Z' }

export async function seedSourcesDemo(deps: ModuleDeps, s: Sources): Promise<{ created: number; notes?: string[] }> {
  const identity = createIdentity(deps)
  try {
    const demo = await identity.operators.actAs(DEMO_EMAIL, DEMO_ORGANIZATION).catch((err) => (err instanceof NotFoundError ? null : Promise.reject(err)))
    if (!demo) return { created: 0, notes: [`no ${DEMO_ORGANIZATION} organisation with ${DEMO_EMAIL} in it: sources demo skipped`] }
    let created = 0
    const notes: string[] = []

    // The second pair of eyes: a member who may approve what demo@ submits.
    let reviewer = await identity.operators.actAs(REVIEWER_EMAIL, DEMO_ORGANIZATION).catch((err) => (err instanceof NotFoundError ? null : Promise.reject(err)))
    if (!reviewer) {
      const made = await identity.operators.createUser({ email: REVIEWER_EMAIL, organization: DEMO_ORGANIZATION, role: 'admin', username: 'reviewer' })
      created += made.created ? 2 : 1
      if (made.password) notes.push(`sign in as ${REVIEWER_EMAIL} with password ${made.password} (admin of ${DEMO_ORGANIZATION}: approves scenarios)`)
      reviewer = await identity.operators.actAs(REVIEWER_EMAIL, DEMO_ORGANIZATION)
    }

    const assets = createAssets(deps)
    created += await ensureWell(deps, assets, demo)

    const componentIds = new Map<string, string>()
    for (const source of DEMO_SOURCES) {
      const [existing] = await deps.database.db.select().from(dataSources).where(and(eq(dataSources.organizationId, demo.organizationId!), sql`lower(${dataSources.name}) = lower(${source.name})`))
      const sourceId = existing?.id ?? (await s.sources.createSource(demo, { name: source.name, type: source.type, description: source.description })).id
      if (!existing) created++
      for (const c of source.components) {
        const ref = `${source.name}/${c.name}`
        const found = await s.sources.findComponent(deps.database.db, demo, ref)
        componentIds.set(ref, found?.id ?? (await s.sources.createComponent(demo, sourceId, c)).id)
        if (!found) created++
      }
    }

    const facts = await writeFacts(deps, assets, demo, componentIds)
    created += facts.series
    if (facts.points > 0) notes.push(`${facts.points} facts for ${WELL} (oil_rate, water_cut) from Forecast/Model run 1 and 2 and Field measurements/Vendor A`)

    for (const plan of DEMO_SCENARIOS) {
      const [existing] = await deps.database.db.select().from(scenarios).where(and(eq(scenarios.organizationId, demo.organizationId!), sql`lower(${scenarios.name}) = lower(${plan.name})`))
      const id = existing?.id ?? (await s.scenarios.create(demo, { name: plan.name, description: plan.description, ...PERIOD })).id
      if (!existing) created++
      let scenario = await s.scenarios.get(demo, id)
      if (scenario.status === 'draft') {
        for (const ref of plan.components) {
          const componentId = componentIds.get(ref)!
          if (scenario.components?.some((l) => l.component_id === componentId)) continue
          await s.scenarios.linkComponent(demo, id, componentId)
          created++
        }
      }
      const [logged] = await deps.database.db.select({ n: sql<number>`count(*)::int` }).from(scenarioLogs).where(and(eq(scenarioLogs.organizationId, demo.organizationId!), eq(scenarioLogs.scenarioId, id)))
      if (logged!.n === 0) {
        for (const line of plan.logs) await s.scenarios.writeLog(demo, id, line)
        created += plan.logs.length
      }
      if (!plan.approve) continue
      if (scenario.status === 'draft') scenario = await s.scenarios.act(demo, id, 'submit')
      if (scenario.status === 'submitted') await s.scenarios.act(reviewer, id, 'approve')
    }
    return { created, ...(notes.length ? { notes } : {}) }
  } finally {
    await identity.authenticator.close?.()
  }
}

/** Well-12 with time-varying oil_rate and water_cut: the assets demo's Well, given water_cut when it lacks it. */
async function ensureWell(deps: ModuleDeps, assets: Assets, ctx: RequestContext): Promise<number> {
  let created = 0
  const wellType = await assets.types.findType(deps.database.db, ctx, 'Well').catch((err) => (err instanceof NotFoundError ? null : Promise.reject(err)))
  if (!wellType) {
    await assets.types.createType(ctx, { name: 'Well', description: 'A producing well (seed 000 ObjectType)' })
    created++
  }
  const props = (await assets.types.listProperties(ctx, 'Well')).data
  if (!props.some((p) => p.name === 'oil_rate')) {
    await assets.types.addProperty(ctx, 'Well', { name: 'oil_rate', data_type: 'number', time_varying: true, unit_category: 'Oil Rate' })
    created++
  }
  if (!props.some((p) => p.name === 'water_cut')) {
    await assets.types.addProperty(ctx, 'Well', { name: 'water_cut', description: 'Water as a fraction of the produced liquid (0 to 1)', data_type: 'number', time_varying: true, minimum: 0, maximum: 1 })
    created++
  }
  const found = await assets.entities.findByNames(deps.database.db, ctx, [WELL])
  if (!found.some((f) => f.type.name === 'Well')) {
    await assets.entities.create(ctx, { type: 'Well', name: WELL, external_id: 'well-12' })
    created++
  }
  return created
}

/** Daily facts for Well-12, per component that has no Well-12 series yet; oil rates given in bbl/d and stored in the property's unit. */
async function writeFacts(deps: ModuleDeps, assets: Assets, ctx: RequestContext, componentIds: Map<string, string>): Promise<{ series: number; points: number }> {
  const measurements = createMeasurements(deps)
  const { units } = createUnitsModule(deps)
  const oilRate = (await assets.types.listProperties(ctx, 'Well')).data.find((p) => p.name === 'oil_rate')!
  const bblPerDay = await units.resolveUnit(ctx, 'volume_flow_rate:bbl_us-per-day')
  const stored = oilRate.unit_id ? await units.resolveUnit(ctx, oilRate.unit_id) : bblPerDay
  const [well] = (await assets.entities.findByNames(deps.database.db, ctx, [WELL])).filter((f) => f.type.name === 'Well')
  const plans: { ref: string; days: number; values: (day: number) => { oilRate: number; waterCut: number } }[] = [
    { ref: 'Forecast/Model run 1', days: DAYS, values: (d) => forecast('Model run 1', d) },
    { ref: 'Forecast/Model run 2', days: DAYS, values: (d) => forecast('Model run 2', d) },
    { ref: 'Field measurements/Vendor A', days: MEASURED_DAYS, values: ((next) => (d: number) => measured(d, next))(noise(12)) },
  ]
  let series = 0
  let points = 0
  for (const plan of plans) {
    const componentId = componentIds.get(plan.ref)!
    const existing = await measurements.series.list(ctx, { limit: 10, component_id: componentId, entity_id: well!.entity.id })
    if (existing.data.length > 0) continue
    const items: FactItem[] = []
    for (let day = 0; day < plan.days; day++) {
      const v = plan.values(day)
      const at = { object_type: 'Well', object_instance: WELL, component: componentId, date_time: date(day) }
      items.push({ ...at, object_type_property: 'oil_rate', value: convert(v.oilRate, bblPerDay, stored) }, { ...at, object_type_property: 'water_cut', value: v.waterCut })
    }
    const written = await measurements.facts.ingestFacts(ctx, items)
    series += written.series
    points += written.points
  }
  return { series, points }
}
