// The modules Stratum is made of. Each contributes routes, job handlers and demo data; the
// core knows them only through this list.
import type { FastifyPluginAsync } from 'fastify'
import type { Database } from '../core/db/database.ts'
import type { EventLog } from '../core/events/events.service.ts'
import type { FileStore } from '../core/files/fileStore.ts'
import type { JobHandler } from '../core/jobs/worker.ts'
import type { Logger } from '../core/observability/logger.ts'

export interface ModuleDeps {
  database: Database
  events: EventLog
  files: FileStore
  log: Logger
}

export interface StratumModule {
  name: string
  routes?(deps: ModuleDeps): FastifyPluginAsync
  jobs?(deps: ModuleDeps): JobHandler<any>[]
  /** Adds demo data for `stratum seed --demo`; must be safe to run twice. */
  seedDemo?(deps: ModuleDeps): Promise<{ created: number }>
}

export const modules: StratumModule[] = []
