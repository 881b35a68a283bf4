import { join } from 'node:path'
import type { Config } from '../../config.ts'
import type { Database } from './database.ts'
import { openPglite } from './pglite.ts'
import { openPostgres } from './postgres.ts'

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databasePoolMax' | 'statementTimeoutMs'>, applicationName?: string): Promise<Database> {
  if (config.databaseUrl) {
    return openPostgres({
      url: config.databaseUrl,
      poolMax: config.databasePoolMax,
      statementTimeoutMs: config.statementTimeoutMs,
      ...(applicationName ? { applicationName } : {}),
    })
  }
  return openPglite({ dataDir: config.dataDir })
}

export function filesDir(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'files')
}
