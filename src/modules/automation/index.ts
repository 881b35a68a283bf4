// Automation: automations, workflow versions, executions and step runs, run by one engine
// (seed 003 automate_core, seed 001 processes, seed 000 workflows). Its public surface for other
// modules: `createAutomation(deps)` -> { automations, executions, engine }.
import type { FastifyPluginAsync } from 'fastify'
import type { ModuleDeps, ModuleInstance, StratumModule } from '../index.ts'
import { automationRoutes } from './automation.routes.ts'
import { createAutomations } from './automations.service.ts'
import { createEngine } from './engine.ts'
import { createExecutions } from './executions.service.ts'
import { createGraphCompiler } from './graph.ts'
import { createNetGuard } from './netGuard.ts'
import { createSandbox } from './sandbox.ts'
import { stepTypes } from './steps.ts'

export function createAutomation(deps: ModuleDeps) {
  const guard = createNetGuard(deps.config.httpStepAllow)
  const sandbox = createSandbox()
  const types = stepTypes(guard, sandbox)
  const compiler = createGraphCompiler(types)
  const automations = createAutomations({ database: deps.database, events: deps.events, compiler })
  const executions = createExecutions({ database: deps.database, events: deps.events, automations })
  const engine = createEngine({ database: deps.database, events: deps.events, types, log: deps.log.child({ component: 'automation' }), clock: deps.clock })
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(automationRoutes, { automations, executions, compiler, types })
  }
  return { automations, executions, engine, compiler, types, routes }
}

export type Automation = ReturnType<typeof createAutomation>

export const automationModule: StratumModule = {
  name: 'automation',
  create(deps): ModuleInstance {
    const a = createAutomation(deps)
    return { routes: a.routes, jobs: [a.engine.handler] }
  },
}
