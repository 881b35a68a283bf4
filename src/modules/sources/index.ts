// Sources: data sources (INPUT, OUTPUT, PROCESS), their components with files, and scenarios
// (seed 000 DataSource, DataSourceComponent, ScenarioClass, ScenarioLog, ScenarioComponentLink).
// Its public surface for other modules: `createSources(deps)` -> { sources, scenarios }.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { seedSourcesDemo } from './demo.ts'
import { createMeasurements } from '../measurements/index.ts'
import { createScenarioData } from './scenarioData.ts'
import { scenarioDataRoutes } from './scenarioData.routes.ts'
import { createScenarios } from './scenarios.service.ts'
import { scenarioRoutes } from './scenarios.routes.ts'
import { createDataSources } from './sources.service.ts'
import { sourceRoutes } from './sources.routes.ts'

export function createSources(deps: ModuleDeps) {
  const sources = createDataSources({ database: deps.database, events: deps.events, files: deps.files })
  const scenarios = createScenarios({ database: deps.database, events: deps.events, sources })
  const data = createScenarioData({ database: deps.database, queries: createMeasurements(deps).queries, getScenario: scenarios.row })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(sourceRoutes, { sources, maxBytes: deps.config.fileMaxBytes })
    await app.register(scenarioRoutes, { scenarios })
    await app.register(scenarioDataRoutes, { data })
  }
  return { sources, scenarios, data, routes }
}

export type Sources = ReturnType<typeof createSources>

export const sourcesModule: StratumModule = {
  name: 'sources',
  create(deps): ModuleInstance {
    const s = createSources(deps)
    return { routes: s.routes, seedDemo: () => seedSourcesDemo(deps, s) }
  },
}
