// `stratum seed --demo` loads both seeds' examples, and they validate and answer through the API
// as the demo user sees them. Running it twice changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemo } from '../../core/runtime.ts'
import { testApp } from '../../../test/app.ts'
import { logIn } from '../../../test/identity.ts'

type Json = Record<string, any>
let t: Awaited<ReturnType<typeof testApp>>
let first: Awaited<ReturnType<typeof seedDemo>>
let token: string

const get = async (url: string, org: string) => {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}`, 'x-organization': org } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as Json
}

beforeAll(async () => {
  t = await testApp({}, { realAuth: true })
  first = await seedDemo(t.rt)
  const password = /with password (\S+)/.exec(first.find((r) => r.module === 'identity')!.notes!.join('\n'))![1]!
  const res = await logIn(t.app, 'demo@stratum.example', password)
  expect(res.statusCode, res.body).toBe(200)
  token = res.json().token
}, 120_000)
afterAll(() => t.close())

describe('seed --demo', () => {
  it('creates the two seed organisations with their assets, and nothing on a second run', async () => {
    expect(first.find((r) => r.module === 'identity')!.created).toBe(3)
    expect(first.find((r) => r.module === 'assets')!.created).toBeGreaterThan(20)
    const again = await seedDemo(t.rt)
    expect(again.map((r) => r.created)).toEqual(again.map(() => 0))
  })

  it('loads Well-12 with its unit-bearing properties, shown in the Oil Field system on request', async () => {
    const wells = (await get('/entities?type=Well&q=Well-12', 'acme-research-labs')).data as Json[]
    expect(wells).toHaveLength(1)
    expect(wells[0]!.properties).toMatchObject({ measured_depth: 3048, status: 'producing' })
    expect(wells[0]!.units).toEqual({ measured_depth: 'm' })
    const oilField = (await get(`/entities/${wells[0]!.id}?unit_system=Oil%20Field`, 'acme-research-labs'))
    expect(oilField.properties.measured_depth).toBeCloseTo(10000, 6)
    expect(oilField.units.measured_depth).toBe('ft')
    const props = (await get('/object-types/Well/properties', 'acme-research-labs')).data as Json[]
    expect(props.find((p) => p.name === 'tubing_head_pressure')).toMatchObject({ time_varying: true, unit: 'Pa', openserver: 'GAP.MOD[{PROD}].WELL[{Well-12}].THP' })
  })

  it('loads the ESP32 devices as the seed-001 document, with the device family', async () => {
    const devices = (await get('/entities?type=device.*&properties.hardware.model=ESP32-WROOM-32', 'acme-research-labs')).data as Json[]
    expect(devices.map((d) => d.name).sort()).toEqual(['ESP32 Device', 'ESP32 Device 2'])
    expect(devices[0]!.properties.config.alertThresholds.temperature).toEqual({ min: 15, max: 30 })
    const biotech = (await get('/entities?type=device.esp32', 'biotech-innovations')).data as Json[]
    expect(biotech.map((d) => d.name)).toEqual(['ESP32 Fermenter Probe'])
  })

  it('mirrors the organisations and the demo user, and links them to projects', async () => {
    const orgs = (await get('/entities?type=organization', 'acme-research-labs')).data as Json[]
    expect(orgs.map((o) => o.name)).toEqual(['Acme Research Labs'])
    const projects = (await get('/entities?type=project', 'biotech-innovations')).data as Json[]
    expect(projects.map((p) => p.name)).toEqual(['Fermentation Development'])
    expect(projects[0]!.properties.priority).toBe('medium')
  })
})
