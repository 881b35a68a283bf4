// Measurements: series and their points (seed 000 MainClass, seed 001 sensor.reading). Its public
// surface for other modules: `createMeasurements(deps)` -> { series, datapoints }. The plan for
// the rest of issue #6 (facts, readings, queries, rollups, alerts): docs/design/measurements.md.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { createAssets } from '../assets/index.ts'
import { createUnitsModule } from '../units/index.ts'
import { alertRoutes } from './alerts.routes.ts'
import { createAlerts } from './alerts.service.ts'
import { commandRoutes } from './commands.routes.ts'
import { createCommands } from './commands.service.ts'
import { createDatapoints } from './datapoints.service.ts'
import { createFacts } from './facts.service.ts'
import { createCsvImports } from './importCsv.ts'
import { createDatapointQueries } from './queryDatapoints.ts'
import { createRetention } from './retention.service.ts'
import { createRollups } from './rollups.ts'
import { measurementRoutes } from './measurements.routes.ts'
import { createSeries } from './series.service.ts'

export function createMeasurements(deps: ModuleDeps) {
  const { units, preferences } = createUnitsModule(deps)
  const assets = createAssets(deps)
  const series = createSeries({ database: deps.database, events: deps.events, assets, units })
  const alerts = createAlerts({ database: deps.database, events: deps.events, assets, series, units })
  const datapoints = createDatapoints({ database: deps.database, events: deps.events, series, units, alerts, clock: deps.clock })
  const facts = createFacts({ database: deps.database, events: deps.events, assets, series, units, alerts, clock: deps.clock })
  const queries = createDatapointQueries({ database: deps.database, series, assets, units, preferences })
  const imports = createCsvImports({ database: deps.database, events: deps.events, files: deps.files, series, units, alerts, clock: deps.clock })
  const retention = createRetention({ database: deps.database, events: deps.events, assets, series, clock: deps.clock })
  const rollups = createRollups({ database: deps.database })
  const commands = createCommands({ database: deps.database, events: deps.events, assets, clock: deps.clock })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(measurementRoutes, { series, datapoints, facts, queries, imports, retention })
    await app.register(alertRoutes, { alerts })
    await app.register(commandRoutes, { commands })
  }
  return { series, datapoints, facts, queries, alerts, commands, imports, retention, rollups, routes }
}

export type Measurements = ReturnType<typeof createMeasurements>

export const measurementsModule: StratumModule = {
  name: 'measurements',
  create(deps): ModuleInstance {
    const measurements = createMeasurements(deps)
    return { routes: measurements.routes, jobs: [measurements.imports.handler, measurements.retention.handler], background: [measurements.rollups.task] }
  },
}
