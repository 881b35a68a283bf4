// Who is calling: resolves `Authorization: Bearer <session token | API key>` into a caller with
// scopes. Keys and sessions are cached for `cacheMs` (default 5 s) so an authenticated request
// usually costs no database round trip; revoking in this process evicts at once, and every
// other process drops its copy within `cacheMs`.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { and, eq } from 'drizzle-orm'
import { LRUCache } from 'lru-cache'
import type { Database } from '../../core/db/database.ts'
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from '../../core/errors.ts'
import type { Authenticator, Caller } from '../../core/http/app.ts'
import type { Logger } from '../../core/observability/logger.ts'
import { DEVICE_SCOPES, ROLE_SCOPES } from '../../core/scopes.ts'
import { apiKeys, memberships, organizations, sessions, users, type Role } from './identity.schema.ts'
import { createRateLimiter } from './rateLimit.ts'
import { SESSION_TOKEN, apiKeyChecksumValid, looksLikeApiKey, sha256 } from './tokens.ts'
import { createUsageRecorder } from './usage.ts'

export interface AuthOptions {
  database: Database
  log: Logger
  clock: () => Date
  cacheMs: number
  sessionIdleMs: number
  defaultRateLimitPerMinute: number
}

interface KeyEntry {
  id: string
  organizationId: string
  organizationSlug: string
  userId: string
  scopes: string[]
  deviceId: string | null
  rateLimit: number
  expiresAt: Date | null
  revoked: boolean
}

interface SessionEntry {
  id: string
  userId: string
  expiresAt: Date
  lastActive: Date
  active: boolean
  memberships: { organizationId: string; slug: string; role: Role }[]
}

const TOUCH_EVERY_MS = 60_000

/** A key's scopes, narrowed to what its creator's current role still allows. */
export function effectiveKeyScopes(keyScopes: readonly string[], role: Role | null, deviceId: string | null): string[] {
  if (!role) return []
  // A device key lives only while its creator may still provision devices.
  if (deviceId) return ROLE_SCOPES[role].includes('assets:write') ? [...DEVICE_SCOPES] : []
  const allowed = new Set(ROLE_SCOPES[role])
  return ['self', ...keyScopes.filter((s) => allowed.has(s) && s !== 'self')]
}

export function createAuthenticator(opts: AuthOptions): Authenticator & {
  forgetKey(id: string): void
  forgetSession(id: string): void
  forgetUser(userId: string): void
  forgetAll(): void
  flushUsage(): Promise<void>
} {
  const { database, clock } = opts
  const keyCache = new LRUCache<string, KeyEntry | { missing: true }>({ max: 20_000, ttl: opts.cacheMs })
  const sessionCache = new LRUCache<string, SessionEntry | { missing: true }>({ max: 20_000, ttl: opts.cacheMs })
  // lru-cache reads ttl 0 as "never expires": AUTH_CACHE_TTL_MS=0 must mean "do not cache".
  const caching = opts.cacheMs > 0
  const limiter = createRateLimiter()
  const refused = new WeakMap<FastifyRequest, { id: string; organizationId: string }>()
  const usage = createUsageRecorder({ database, log: opts.log })
  const sweep = setInterval(() => limiter.sweep(clock().getTime()), 60_000)
  sweep.unref()

  async function loadKey(hash: string): Promise<KeyEntry | { missing: true }> {
    const [row] = await database.db
      .select({ key: apiKeys, role: memberships.role, userActive: users.isActive, slug: organizations.slug })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
      .leftJoin(memberships, and(eq(memberships.organizationId, apiKeys.organizationId), eq(memberships.userId, apiKeys.userId)))
      .where(eq(apiKeys.keyHash, hash))
    if (!row) return { missing: true }
    const k = row.key
    return {
      id: k.id,
      organizationId: k.organizationId,
      organizationSlug: row.slug,
      userId: k.userId,
      scopes: row.userActive ? effectiveKeyScopes(k.scopes, row.role, k.deviceId) : [],
      deviceId: k.deviceId,
      rateLimit: k.rateLimitPerMinute ?? opts.defaultRateLimitPerMinute,
      expiresAt: k.expiresAt,
      revoked: !k.isActive,
    }
  }

  async function loadSession(hash: string): Promise<SessionEntry | { missing: true }> {
    const [row] = await database.db
      .select({ session: sessions, userActive: users.isActive })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.tokenHash, hash))
    if (!row) return { missing: true }
    const member = await database.db
      .select({ organizationId: memberships.organizationId, slug: organizations.slug, role: memberships.role })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
      .where(eq(memberships.userId, row.session.userId))
      .orderBy(memberships.createdAt)
    const s = row.session
    return { id: s.id, userId: s.userId, expiresAt: s.expiresAt, lastActive: s.lastActive, active: s.isActive && row.userActive, memberships: member }
  }

  async function apiKeyCaller(token: string, req: FastifyRequest, reply: FastifyReply): Promise<Caller> {
    if (!apiKeyChecksumValid(token)) throw new UnauthorizedError('this API key is malformed or its checksum does not match')
    const hash = sha256(token)
    let entry = keyCache.get(hash)
    if (!entry) {
      entry = await loadKey(hash)
      if (caching) keyCache.set(hash, entry)
    }
    if ('missing' in entry) throw new UnauthorizedError('this API key is not known')
    if (entry.revoked) throw new UnauthorizedError('this API key was revoked')
    const now = clock()
    if (entry.expiresAt && entry.expiresAt <= now) throw new UnauthorizedError(`this API key expired at ${entry.expiresAt.toISOString()}`)
    if (entry.scopes.length === 0) throw new UnauthorizedError('the user who created this API key no longer belongs to its organisation or is deactivated')
    const rate = limiter.take(entry.id, entry.rateLimit, now.getTime())
    reply.header('ratelimit-limit', String(rate.limit))
    reply.header('ratelimit-remaining', String(rate.remaining))
    reply.header('ratelimit-reset', String(rate.resetSeconds))
    if (!rate.allowed) {
      refused.set(req, { id: entry.id, organizationId: entry.organizationId })
      throw new TooManyRequestsError(`this API key may make ${rate.limit} requests a minute`, rate.resetSeconds)
    }
    const wanted = req.headers['x-organization']
    if (typeof wanted === 'string' && wanted !== '' && wanted.toLowerCase() !== entry.organizationId && wanted.toLowerCase() !== entry.organizationSlug) {
      throw new ForbiddenError(`this API key belongs to another organisation than "${wanted}"`)
    }
    return {
      actor: { type: 'api_key', id: entry.id },
      organizationId: entry.organizationId,
      credential: { kind: 'api_key', id: entry.id, userId: entry.userId, deviceId: entry.deviceId, scopes: entry.scopes },
    }
  }

  async function sessionCaller(token: string, req: FastifyRequest): Promise<Caller> {
    const hash = sha256(token)
    let entry = sessionCache.get(hash)
    if (!entry) {
      entry = await loadSession(hash)
      if (caching) sessionCache.set(hash, entry)
    }
    const now = clock()
    if ('missing' in entry || !entry.active) throw new UnauthorizedError('this session has ended: sign in again')
    if (entry.expiresAt <= now) throw new UnauthorizedError('this session expired: sign in again')
    if (entry.lastActive.getTime() + opts.sessionIdleMs <= now.getTime()) throw new UnauthorizedError('this session was idle too long: sign in again')
    if (now.getTime() - entry.lastActive.getTime() > TOUCH_EVERY_MS) {
      entry.lastActive = now
      const id = entry.id
      database.db
        .update(sessions)
        .set({ lastActive: now })
        .where(eq(sessions.id, id))
        .catch((err: unknown) => opts.log.warn({ err, session: id }, 'could not record session activity'))
    }
    const chosen = organizationOf(entry, req.headers['x-organization'])
    const scopes = chosen ? ROLE_SCOPES[chosen.role] : [...new Set(entry.memberships.flatMap((m) => ROLE_SCOPES[m.role]))]
    return {
      actor: { type: 'user', id: entry.userId },
      organizationId: chosen?.organizationId ?? null,
      credential: { kind: 'session', id: entry.id, userId: entry.userId, deviceId: null, scopes: scopes.length ? scopes : ['self', 'account'] },
    }
  }

  function organizationOf(entry: SessionEntry, header: string | string[] | undefined) {
    if (typeof header === 'string' && header !== '') {
      const wanted = header.toLowerCase()
      const found = entry.memberships.find((m) => m.organizationId === wanted || m.slug === wanted)
      if (!found) throw new ForbiddenError(`you are not a member of organisation "${header}"`)
      return found
    }
    return entry.memberships.length === 1 ? entry.memberships[0]! : null
  }

  const forget = <V extends { id?: string; userId?: string }>(cache: LRUCache<string, V | { missing: true }>, match: (v: V) => boolean) => {
    for (const [k, v] of cache.entries()) if (!('missing' in v) && match(v as V)) cache.delete(k)
  }

  return {
    async authenticate(req, reply) {
      const header = req.headers.authorization
      if (header === undefined) return null
      const m = /^Bearer +(\S+)$/i.exec(header)
      if (!m) throw new UnauthorizedError('Authorization must be "Bearer <session token or API key>"')
      const token = m[1]!
      if (looksLikeApiKey(token)) return apiKeyCaller(token, req, reply)
      if (SESSION_TOKEN.test(token)) return sessionCaller(token, req)
      throw new UnauthorizedError('the bearer token is neither a Stratum session token nor an API key')
    },
    recordResponse(req, reply) {
      const c = req.ctx.credential
      // A key's own requests, and those refused for its rate limit (which never got a context).
      const key = c?.kind === 'api_key' ? { id: c.id, organizationId: req.ctx.organizationId } : refused.get(req)
      if (!key?.organizationId) return
      usage.record({
        apiKeyId: key.id,
        organizationId: key.organizationId,
        endpoint: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime),
        at: clock(),
      })
    },
    async close() {
      clearInterval(sweep)
      await usage.flush()
    },
    forgetKey: (id) => forget<KeyEntry>(keyCache, (v) => v.id === id),
    forgetSession: (id) => forget<SessionEntry>(sessionCache, (v) => v.id === id),
    forgetUser(userId) {
      forget<KeyEntry>(keyCache, (v) => v.userId === userId)
      forget<SessionEntry>(sessionCache, (v) => v.userId === userId)
    },
    forgetAll() {
      keyCache.clear()
      sessionCache.clear()
    },
    flushUsage: () => usage.flush(),
  }
}
