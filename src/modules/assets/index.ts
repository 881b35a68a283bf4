// Assets: object types with property definitions and versioned JSON Schemas, entities validated
// against them, the temporal relationship graph, and well network topology. Its public surface
// for other modules: `createAssets(deps)` -> { types, entities, relationships, networks }.
// Users and organisations are mirrored as entities (mirror.ts) from identity's events.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { createUnitsModule } from '../units/index.ts'
import { assetJobs } from './assets.jobs.ts'
import { seedAssetsDemo } from './demo.ts'
import { createEntities } from './entities.service.ts'
import { entityRoutes } from './entities.routes.ts'
import { installMirrors } from './mirror.ts'
import { createNetworks } from './networks.service.ts'
import { networkRoutes } from './networks.routes.ts'
import { objectTypeRoutes } from './objectTypes.routes.ts'
import { createObjectTypes } from './objectTypes.service.ts'
import { createRelationships } from './relationships.service.ts'
import { relationshipRoutes } from './relationships.routes.ts'

export function createAssets(deps: ModuleDeps) {
  const { units, preferences } = createUnitsModule(deps)
  const types = createObjectTypes({ database: deps.database, events: deps.events, units })
  const entities = createEntities({ database: deps.database, events: deps.events, types, units, preferences })
  const relationships = createRelationships({ database: deps.database, events: deps.events, entities })
  const networks = createNetworks({ database: deps.database, events: deps.events, entities })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(objectTypeRoutes, { types })
    await app.register(entityRoutes, { entities })
    await app.register(relationshipRoutes, { relationships })
    await app.register(networkRoutes, { networks })
  }
  return { types, entities, relationships, networks, routes }
}

export type Assets = ReturnType<typeof createAssets>

export const assetsModule: StratumModule = {
  name: 'assets',
  create(deps): ModuleInstance {
    const assets = createAssets(deps)
    installMirrors(deps.events, assets)
    return {
      routes: assets.routes,
      jobs: assetJobs(deps, assets),
      seedDemo: () => seedAssetsDemo(deps, assets),
    }
  },
}
