// Units of measure: the global catalog (Cognite units plus an Oil Field system), look-up by id,
// external id, symbol or alias, and conversion. Its public surface for other modules: the
// service (resolveUnit, convert), the pure conversion functions in units.convert.ts, and the
// preferences' `preferredSystem(ctx)` and `presentValues(ctx, {unit, values, as})`, which return
// values in the unit, system or preference the caller asked for.
// Organisations add their own types, units, categories and systems through `admin`.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { unitImportRoutes } from './units.import.routes.ts'
import { createUnitImports } from './units.import.ts'
import { unitAdminRoutes } from './units.admin.routes.ts'
import { createUnitsAdmin } from './units.admin.service.ts'
import { unitPreferenceRoutes } from './units.preferences.routes.ts'
import { createUnitPreferences } from './units.preferences.ts'
import { unitRoutes } from './units.routes.ts'
import { createUnits } from './units.service.ts'

export { convert, convertValues, type ConvertibleUnit } from './units.convert.ts'
export { FALLBACK_SYSTEM, type PreferenceSource, type PresentRequest, type UnitPreferences } from './units.preferences.ts'

export function createUnitsModule(deps: ModuleDeps) {
  const units = createUnits({ database: deps.database })
  const imports = createUnitImports({ database: deps.database, events: deps.events })
  const admin = createUnitsAdmin({ database: deps.database, events: deps.events, units })
  const preferences = createUnitPreferences({ database: deps.database, events: deps.events, units })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(unitRoutes, { units })
    await app.register(unitImportRoutes, { imports })
    await app.register(unitAdminRoutes, { admin })
    await app.register(unitPreferenceRoutes, { preferences })
  }
  const { preferredSystem, presentValues } = preferences
  return { units, imports, admin, preferences, preferredSystem, presentValues, routes }
}

export const unitsModule: StratumModule = {
  name: 'units',
  create(deps): ModuleInstance {
    return { routes: createUnitsModule(deps).routes }
  },
}
