// A workflow graph and what it compiles to (seed 003 Workflow.validate() and compile()).
// Graph: steps (id, type, config, retry, timeout) and edges (from, to, optional JSONata
// condition; after a condition step, optionally branch "true" or "false"). validate() checks
// step types, each config against its type's JSON Schema, expressions, references to other
// steps (only to steps that run before) and cycles; compile() orders the steps into a plan.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import { expressionProblem, stepReferences, templateExpressions, templateProblems } from './expressions.ts'
import type { CheckOptions, StepType } from './steps.ts'

export interface GraphStep {
  id: string
  type: string
  name?: string
  config?: Record<string, unknown>
  retry?: { max_attempts?: number; backoff_ms?: number }
  timeout_ms?: number
}

export interface GraphEdge {
  from: string
  to: string
  condition?: string
  branch?: 'true' | 'false'
}

export interface Graph {
  steps: GraphStep[]
  edges?: GraphEdge[]
}

export interface PlanStep {
  id: string
  type: string
  config: Record<string, unknown>
  max_attempts: number
  backoff_ms: number
  timeout_ms: number
  pure: boolean
  incoming: { from: string; condition?: string; branch?: 'true' | 'false' }[]
  outgoing: string[]
}

/** Steps in an order where every step comes after all its predecessors. */
export interface Plan {
  steps: PlanStep[]
}

export const STEP_ID = '^[A-Za-z_][A-Za-z0-9_]{0,63}$'
export const MAX_STEPS = 500

/** The graph's own shape (the route body schema uses it too). */
export const GRAPH_SCHEMA = {
  type: 'object',
  required: ['steps'],
  additionalProperties: false,
  properties: {
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_STEPS,
      items: {
        type: 'object',
        required: ['id', 'type'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: STEP_ID },
          type: { type: 'string', minLength: 1, maxLength: 64 },
          name: { type: 'string', maxLength: 200 },
          config: { type: 'object' },
          retry: {
            type: 'object',
            additionalProperties: false,
            properties: { max_attempts: { type: 'integer', minimum: 1, maximum: 50 }, backoff_ms: { type: 'integer', minimum: 0, maximum: 3_600_000 } },
          },
          timeout_ms: { type: 'integer', minimum: 1, maximum: 3_600_000 },
        },
      },
    },
    edges: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['from', 'to'],
        additionalProperties: false,
        properties: {
          from: { type: 'string', pattern: STEP_ID },
          to: { type: 'string', pattern: STEP_ID },
          condition: { type: 'string', minLength: 1, maxLength: 20_000 },
          branch: { enum: ['true', 'false'] },
        },
      },
    },
  },
} as const

/** Step types whose output.result chooses between "true" and "false" edges. */
const BRANCHING = ['condition', 'approval']

export function createGraphCompiler(types: Map<string, StepType>) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false })
  // Compiled when first needed: step types that need other services join the map after the compiler is made.
  const configValidators = new Map<string, ValidateFunction>()
  const validatorOf = (t: StepType) => configValidators.get(t.type) ?? configValidators.set(t.type, ajv.compile(t.config)).get(t.type)!
  const graphValidator = ajv.compile(GRAPH_SCHEMA)

  /** Every problem of a graph, as field errors under `base` (the body path of the graph). */
  function problems(graph: unknown, base: string, opts: CheckOptions = {}): FieldError[] {
    if (!graphValidator(graph)) {
      return (graphValidator.errors ?? []).map((e) => ({ path: `${base}${e.instancePath}`, message: e.keyword === 'additionalProperties' ? `has unknown field ${(e.params as { additionalProperty: string }).additionalProperty}` : (e.message ?? 'is invalid') }))
    }
    const g = graph as Graph
    const errors: FieldError[] = []
    const index = new Map<string, number>()
    g.steps.forEach((s, i) => {
      if (index.has(s.id)) errors.push({ path: `${base}/steps/${i}/id`, message: `step id ${s.id} is used twice` })
      else index.set(s.id, i)
      const type = types.get(s.type)
      if (!type) {
        errors.push({ path: `${base}/steps/${i}/type`, message: `unknown step type ${s.type} (known: ${[...types.keys()].join(', ')})` })
        return
      }
      const config = s.config ?? {}
      const validate = validatorOf(type)
      if (!validate(config)) {
        for (const e of validate.errors ?? [])
          errors.push({ path: `${base}/steps/${i}/config${e.instancePath}`, message: e.keyword === 'additionalProperties' ? `has unknown field ${(e.params as { additionalProperty: string }).additionalProperty}` : (e.message ?? 'is invalid') })
        return
      }
      errors.push(...templateProblems(config, `${base}/steps/${i}/config`), ...(type.check?.(config, `${base}/steps/${i}/config`, opts) ?? []))
    })
    const edges = g.edges ?? []
    edges.forEach((e, i) => {
      if (!index.has(e.from)) errors.push({ path: `${base}/edges/${i}/from`, message: `no step has id ${e.from}` })
      if (!index.has(e.to)) errors.push({ path: `${base}/edges/${i}/to`, message: `no step has id ${e.to}` })
      if (e.from === e.to) errors.push({ path: `${base}/edges/${i}`, message: `step ${e.from} cannot follow itself` })
      if (e.condition) {
        const p = expressionProblem(e.condition)
        if (p) errors.push({ path: `${base}/edges/${i}/condition`, message: p })
      }
      if (e.branch && index.has(e.from) && !BRANCHING.includes(g.steps[index.get(e.from)!]!.type)) errors.push({ path: `${base}/edges/${i}/branch`, message: `branch follows ${BRANCHING.join(' and ')} steps only; ${e.from} is a step of type ${g.steps[index.get(e.from)!]!.type}` })
    })
    if (errors.length) return errors
    const seen = new Set<string>()
    edges.forEach((e, i) => {
      const key = `${e.from}->${e.to}`
      if (seen.has(key)) errors.push({ path: `${base}/edges/${i}`, message: `the edge ${key} is given twice` })
      seen.add(key)
    })
    const cycle = findCycle(g)
    if (cycle) errors.push({ path: `${base}/edges`, message: `the graph has a cycle: ${cycle.join(' -> ')} (repeat work with a loop step instead)` })
    if (errors.length) return errors
    // Expressions may read only steps that always run before them.
    const ancestors = ancestorsOf(g)
    g.steps.forEach((s, i) => {
      for (const { path, expression } of [...templateExpressions(s.config ?? {}, `${base}/steps/${i}/config`), ...exprFields(s, `${base}/steps/${i}/config`)]) {
        for (const ref of stepReferences(expression)) {
          if (!index.has(ref)) errors.push({ path, message: `reads steps.${ref}, but no step has id ${ref}` })
          else if (!ancestors.get(s.id)!.has(ref)) errors.push({ path, message: `reads steps.${ref}, which does not run before ${s.id} (add an edge from ${ref})` })
        }
      }
    })
    edges.forEach((e, i) => {
      for (const ref of e.condition ? stepReferences(e.condition) : []) {
        if (!index.has(ref)) errors.push({ path: `${base}/edges/${i}/condition`, message: `reads steps.${ref}, but no step has id ${ref}` })
        else if (ref !== e.from && !ancestors.get(e.from)!.has(ref)) errors.push({ path: `${base}/edges/${i}/condition`, message: `reads steps.${ref}, which does not run before ${e.to}` })
      }
    })
    return errors
  }

  function compile(graph: Graph): Plan {
    const edges = graph.edges ?? []
    const order = topological(graph)
    const byId = new Map(graph.steps.map((s) => [s.id, s]))
    return {
      steps: order.map((id) => {
        const s = byId.get(id)!
        const type = types.get(s.type)!
        return {
          id,
          type: s.type,
          config: s.config ?? {},
          max_attempts: s.retry?.max_attempts ?? (type.pure ? 1 : 3),
          backoff_ms: s.retry?.backoff_ms ?? 1000,
          timeout_ms: s.timeout_ms ?? 300_000,
          pure: type.pure,
          incoming: edges.filter((e) => e.to === id).map((e) => ({ from: e.from, ...(e.condition ? { condition: e.condition } : {}), ...(e.branch ? { branch: e.branch } : {}) })),
          outgoing: edges.filter((e) => e.from === id).map((e) => e.to),
        }
      }),
    }
  }

  return {
    problems,
    /** Throws a 422 naming every problem, under the body path `base`. */
    validate(graph: unknown, base = '/body/graph', opts: CheckOptions = {}): Graph {
      const errors = problems(graph, base, opts)
      if (errors.length) throw new ValidationError(`the workflow graph is not valid: ${errors[0]!.path} ${errors[0]!.message}`, errors)
      return graph as Graph
    },
    compile,
  }
}

export type GraphCompiler = ReturnType<typeof createGraphCompiler>

/** The expression-valued fields of a step (transform and condition keep theirs bare, not in {{ }}). */
function exprFields(s: GraphStep, base: string) {
  const e = (s.config as { expression?: unknown } | undefined)?.expression
  return (s.type === 'transform' || s.type === 'condition') && typeof e === 'string' ? [{ path: `${base}/expression`, expression: e }] : []
}

function findCycle(g: Graph): string[] | null {
  const next = new Map<string, string[]>(g.steps.map((s) => [s.id, []]))
  for (const e of g.edges ?? []) next.get(e.from)!.push(e.to)
  const state = new Map<string, 1 | 2>()
  const stack: string[] = []
  const visit = (id: string): string[] | null => {
    state.set(id, 1)
    stack.push(id)
    for (const n of next.get(id)!) {
      if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n]
      if (!state.has(n)) {
        const found = visit(n)
        if (found) return found
      }
    }
    stack.pop()
    state.set(id, 2)
    return null
  }
  for (const s of g.steps) {
    if (!state.has(s.id)) {
      const found = visit(s.id)
      if (found) return found
    }
  }
  return null
}

/** Kahn's order, ties kept in the order the steps are written. */
function topological(g: Graph): string[] {
  const indegree = new Map(g.steps.map((s) => [s.id, 0]))
  for (const e of g.edges ?? []) indegree.set(e.to, indegree.get(e.to)! + 1)
  const out: string[] = []
  const ready = g.steps.filter((s) => indegree.get(s.id) === 0).map((s) => s.id)
  while (ready.length) {
    const id = ready.shift()!
    out.push(id)
    for (const e of g.edges ?? []) {
      if (e.from !== id) continue
      indegree.set(e.to, indegree.get(e.to)! - 1)
      if (indegree.get(e.to) === 0) ready.push(e.to)
    }
  }
  return out
}

function ancestorsOf(g: Graph): Map<string, Set<string>> {
  const prev = new Map<string, string[]>(g.steps.map((s) => [s.id, []]))
  for (const e of g.edges ?? []) prev.get(e.to)!.push(e.from)
  const memo = new Map<string, Set<string>>()
  const of = (id: string): Set<string> => {
    let set = memo.get(id)
    if (set) return set
    set = new Set()
    for (const p of prev.get(id)!) {
      set.add(p)
      for (const a of of(p)) set.add(a)
    }
    memo.set(id, set)
    return set
  }
  for (const s of g.steps) of(s.id)
  return memo
}
