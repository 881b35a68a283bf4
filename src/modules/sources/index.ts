// Sources: data sources (INPUT, OUTPUT, PROCESS), their components with files, and scenarios
// (seed 000 DataSource, DataSourceComponent, ScenarioClass, ScenarioLog, ScenarioComponentLink).
// Its public surface for other modules: `createSources(deps)` -> { sources, scenarios }.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { createScenarios } from './scenarios.service.ts'
import { scenarioRoutes } from './scenarios.routes.ts'
import { createDataSources } from './sources.service.ts'
import { sourceRoutes } from './sources.routes.ts'

export function createSources(deps: ModuleDeps) {
  const sources = createDataSources({ database: deps.database, events: deps.events, files: deps.files, config: deps.config })
  const scenarios = createScenarios({ database: deps.database, events: deps.events, sources })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(sourceRoutes, { sources, maxBytes: deps.config.fileMaxBytes })
    await app.register(scenarioRoutes, { scenarios })
  }
  return { sources, scenarios, routes }
}

export type Sources = ReturnType<typeof createSources>

export const sourcesModule: StratumModule = {
  name: 'sources',
  create(deps): ModuleInstance {
    const s = createSources(deps)
    return { routes: s.routes }
  },
}
