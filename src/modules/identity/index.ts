// Identity and access: organisations, users, memberships and roles, sessions, second factor,
// API keys, rate limits. Its public surface: the authenticator the HTTP app runs on every
// /api request, the routes, and the services the CLI calls.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { createAccounts } from './accounts.service.ts'
import { createApiKeys } from './apiKeys.service.ts'
import { apiKeyRoutes } from './apiKeys.routes.ts'
import { authRoutes } from './auth.routes.ts'
import { createAuthenticator } from './authenticate.ts'
import { createOrganizations } from './organizations.service.ts'
import { organizationRoutes } from './organizations.routes.ts'
import { createTwoFactor } from './twoFactor.service.ts'
import { createOperators } from './operators.service.ts'
import type { IdentityDeps } from './shared.ts'
import { eq } from 'drizzle-orm'
import type { Executor } from '../../core/db/database.ts'
import { organizations, type OrganizationSettings } from './identity.schema.ts'

export function createIdentity(deps: ModuleDeps) {
  const { config } = deps
  const authenticator = createAuthenticator({
    database: deps.database,
    log: deps.log.child({ module: 'identity' }),
    clock: deps.clock,
    cacheMs: config.authCacheTtlMs,
    sessionIdleMs: config.sessionIdleMinutes * 60_000,
    defaultRateLimitPerMinute: config.apiKeyDefaultRateLimit,
  })
  const shared: IdentityDeps = {
    database: deps.database,
    events: deps.events,
    clock: deps.clock,
    cache: authenticator,
    settings: {
      signupOpen: config.signupOpen,
      sessionIdleMs: config.sessionIdleMinutes * 60_000,
      sessionMaxAgeMs: config.sessionMaxAgeHours * 3_600_000,
      invitationTtlMs: 7 * 86_400_000,
      passwordResetTtlMs: 3_600_000,
    },
  }
  const accounts = createAccounts(shared)
  const organizations = createOrganizations({ ...shared, accounts })
  const twoFactor = createTwoFactor(shared)
  const apiKeys = createApiKeys(shared)
  const operators = createOperators({ ...shared, accounts })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(authRoutes, { accounts, organizations, twoFactor })
    await app.register(organizationRoutes, { organizations })
    await app.register(apiKeyRoutes, { apiKeys })
  }
  return { authenticator, accounts, organizations, twoFactor, apiKeys, operators, routes }
}

export type Identity = ReturnType<typeof createIdentity>

/**
 * An organisation's settings (preferred unit system, time zone), for modules that present data
 * in them (units' preferredSystem). Null when there is no such organisation.
 */
export async function organizationSettings(db: Executor, organizationId: string): Promise<OrganizationSettings | null> {
  const [org] = await db.select({ settings: organizations.settings }).from(organizations).where(eq(organizations.id, organizationId))
  return org?.settings ?? null
}

export const identityModule: StratumModule = {
  name: 'identity',
  create(deps): ModuleInstance {
    const identity = createIdentity(deps)
    deps.events.react(['entity.deleted'], identity.apiKeys.revokeDeviceKeys)
    return {
      routes: identity.routes,
      authenticator: identity.authenticator,
      seedDemo: () => identity.operators.seedDemo(),
    }
  },
}
