// JSONata over the execution context, for transform and condition steps, edge conditions and the
// `{{ ... }}` templates in step configs. Compiled expressions are cached by their text.
import jsonata from 'jsonata'
import type { FieldError } from '../../core/errors.ts'

const cache = new Map<string, jsonata.Expression>()
const CACHE_MAX = 5000

export function compileExpression(text: string): jsonata.Expression {
  let e = cache.get(text)
  if (!e) {
    e = jsonata(text)
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!)
    cache.set(text, e)
  }
  return e
}

/** Why an expression does not parse, or null. */
export function expressionProblem(text: string): string | null {
  try {
    compileExpression(text)
    return null
  } catch (err) {
    const e = err as { message?: string; position?: number }
    return `is not a JSONata expression: ${e.message ?? String(err)}${e.position !== undefined ? ` (at character ${e.position})` : ''}`
  }
}

export class ExpressionError extends Error {
  constructor(
    readonly expression: string,
    message: string,
  ) {
    super(`expression ${JSON.stringify(expression.length > 80 ? `${expression.slice(0, 77)}...` : expression)} failed: ${message}`)
    this.name = 'ExpressionError'
  }
}

export async function evaluate(text: string, context: unknown): Promise<unknown> {
  try {
    const out = await compileExpression(text).evaluate(context)
    return normalise(out)
  } catch (err) {
    throw new ExpressionError(text, (err as Error).message ?? String(err))
  }
}

/** JSONata sequences are arrays with extra flags; answers are stored as plain JSON. */
function normalise(v: unknown): unknown {
  if (v === undefined) return null
  if (Array.isArray(v)) return v.map(normalise)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]))
  if (typeof v === 'function') return null
  return v
}

const TEMPLATE = /\{\{([\s\S]+?)\}\}/g
const WHOLE = /^\{\{([\s\S]+?)\}\}$/

/** The `{{ expression }}` parts of every string inside a config value, with their JSON pointer paths. */
export function templateExpressions(value: unknown, path: string): { path: string; expression: string }[] {
  if (typeof value === 'string') return [...value.matchAll(TEMPLATE)].map((m) => ({ path, expression: m[1]!.trim() }))
  if (Array.isArray(value)) return value.flatMap((v, i) => templateExpressions(v, `${path}/${i}`))
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => templateExpressions(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`))
  return []
}

/**
 * A config value with its templates filled in: a string that is one template becomes the
 * expression's value (a number stays a number), templates inside text are spliced in as text.
 */
export async function render(value: unknown, context: unknown): Promise<unknown> {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value)
    if (whole) return evaluate(whole[1]!.trim(), context)
    if (!value.includes('{{')) return value
    let out = ''
    let last = 0
    for (const m of value.matchAll(TEMPLATE)) {
      const v = await evaluate(m[1]!.trim(), context)
      out += value.slice(last, m.index) + (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))
      last = m.index! + m[0].length
    }
    return out + value.slice(last)
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => render(v, context)))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = await render(v, context)
    return out
  }
  return value
}

/** Parse problems of every template in a config, as field errors under `base`. */
export function templateProblems(value: unknown, base: string): FieldError[] {
  return templateExpressions(value, base).flatMap(({ path, expression }) => {
    const problem = expressionProblem(expression)
    return problem ? [{ path, message: `template {{ ${expression} }} ${problem}` }] : []
  })
}

/** Step ids an expression reads through `steps.<id>` (or `$.steps.<id>`). */
export function stepReferences(expression: string): string[] {
  return [...expression.matchAll(/(?:^|[^\w$.])(?:\$\.)?steps\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!)
}
