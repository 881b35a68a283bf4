// Automation: automations, workflow versions, executions and step runs, run by one engine
// (seed 003 automate_core, seed 001 processes, seed 000 workflows). Its public surface for other
// modules: `createAutomation(deps)` -> { automations, executions, engine }.
import type { FastifyPluginAsync } from 'fastify'
import type { BackgroundTask, ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { automationRoutes, triggerRoutes } from './automation.routes.ts'
import { consumeBatch } from '../../core/events/consumeEvents.ts'
import { createTriggers } from './triggers.service.ts'
import { createAutomations } from './automations.service.ts'
import { createEngine } from './engine.ts'
import { createExecutions } from './executions.service.ts'
import { createGraphCompiler } from './graph.ts'
import { createNetGuard } from './netGuard.ts'
import { createSandbox } from './sandbox.ts'
import { stepTypes } from './steps.ts'
import { platformSteps, subWorkflowStep } from './actions.ts'
import { createPruning } from './prune.ts'
import { processRoutes } from './processes.routes.ts'
import { createNotebooks } from './notebooks.service.ts'
import { notebookRoutes } from './notebooks.routes.ts'
import { createAssets } from '../assets/index.ts'
import { createMeasurements } from '../measurements/index.ts'
import { createSources } from '../sources/index.ts'

export function createAutomation(deps: ModuleDeps) {
  const guard = createNetGuard(deps.config.httpStepAllow)
  const sandbox = createSandbox()
  const types = stepTypes(guard, sandbox, { enabled: deps.config.pythonSteps, python: deps.config.pythonBin })
  const compiler = createGraphCompiler(types)
  const automations = createAutomations({ database: deps.database, events: deps.events, compiler })
  const executions = createExecutions({ database: deps.database, events: deps.events, automations })
  const engine = createEngine({ database: deps.database, events: deps.events, types, log: deps.log.child({ component: 'automation' }), clock: deps.clock, onFinished: (id, finished) => executions.announceFinished(id, finished), takeStarted: (jobId) => executions.takeStarted(jobId) })
  executions.usePrefix(engine.prefix)
  // Step types that need the services above (the compiler reads the map when it validates).
  for (const t of [
    subWorkflowStep({ database: deps.database, automations, runs: executions }),
    ...platformSteps({ database: deps.database, assets: createAssets(deps), measurements: createMeasurements(deps), sources: createSources(deps) }),
  ])
    types.set(t.type, t)
  const triggers = createTriggers({ database: deps.database, events: deps.events, automations, executions, clock: deps.clock })
  const notebooks = createNotebooks({ database: deps.database, events: deps.events, store: deps.files, automations, executions, pythonEnabled: deps.config.pythonSteps })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(automationRoutes, { automations, executions, compiler, types, localWorker: deps.localWorker })
    await app.register(triggerRoutes, { triggers, executions, localWorker: deps.localWorker })
    await app.register(processRoutes, { automations, executions })
    await app.register(notebookRoutes, { notebooks, triggers })
  }
  const EVENT_BATCH = 200
  // Worker upkeep: the cron scheduler, and the event-trigger consumer of the event log.
  const background: BackgroundTask[] = [
    // Two rounds at once (SKIP LOCKED keeps their triggers apart): a round is mostly waiting on
    // the database, so a burst of due schedules fires in about half the time on PostgreSQL.
    { name: 'automation.scheduler', intervalMs: 250, run: async () => (await Promise.all([triggers.tick(), triggers.tick()])).some((n) => n > 0) },
    {
      name: 'automation.event_triggers',
      intervalMs: 200,
      // Straight on only after a full batch (a backlog): under a steady stream of events a round
      // every 200 ms reads them all, where going again after any event cost a round of five
      // statements per one or two executions (docs/benchmarks.md section 10).
      run: async () => (await consumeBatch(deps.database, { name: 'automation.event_triggers', batchSize: EVENT_BATCH, handle: triggers.onEvents })).delivered >= EVENT_BATCH,
    },
  ]
  const pruning = createPruning({ database: deps.database, events: deps.events })
  return { automations, executions, triggers, notebooks, engine, pruning, compiler, types, routes, background }
}

export type Automation = ReturnType<typeof createAutomation>

export const automationModule: StratumModule = {
  name: 'automation',
  create(deps): ModuleInstance {
    const a = createAutomation(deps)
    return { routes: a.routes, jobs: [a.engine.handler, a.pruning.handler], background: a.background }
  },
}
