// Test helpers: a runtime on a fresh database, and an app whose caller is set by test headers
// (the identity module replaces this with real authentication).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uuidv7 } from 'uuidv7'
import { loadConfig } from '../src/config.ts'
import type { RequestContext } from '../src/core/context.ts'
import type { Authenticate } from '../src/core/http/app.ts'
import { createLogger } from '../src/core/observability/logger.ts'
import { createApp, openRuntime, type Runtime } from '../src/core/runtime.ts'
import { testDatabase } from './db.ts'

export async function testRuntime(env: Record<string, string> = {}): Promise<Runtime & { close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratum-test-'))
  const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env })
  const database = await testDatabase()
  const rt = await openRuntime(config, createLogger(config.logLevel, { pretty: false }), { database, migrate: false })
  return { ...rt, close: () => database.close() }
}

export const testAuthenticate: Authenticate = async (req) => {
  const org = req.headers['x-test-organization']
  const actor = req.headers['x-test-actor']
  if (typeof org !== 'string' || typeof actor !== 'string') return null
  return { organizationId: org, actor: { type: 'user', id: actor } }
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

export async function testApp(env: Record<string, string> = {}) {
  const rt = await testRuntime(env)
  const app = await createApp(rt, testAuthenticate)
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
