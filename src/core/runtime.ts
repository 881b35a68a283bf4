// Assembles one process: database, migrations, logger, metrics, event log, files, HTTP app and
// job worker. `stratum serve`, `stratum worker` and the tests all start here.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { Config } from '../config.ts'
import { modules, type BackgroundTask, type ModuleInstance } from '../modules/index.ts'
import type { Database } from './db/database.ts'
import { migrate } from './db/migrate.ts'
import { filesDir, openDatabase } from './db/open.ts'
import { createEventLog, type EventLog } from './events/events.service.ts'
import { createLocalFileStore, type FileStore } from './files/fileStore.ts'
import { buildApp, type App, type Authenticator } from './http/app.ts'
import { systemJobs, schedulePartitionUpkeep } from './jobs/system.jobs.ts'
import { createLocalWorker, createWorker, type JobHandler, type LocalWorker, type Worker } from './jobs/worker.ts'
import type { Logger } from './observability/logger.ts'
import { createMetrics, type Metrics } from './observability/metrics.ts'

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export interface Runtime {
  config: Readonly<Config>
  database: Database
  log: Logger
  metrics: Metrics
  events: EventLog
  files: FileStore
  clock: () => Date
  localWorker: LocalWorker
  /** The modules, created once for this process. */
  modules: (ModuleInstance & { name: string })[]
}

export async function openRuntime(
  config: Readonly<Config>,
  log: Logger,
  options: { database?: Database; migrate?: boolean; clock?: () => Date } = {},
): Promise<Runtime> {
  const database = options.database ?? (await openDatabase(config))
  try {
    if (options.migrate ?? true) {
      const { applied } = await migrate(database)
      if (applied.length > 0) log.info({ applied }, 'migrations applied')
    }
  } catch (err) {
    await database.close()
    throw err
  }
  const deps = {
    config,
    database,
    log,
    events: createEventLog({ sourceNode: hostname().slice(0, 50) }),
    files: createLocalFileStore(filesDir(config)),
    clock: options.clock ?? (() => new Date()),
    localWorker: createLocalWorker(),
  }
  return { ...deps, metrics: createMetrics(), modules: modules.map((m) => ({ name: m.name, ...m.create(deps) })) }
}

export function allJobHandlers(rt: Runtime): JobHandler<any>[] {
  return [...systemJobs(rt.database), ...rt.modules.flatMap((m) => m.jobs ?? [])]
}

/** The HTTP app; `authenticator` replaces the identity module's (tests of the core only). */
export async function createApp(rt: Runtime, authenticator?: Authenticator): Promise<App> {
  const auth = authenticator ?? rt.modules.find((m) => m.authenticator)?.authenticator
  const app = await buildApp({ ...rt, version: VERSION, ...(auth ? { authenticator: auth } : {}) })
  for (const m of rt.modules) if (m.routes) await app.register(m.routes, { prefix: '/api/v1' })
  return app
}

export async function startWorker(rt: Runtime, extraHandlers: JobHandler<any>[] = []): Promise<Worker> {
  const worker = createWorker({
    database: rt.database,
    handlers: [...allJobHandlers(rt), ...extraHandlers],
    events: rt.events,
    log: rt.log.child({ component: 'worker' }),
    metrics: rt.metrics,
    concurrency: rt.config.workerConcurrency,
    inlineConcurrency: rt.config.waitConcurrency,
    leaseMs: rt.config.jobLeaseMs,
    pollMs: rt.config.jobPollMs,
  })
  await schedulePartitionUpkeep(rt.database)
  await worker.start()
  rt.localWorker.attach(worker)
  const loops = rt.modules.flatMap((m) => m.background ?? []).map((task) => runInBackground(task, rt.log.child({ component: task.name }), rt.metrics))
  const stopJobs = worker.stop
  worker.stop = async (deadlineMs: number) => {
    rt.localWorker.attach(null)
    await Promise.all(loops.map((l) => l.stop()))
    await stopJobs(deadlineMs)
  }
  return worker
}

/** Runs a module's upkeep round after round until stopped; a failed round is logged and retried later. */
function runInBackground(task: BackgroundTask, log: Logger, metrics: Metrics) {
  let stopped = false
  let wake: (() => void) | null = null
  const loop = (async () => {
    while (!stopped) {
      let more = false
      try {
        more = await task.run()
        if (task.backlog) metrics.backlog.set({ task: task.name }, task.backlog())
      } catch (err) {
        log.error({ err }, `${task.name} round failed`)
      }
      if (!more && !stopped) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, task.intervalMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })()
  return {
    async stop() {
      stopped = true
      wake?.()
      await loop
    },
  }
}

export async function seedDemo(rt: Runtime): Promise<{ module: string; created: number; notes?: string[] }[]> {
  const out = []
  for (const m of rt.modules) if (m.seedDemo) out.push({ module: m.name, ...(await m.seedDemo()) })
  return out
}
