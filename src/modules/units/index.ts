// Units of measure: the global catalog (Cognite units plus an Oil Field system), look-up by id,
// external id, symbol or alias, and conversion. Its public surface for other modules: the
// service (resolveUnit, convert) and the pure conversion functions in units.convert.ts.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { unitRoutes } from './units.routes.ts'
import { createUnits } from './units.service.ts'

export { convert, convertValues, type ConvertibleUnit } from './units.convert.ts'

export function createUnitsModule(deps: ModuleDeps) {
  const units = createUnits({ database: deps.database })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(unitRoutes, { units })
  }
  return { units, routes }
}

export const unitsModule: StratumModule = {
  name: 'units',
  create(deps): ModuleInstance {
    return { routes: createUnitsModule(deps).routes }
  },
}
