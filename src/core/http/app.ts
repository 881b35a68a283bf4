// Builds the HTTP app (tests use it without listening; `stratum serve` listens). Every route
// comes with TypeBox request and response schemas that drive validation, serialisation and
// the OpenAPI document.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { uuidv7 } from 'uuidv7'
import type { Config } from '../../config.ts'
import type { Database } from '../db/database.ts'
import type { Actor, Credential, RequestContext } from '../context.ts'
import type { EventLog } from '../events/events.service.ts'
import type { FileStore } from '../files/fileStore.ts'
import type { Logger } from '../observability/logger.ts'
import type { Metrics } from '../observability/metrics.ts'
import { BadRequestError, ForbiddenError, UnauthorizedError } from '../errors.ts'
import { UNSCOPED_TO_ORGANIZATION } from '../scopes.ts'
import { continueTrace, traceparentOf } from './trace.ts'
import { ProblemSchema, sendProblem, toProblem } from './problem.ts'
import { healthRoutes } from './health.routes.ts'
import { eventRoutes } from '../events/events.routes.ts'
import { jobRoutes } from '../jobs/jobs.routes.ts'
import { fileRoutes } from '../files/files.routes.ts'

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext
  }
}

export interface Caller {
  actor: Actor
  /** Null when a user belongs to several organisations and chose none (X-Organization). */
  organizationId: string | null
  credential: Credential
}

/** Resolves who is calling; the identity module provides the real one. */
export interface Authenticator {
  /**
   * The caller named by the request's credentials, or null when it carries none. Throws
   * UnauthorizedError for bad credentials and a rate-limit error when a key is over its limit;
   * may set response headers (RateLimit-*).
   */
  authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Caller | null>
  /** Called after each answer to an API request (usage accounting). */
  recordResponse?(req: FastifyRequest, reply: FastifyReply): void
  close?(): Promise<void>
}

/** What a route declares in `config`: the scope it needs, or that it is public. */
export interface RouteAccess {
  scope?: string
  public?: boolean
}

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: string
    public?: boolean
  }
}

export interface AppDeps {
  config: Pick<Config, 'bodyLimitBytes' | 'fileMaxBytes' | 'trustProxy'>
  database: Database
  log: Logger
  metrics: Metrics
  events: EventLog
  files: FileStore
  authenticator?: Authenticator
  version: string
}

export type App = FastifyInstance<any, any, any, Logger, TypeBoxTypeProvider>

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function ajv(coerce: boolean) {
  const instance = new Ajv({
    allErrors: true,
    strict: false,
    useDefaults: true,
    removeAdditional: false, // unknown fields are an error, never silently dropped
    coerceTypes: coerce ? 'array' : false,
  })
  ;(addFormats as unknown as (a: Ajv) => void)(instance)
  // RFC 3339 as ajv-formats reads it, but only instants a Date and PostgreSQL can hold: no leap
  // second (23:59:60), no year 0000.
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
  instance.addFormat('date-time', { type: 'string', validate: (v: string) => rfc3339.test(v) && !v.startsWith('0000') && !Number.isNaN(Date.parse(v)) && !/[Tt ]\d{2}:\d{2}:60/.test(v) })
  return instance
}

/** Whether a JSON text holds a NUL in some string (only parsed when the escape appears at all). */
function containsNul(text: string): boolean {
  let found = false
  try {
    JSON.parse(text, (_k, v: unknown) => {
      if (typeof v === 'string' && v.includes('\0')) found = true
      return v
    })
  } catch {
    return false // not JSON: the parser answers that
  }
  return found
}

/** An API request: by its matched route when there is one (the router decodes the path), else by its URL. */
const isApiRequest = (routeUrl: string | undefined, req: FastifyRequest) => (routeUrl ?? req.url).startsWith('/api/')

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : uuidv7()
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A hop count is documented Fastify behaviour its typings omit.
    trustProxy: deps.config.trustProxy as boolean | string[],
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App

  // Bodies are validated strictly (no type coercion); path and query strings are coerced.
  const strict = ajv(false)
  const coercing = ajv(true)
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema))

  // JSON bodies: PostgreSQL text cannot hold NUL, so a string containing one is refused up front
  // (400) rather than failing half-way into a write. Fastify's own parser does the rest.
  const defaultJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string
    if (text.includes('\\u0000') && containsNul(text)) {
      done(new BadRequestError('JSON strings may not contain NUL (\\u0000)', [{ path: '/body', message: 'contains \\u0000' }]), undefined)
      return
    }
    defaultJson(req, text, done)
  })
  app.decorateRequest('ctx', null as unknown as RequestContext)
  const authenticator: Authenticator = deps.authenticator ?? { authenticate: async () => null }
  app.addHook('onRequest', async (req, reply) => {
    const trace = continueTrace(req.headers.traceparent)
    req.ctx = { requestId: String(req.id), traceId: trace.traceId, actor: null, organizationId: null }
    reply.header('x-request-id', String(req.id))
    reply.header('traceparent', traceparentOf(trace))
    // Decided on the matched route, not the raw URL: `/%61pi/v1/...` or an absolute-form request
    // line reaches the same handler and must meet the same check.
    // req.routeOptions builds and freezes a new object on every access: read it once.
    const route = req.routeOptions
    if (!isApiRequest(route.url, req)) return
    // Every API route needs a caller holding the route's scope unless it says otherwise
    // (config.public), checked here, before any validation or handler runs.
    const access = (route.config ?? {}) as RouteAccess
    if (access.public) {
      // A public route (sign-up, log-in) works for anyone; a stale token sent along is ignored.
      const caller = await authenticator.authenticate(req, reply).catch(() => null)
      if (caller) req.ctx = { ...req.ctx, actor: caller.actor, organizationId: caller.organizationId, credential: caller.credential }
      return
    }
    const caller = await authenticator.authenticate(req, reply)
    if (caller) req.ctx = { ...req.ctx, actor: caller.actor, organizationId: caller.organizationId, credential: caller.credential }
    if (!caller) throw new UnauthorizedError('this request needs Authorization: Bearer <session token or API key>')
    if (route.url === undefined) return // no such route: the not-found handler answers
    if (!access.scope) throw new ForbiddenError('this route declares no scope, so nobody may call it')
    if (!caller.credential.scopes.includes(access.scope)) {
      throw new ForbiddenError(`this needs the scope ${access.scope}, which your credentials do not carry`, { required_scope: access.scope })
    }
    if (!caller.organizationId && !UNSCOPED_TO_ORGANIZATION.has(access.scope)) {
      throw new BadRequestError('you belong to several organisations: choose one with the X-Organization header (slug or id)', [
        { path: '/headers/x-organization', message: 'is required' },
      ])
    }
  })
  // The scope each route needs appears in the OpenAPI document as its security requirement.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return
    const access = (route.config ?? {}) as RouteAccess
    // Every authenticated route may answer 403 (scope) and 429 (the key's rate limit).
    const response = route.schema?.response as Record<string, unknown> | undefined
    const more = response && !access.public ? { response: { 403: ProblemSchema, 429: ProblemSchema, ...response } } : {}
    route.schema = { ...route.schema, ...more, security: access.public ? [] : [{ bearer: access.scope ? [access.scope] : [] }] } as typeof route.schema
  })
  app.addHook('onResponse', async (req, reply) => {
    const routeUrl = req.routeOptions.url
    if (isApiRequest(routeUrl, req)) authenticator.recordResponse?.(req, reply)
    deps.metrics.httpDuration.observe(
      { method: req.method, route: routeUrl ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
  // On shutdown, requests already in flight finish and their keep-alive connections close
  // after the answer; otherwise an idle client would hold the server open until keep-alive
  // timed out.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close')
    return payload
  })
  app.addHook('onClose', async () => {
    await authenticator.close?.()
  })
  app.setErrorHandler((err, req, reply) => sendProblem(reply, toProblem(err as Error, req)))
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, { type: '/problems/not-found', title: 'Not found', status: 404, detail: `no route ${req.method} ${req.url.split('?')[0]}` }),
  )

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Stratum API', version: deps.version, description: 'Operational and experimental data platform' },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(healthRoutes, { database: deps.database, metrics: deps.metrics })
  await app.register(
    async (api) => {
      await api.register(eventRoutes, { database: deps.database })
      await api.register(jobRoutes, { database: deps.database, events: deps.events })
      await api.register(fileRoutes, { database: deps.database, events: deps.events, files: deps.files, maxBytes: deps.config.fileMaxBytes })
    },
    { prefix: '/api/v1' },
  )
  return app
}
