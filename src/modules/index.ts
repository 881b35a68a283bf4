// The modules Stratum is made of. Each is created once per process from the runtime's
// dependencies and contributes routes, job handlers, demo data and (identity) the
// authenticator; the core knows them only through this list.
import type { FastifyPluginAsync } from 'fastify'
import type { Config } from '../config.ts'
import type { Database } from '../core/db/database.ts'
import type { EventLog } from '../core/events/events.service.ts'
import type { FileStore } from '../core/files/fileStore.ts'
import type { Authenticator } from '../core/http/app.ts'
import type { JobHandler, LocalWorker } from '../core/jobs/worker.ts'
import type { Logger } from '../core/observability/logger.ts'
import { assetsModule } from './assets/index.ts'
import { automationModule } from './automation/index.ts'
import { identityModule } from './identity/index.ts'
import { measurementsModule } from './measurements/index.ts'
import { sourcesModule } from './sources/index.ts'
import { unitsModule } from './units/index.ts'

export interface ModuleDeps {
  config: Readonly<Config>
  database: Database
  events: EventLog
  files: FileStore
  log: Logger
  clock: () => Date
  /** This process's job worker, when it runs one: a request may run a job it writes at once. */
  localWorker: LocalWorker
}

/** Upkeep a worker process runs in a loop (not a job: nobody asks for it and it never ends). */
export interface BackgroundTask {
  name: string
  /** The pause after a round that left nothing to do. */
  intervalMs: number
  /** One round of work; true when there is more to do at once. */
  run(): Promise<boolean>
  /** What was left to do after the last round, for the `stratum_background_backlog` gauge. */
  backlog?(): number
}

export interface ModuleInstance {
  routes?: FastifyPluginAsync
  jobs?: JobHandler<any>[]
  background?: BackgroundTask[]
  /** Resolves callers for the HTTP app; one module (identity) provides it. */
  authenticator?: Authenticator
  /** Adds demo data for `stratum seed --demo`; must be safe to run twice. `notes` are printed (how to sign in). */
  seedDemo?(): Promise<{ created: number; notes?: string[] }>
}

export interface StratumModule {
  name: string
  create(deps: ModuleDeps): ModuleInstance
}

export const modules: StratumModule[] = [identityModule, unitsModule, assetsModule, measurementsModule, sourcesModule, automationModule]
