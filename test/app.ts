// Test helpers: a runtime on a fresh database, and an app whose caller is set by test headers
// (the identity module replaces this with real authentication).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uuidv7 } from 'uuidv7'
import { loadConfig } from '../src/config.ts'
import type { RequestContext } from '../src/core/context.ts'
import type { Authenticator } from '../src/core/http/app.ts'
import { ROLE_SCOPES } from '../src/core/scopes.ts'
import { createLogger } from '../src/core/observability/logger.ts'
import { createApp, openRuntime, type Runtime } from '../src/core/runtime.ts'
import { testDatabase } from './db.ts'

export async function testRuntime(env: Record<string, string> = {}, options: { clock?: () => Date } = {}): Promise<Runtime & { close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratum-test-'))
  const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env })
  const database = await testDatabase()
  const rt = await openRuntime(config, createLogger(config.logLevel, { pretty: false }), { database, migrate: false, ...options })
  return { ...rt, close: () => database.close() }
}

/** For tests of the core: the caller is whoever the x-test-* headers name, with an owner's scopes. */
export const testAuthenticator: Authenticator = {
  async authenticate(req) {
    const org = req.headers['x-test-organization']
    const actor = req.headers['x-test-actor']
    if (typeof org !== 'string' || typeof actor !== 'string') return null
    return { organizationId: org, actor: { type: 'user', id: actor }, credential: { kind: 'session', id: actor, userId: actor, deviceId: null, scopes: ROLE_SCOPES.owner } }
  },
}

export interface Tenant {
  organizationId: string
  userId: string
  headers: Record<string, string>
  ctx: RequestContext
}

export function tenant(): Tenant {
  const organizationId = uuidv7()
  const userId = uuidv7()
  return {
    organizationId,
    userId,
    headers: { 'x-test-organization': organizationId, 'x-test-actor': userId },
    ctx: { requestId: uuidv7(), traceId: '0af7651916cd43dd8448eb211c80319c', actor: { type: 'user', id: userId }, organizationId },
  }
}

/**
 * A migrated runtime and its app. By default callers are named by test headers (`tenant()`);
 * `realAuth` uses the identity module's authenticator, as production does.
 */
export async function testApp(env: Record<string, string> = {}, options: { realAuth?: boolean; clock?: () => Date } = {}) {
  const rt = await testRuntime(env, options.clock ? { clock: options.clock } : {})
  const app = await createApp(rt, options.realAuth ? undefined : testAuthenticator)
  await app.ready()
  return {
    rt,
    app,
    async close() {
      await app.close()
      await rt.close()
    },
  }
}
