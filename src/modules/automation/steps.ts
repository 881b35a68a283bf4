// The step types a workflow graph may use. Each has a JSON Schema for its config (checked by
// validate()), says whether it is pure (no effect outside the execution: it may run inline and
// have its record written together with the next one) and runs with its config's templates
// filled in from the execution context.
import type { Dispatcher } from 'undici'
import { linkSignals } from '../../core/abort.ts'
import type { RequestContext } from '../../core/context.ts'
import type { FieldError } from '../../core/errors.ts'
import { evaluate, expressionProblem, render } from './expressions.ts'
import type { NetGuard } from './netGuard.ts'
import { runPython } from './python.ts'
import type { Sandbox } from './sandbox.ts'

export interface StepLog {
  ts: string
  level: 'debug' | 'info' | 'warning' | 'error'
  message: string
}

/** What a step sees while it runs. */
export interface StepEnv {
  stepId: string
  /** The config as written, templates not yet filled in. */
  config: Record<string, any>
  /** input, trigger, execution, and steps.<id>.output of every step that ran before. */
  context: Record<string, unknown>
  attempt: number
  signal: AbortSignal
  now: () => Date
  log(level: StepLog['level'], message: string): void
  /** The step's earlier record when it was waiting (a delay that now wakes). */
  waited: { wakeAt: Date | null; output: unknown } | null
  /** Platform effects (events, jobs) the engine writes with the step's record. */
  emit(event: { type: string; data: Record<string, unknown> }): void
  /** The execution, and the context its platform actions run in (its organisation, Stratum acting, its trace). */
  execution: { id: string; automationId: string; depth: number }
  ctx: RequestContext
}

/**
 * A step's end: an output, or a wait until a time (null: until woken). A wait on a child
 * execution names it, so a child that finished before the wait was recorded still wakes it.
 */
export type StepOutcome = { output: unknown; input?: unknown } | { wait: { until: Date | null; child?: string }; output?: unknown; input?: unknown }

export interface CheckOptions {
  /** The graph is stored now and run later (a notebook being edited): checks of this server's settings wait for the run. */
  deferSettings?: boolean | undefined
}

export interface StepType {
  type: string
  summary: string
  /** JSON Schema (2020-12) of the config. */
  config: Record<string, unknown>
  /** No effect outside the execution: safe to run again, so its record may be batched. */
  pure: boolean
  /** Checks beyond the schema (expressions that do not parse), as field errors under `base`. */
  check?(config: Record<string, any>, base: string, opts?: CheckOptions): FieldError[]
  run(env: StepEnv): Promise<StepOutcome>
}

/** A step's failure as stored: what went wrong, and whether trying again could help. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryable = true,
  ) {
    super(message)
    this.name = 'StepError'
  }
}

const expressionCheck =
  (...fields: string[]) =>
  (config: Record<string, any>, base: string): FieldError[] =>
    fields.flatMap((f) => {
      const v = config[f]
      if (typeof v !== 'string') return []
      const problem = expressionProblem(v)
      return problem ? [{ path: `${base}/${f}`, message: problem }] : []
    })

const transform: StepType = {
  type: 'transform',
  summary: 'Computes a value from the execution context with a JSONata expression',
  config: { type: 'object', required: ['expression'], additionalProperties: false, properties: { expression: { type: 'string', minLength: 1, maxLength: 20_000 } } },
  pure: true,
  check: expressionCheck('expression'),
  async run(env) {
    return { output: await evaluate(env.config.expression, env.context) }
  },
}

const condition: StepType = {
  type: 'condition',
  summary: 'Evaluates a JSONata expression to true or false; edges with branch "true" or "false" follow it',
  config: { type: 'object', required: ['expression'], additionalProperties: false, properties: { expression: { type: 'string', minLength: 1, maxLength: 20_000 } } },
  pure: true,
  check: expressionCheck('expression'),
  async run(env) {
    const v = await evaluate(env.config.expression, env.context)
    return { output: { result: Boolean(v) && !(Array.isArray(v) && v.length === 0) } }
  },
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const MAX_RESPONSE_BYTES = 1_048_576

export function httpStep(guard: NetGuard): StepType {
  return {
    type: 'http',
    summary: 'Sends an HTTP request (templates in url, headers, query and body) and stores the response',
    config: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        method: { enum: METHODS, default: 'GET' },
        url: { type: 'string', minLength: 1, maxLength: 4000 },
        headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8000 } },
        query: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
        body: {},
        timeout_ms: { type: 'integer', minimum: 1, maximum: 300_000, default: 30_000 },
        /** Statuses outside 2xx fail the step (and are retried) unless this is false. */
        fail_on_status: { type: 'boolean', default: true },
      },
    },
    pure: false,
    async run(env) {
      const c = (await render(env.config, env.context)) as Record<string, any>
      let url: URL
      try {
        url = new URL(String(c.url))
      } catch {
        throw new StepError(`url ${JSON.stringify(c.url)} is not an absolute URL`, {}, false)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StepError(`url must be http or https, not ${url.protocol}`, {}, false)
      for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.append(k, String(v))
      try {
        guard.checkUrl(url)
      } catch (err) {
        throw new StepError((err as Error).message, { url: url.toString() }, false)
      }
      const method = (c.method ?? 'GET') as string
      const headers: Record<string, string> = { ...(c.headers ?? {}) }
      let body: string | undefined
      if (c.body !== undefined && method !== 'GET' && method !== 'HEAD') {
        body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body)
        if (typeof c.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
      }
      // undici's request, not fetch: the same connection pool without the WHATWG Request,
      // Response and stream objects (fetch was a tenth of the server's CPU in the automation
      // benchmark, docs/benchmarks.md section 10). Redirects are not followed either way.
      const timeoutMs = c.timeout_ms ?? 30_000
      const linked = linkSignals(env.signal)
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        linked.abort(new Error('timeout'))
      }, timeoutMs)
      const started = performance.now()
      let status: number
      let resHeaders: Record<string, string>
      let text: string
      try {
        const res = await guard.dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: method as Dispatcher.HttpMethod, headers, body, signal: linked.signal })
        status = res.statusCode
        resHeaders = Object.fromEntries(Object.entries(res.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]))
        text = await readLimited(res.body)
      } catch (err) {
        if (err instanceof StepError) throw err
        const cause = (err as { cause?: Error }).cause
        const blocked = blockedIn(err)
        if (blocked) throw new StepError(blocked.message, { url: url.toString() }, false)
        if (timedOut) throw new StepError(`${method} ${url.origin}${url.pathname} got no answer within ${timeoutMs} ms`, { url: url.toString() })
        throw new StepError(`${method} ${url.origin}${url.pathname} failed: ${cause?.message ?? (err as Error).message}`, { url: url.toString() })
      } finally {
        clearTimeout(timer)
        linked.dispose()
      }
      env.log('info', `${method} ${url.origin}${url.pathname} -> ${status} in ${Math.round(performance.now() - started)} ms`)
      let parsed: unknown = text
      if (/json/i.test(resHeaders['content-type'] ?? '') && text !== '') {
        try {
          parsed = JSON.parse(text)
        } catch {
          parsed = text
        }
      }
      const output = { status, headers: resHeaders, body: parsed }
      const input = { method, url: url.toString(), headers: redact(headers), body: c.body ?? null }
      if (c.fail_on_status !== false && (status < 200 || status > 299)) {
        // 4xx other than 408/429 will answer the same next time.
        const retryable = status >= 500 || status === 408 || status === 429
        throw new StepError(`${method} ${url.origin}${url.pathname} answered ${status}`, { response: output }, retryable)
      }
      return { output, input }
    },
  }
}

/** The BlockedAddressError somewhere in an error's causes (undici wraps connect errors). */
function blockedIn(err: unknown, depth = 0): Error | null {
  if (!err || typeof err !== 'object' || depth > 5) return null
  if ((err as Error).name === 'BlockedAddressError') return err as Error
  for (const inner of [(err as { cause?: unknown }).cause, ...((err as { errors?: unknown[] }).errors ?? [])]) {
    const found = blockedIn(inner, depth + 1)
    if (found) return found
  }
  return null
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy()
      throw new StepError(`the response is larger than ${MAX_RESPONSE_BYTES} bytes`, {}, false)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const SECRET_HEADER = /authorization|cookie|api-key|token|secret/i
const redact = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, SECRET_HEADER.test(k) ? '[redacted]' : v]))

const delay: StepType = {
  type: 'delay',
  summary: 'Waits (durably: no worker is held) for a number of seconds or until a time',
  config: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: { seconds: { type: ['number', 'string'] }, until: { type: 'string', minLength: 1 } },
  },
  pure: false,
  async run(env) {
    if (env.waited) return { output: { waited_until: env.waited.wakeAt?.toISOString() ?? null } }
    const c = (await render(env.config, env.context)) as { seconds?: unknown; until?: unknown }
    let until: Date
    if (c.seconds !== undefined) {
      const s = Number(c.seconds)
      if (!Number.isFinite(s) || s < 0 || s > 366 * 86400) throw new StepError(`seconds must be a number from 0 to ${366 * 86400}, got ${JSON.stringify(c.seconds)}`, {}, false)
      until = new Date(env.now().getTime() + s * 1000)
    } else {
      until = new Date(String(c.until))
      if (Number.isNaN(until.getTime())) throw new StepError(`until must be an ISO 8601 time, got ${JSON.stringify(c.until)}`, {}, false)
    }
    if (until.getTime() <= env.now().getTime()) return { output: { waited_until: until.toISOString() } }
    return { wait: { until } }
  },
}

const approval: StepType = {
  type: 'approval',
  summary:
    'Waits for a person to approve or reject through the API (POST /executions/{id}/steps/{step_id}/decision), with an optional timeout; output.result is true when approved, for "true"/"false" branches',
  config: {
    type: 'object',
    additionalProperties: false,
    properties: {
      message: { type: 'string', maxLength: 4000 },
      /** E-mails of the people who may decide; empty or absent: any member who may write automations. */
      approvers: { type: 'array', items: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 320 }, maxItems: 100, uniqueItems: true },
      timeout_seconds: { type: 'integer', minimum: 1, maximum: 366 * 86400 },
      on_timeout: { enum: ['fail', 'approve', 'reject'], default: 'fail' },
      /** fail: a rejection fails the step (and the execution); continue: the step succeeds with result false. */
      on_reject: { enum: ['fail', 'continue'], default: 'fail' },
    },
  },
  pure: false,
  async run(env) {
    const c = env.config as { message?: string; approvers?: string[]; timeout_seconds?: number; on_timeout?: string; on_reject?: string }
    if (env.waited) {
      const w = (env.waited.output ?? {}) as { decision?: string; by?: string; comment?: string | null; decided_at?: string; message?: string }
      let decision = w.decision
      let timedOut = false
      if (!decision) {
        if (!env.waited.wakeAt) return { wait: { until: null }, output: env.waited.output } // woken without a decision or a timeout: wait on
        timedOut = true
        if ((c.on_timeout ?? 'fail') === 'fail') throw new StepError(`nobody decided within ${c.timeout_seconds} s`, {}, false)
        decision = c.on_timeout
      }
      const output = { result: decision === 'approve', decision, by: w.by ?? null, comment: w.comment ?? null, decided_at: w.decided_at ?? env.now().toISOString(), timed_out: timedOut, message: w.message ?? null }
      if (decision === 'reject' && (c.on_reject ?? 'fail') === 'fail') throw new StepError(timedOut ? 'rejected: nobody decided in time' : `rejected by ${w.by}${w.comment ? `: ${w.comment}` : ''}`, { decision: output }, false)
      return { output }
    }
    const message = c.message === undefined ? null : String(await render(c.message, env.context))
    const until = c.timeout_seconds ? new Date(env.now().getTime() + c.timeout_seconds * 1000) : null
    env.emit({ type: 'execution.approval_requested', data: { automation_id: env.execution.automationId, step_id: env.stepId, message, approvers: c.approvers ?? [], expires_at: until?.toISOString() ?? null } })
    return { wait: { until }, output: { status: 'pending', message, approvers: c.approvers ?? [] } }
  },
}

/** Event types the engine writes itself; a workflow may not forge them. */
const RESERVED_EVENT_PREFIXES = ['execution.', 'step.', 'job.', 'automation.', 'auth.', 'user.', 'organization.', 'api_key.']

const emitEvent: StepType = {
  type: 'emit_event',
  summary: 'Writes an event to the event log (triggers, webhooks and consumers see it), with the execution trace id',
  config: {
    type: 'object',
    required: ['type'],
    additionalProperties: false,
    properties: { type: { type: 'string', pattern: '^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)+$', maxLength: 100 }, data: {} },
  },
  pure: false,
  check(config, base) {
    const t = String(config.type ?? '')
    const reserved = RESERVED_EVENT_PREFIXES.find((p) => t.startsWith(p))
    return reserved ? [{ path: `${base}/type`, message: `event types starting with ${reserved} are written by Stratum itself` }] : []
  },
  async run(env) {
    const data = env.config.data === undefined ? {} : await render(env.config.data, env.context)
    const payload = data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : { value: data }
    env.emit({ type: env.config.type, data: payload })
    return { output: { type: env.config.type, data: payload } }
  },
}

function codeStep(sandbox: Sandbox): StepType {
  return {
    type: 'code',
    summary: 'Runs JavaScript in a QuickJS (WASM) sandbox on a worker thread, with memory and time limits; `context` holds the execution context and the value the source returns is the output (console lines become step logs)',
    config: {
      type: 'object',
      required: ['source'],
      additionalProperties: false,
      properties: {
        source: { type: 'string', minLength: 1, maxLength: 100_000 },
        timeout_ms: { type: 'integer', minimum: 1, maximum: 60_000, default: 1000 },
        memory_mb: { type: 'integer', minimum: 1, maximum: 256, default: 32 },
      },
    },
    pure: true,
    async run(env) {
      const timeoutMs = env.config.timeout_ms ?? 1000
      const memoryMb = env.config.memory_mb ?? 32
      const r = await sandbox.run({ source: env.config.source, context: env.context, timeoutMs, memoryMb, signal: env.signal })
      for (const l of r.logs) env.log(l.level, l.message)
      if (r.ok) return { output: JSON.parse(r.json ?? 'null') }
      if (r.kind === 'timeout') throw new StepError(`the code ran longer than its ${timeoutMs} ms limit and was stopped`, {}, false)
      if (r.kind === 'memory') throw new StepError(`the code used more than its ${memoryMb} MB memory limit and was stopped`, {}, false)
      throw new StepError(`the code threw ${r.message}`, {}, false)
    },
  }
}

/**
 * Python in a subprocess (notebook cells run in order in one interpreter, sharing their
 * variables), with time and output limits. Off unless PYTHON_STEPS is on: it runs with the
 * server user's rights. `context` holds the execution context; a variable `output` set by the
 * cells becomes the step's output together with stdout and stderr per cell and for the run.
 */
export const PYTHON_OFF = 'python steps are off on this server: an admin turns them on with PYTHON_STEPS=true'

export function pythonStep(opts: { enabled: boolean; python: string }): StepType {
  const cell = { type: 'object', required: ['source'], additionalProperties: false, properties: { id: { type: 'string', pattern: '^[a-zA-Z0-9-_]{1,64}$' }, cell_type: { enum: ['code', 'markdown'], default: 'code' }, source: { type: 'string', maxLength: 1_000_000 } } }
  return {
    type: 'python',
    summary: 'Runs Python 3 code cells in order in one subprocess (notebooks), with time and output limits; off unless an admin sets PYTHON_STEPS=true',
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        cells: { type: 'array', items: cell, minItems: 1, maxItems: 500 },
        source: { type: 'string', minLength: 1, maxLength: 1_000_000 },
        timeout_ms: { type: 'integer', minimum: 1, maximum: 3_600_000, default: 60_000 },
        max_output_bytes: { type: 'integer', minimum: 1024, maximum: 16_777_216, default: 1_048_576 },
      },
      anyOf: [{ required: ['cells'] }, { required: ['source'] }],
    },
    pure: false,
    check(_config, base, how) {
      return opts.enabled || how?.deferSettings ? [] : [{ path: `${base}`, message: PYTHON_OFF }]
    },
    async run(env) {
      if (!opts.enabled) throw new StepError(PYTHON_OFF, {}, false)
      const c = env.config as { cells?: { id?: string; cell_type?: string; source: string }[]; source?: string; timeout_ms?: number; max_output_bytes?: number }
      const cells = (c.cells ?? [{ id: 'main', source: c.source! }]).map((x, i) => ({ ...x, id: x.id ?? `cell-${i + 1}` })).filter((x) => (x.cell_type ?? 'code') === 'code')
      const timeoutMs = c.timeout_ms ?? 60_000
      const r = await runPython({ cells: cells.map((x) => ({ id: x.id, source: x.source })), timeoutMs, maxOutputBytes: c.max_output_bytes ?? 1_048_576, signal: env.signal, python: opts.python, input: env.context })
      for (const x of r.cells) {
        if (x.stdout) env.log('info', `[${x.id}] ${x.stdout.slice(0, 4000)}`)
        if (x.stderr) env.log('warning', `[${x.id}] ${x.stderr.slice(0, 4000)}`)
      }
      const result = { cells: r.cells, stdout: r.stdout, stderr: r.stderr, duration_ms: r.duration_ms }
      if (r.ok) return { output: { ...result, output: r.output ?? null } }
      const failed = r.cells.find((x) => x.status === 'error')
      const message =
        r.kind === 'missing_python' ? (r.message ?? 'python3 was not found on this server')
        : r.kind === 'timeout' ? `the python code ran longer than its ${timeoutMs} ms limit and was stopped`
        : r.kind === 'output_limit' ? `the python code wrote more than its ${c.max_output_bytes ?? 1_048_576} bytes of output and was stopped`
        : failed?.error ? `cell ${failed.id} raised ${failed.error.ename}: ${failed.error.evalue}`
        : (r.message ?? 'the python code failed')
      throw new StepError(message, { result }, false)
    },
  }
}

export function stepTypes(guard: NetGuard, sandbox: Sandbox, python: { enabled: boolean; python: string } = { enabled: false, python: 'python3' }): Map<string, StepType> {
  return new Map([transform, condition, httpStep(guard), delay, approval, emitEvent, codeStep(sandbox), pythonStep(python)].map((s) => [s.type, s]))
}
