// API keys (seed 004 `api_keys`, `api_usage`): shown once, stored as a SHA-256 hash and a
// display prefix, never wider than their creator's scopes. Usage is summarised per key.
import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm'
import { hasScope, type RequestContext } from '../../core/context.ts'
import { rows, type Executor } from '../../core/db/database.ts'
import type { NewEvent } from '../../core/events/events.service.ts'
import { ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import { listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, isDeviceType, orgOf } from '../../core/tenancy.ts'
import { DEVICE_SCOPES, NOT_DELEGABLE, SCOPES } from '../../core/scopes.ts'
import { USAGE_BUCKETS_MS, apiKeys, apiUsage } from './identity.schema.ts'
import { newApiKey } from './tokens.ts'
import type { IdentityDeps } from './shared.ts'

type ApiKeyRow = typeof apiKeys.$inferSelect

/** The upper bound of the histogram bucket that holds quantile `q` (null: no requests; above the last bound: the largest bound). */
function percentileBound(histogram: { i: number; n: number }[], total: number, q: number): number | null {
  if (total === 0) return null
  let seen = 0
  for (const { i, n } of histogram) {
    seen += n
    if (seen >= q * total) return USAGE_BUCKETS_MS[i - 1] ?? USAGE_BUCKETS_MS[USAGE_BUCKETS_MS.length - 1]!
  }
  return null
}

export const toApiKeyView = (k: ApiKeyRow, now: Date) => ({
  id: k.id,
  organization_id: k.organizationId,
  user_id: k.userId,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  device_id: k.deviceId,
  rate_limit_per_minute: k.rateLimitPerMinute,
  status: (!k.isActive ? 'revoked' : k.expiresAt && k.expiresAt <= now ? 'expired' : 'active') as 'revoked' | 'expired' | 'active',
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  expires_at: k.expiresAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
  created_at: k.createdAt.toISOString(),
  updated_at: k.updatedAt.toISOString(),
})

export interface NewApiKey {
  name: string
  scopes: string[]
  rate_limit_per_minute?: number | undefined
  expires_at?: string | undefined
  device_id?: string | undefined
}

export function createApiKeys(deps: IdentityDeps) {
  const { database, clock } = deps

  /** Only admins see and revoke other people's keys. */
  const visible = (ctx: RequestContext): SQL | undefined => (hasScope(ctx, 'admin') ? undefined : eq(apiKeys.userId, ctx.credential?.userId ?? ''))

  async function find(ctx: RequestContext, id: string) {
    const [row] = await database.db.select().from(apiKeys).where(and(inOrg(apiKeys, ctx), eq(apiKeys.id, id), visible(ctx)))
    if (!row) throw new NotFoundError(`API key ${id} not found`)
    return row
  }

  function checkScopes(ctx: RequestContext, input: NewApiKey): string[] {
    if (input.device_id) {
      if (!hasScope(ctx, 'assets:write')) throw new ForbiddenError('creating a device key needs the scope assets:write', { required_scope: 'assets:write' })
      const extra = input.scopes.filter((s) => !DEVICE_SCOPES.includes(s))
      if (extra.length) throw new ValidationError('a device key carries only the device scope', [{ path: '/body/scopes', message: `a device key cannot carry ${extra.join(', ')}` }])
      return [...DEVICE_SCOPES]
    }
    const unknown: FieldError[] = input.scopes.flatMap((s, i) => (SCOPES.includes(s) ? [] : [{ path: `/body/scopes/${i}`, message: `${s} is not a known scope` }]))
    if (unknown.length) throw new ValidationError('unknown scopes', unknown)
    const denied = input.scopes.filter((s) => NOT_DELEGABLE.has(s) || !hasScope(ctx, s))
    if (denied.length) {
      throw new ForbiddenError(`a key cannot carry scopes its creator does not hold or that keys never carry: ${denied.join(', ')}`, { denied_scopes: denied })
    }
    return [...new Set(input.scopes)]
  }

  return {
    async create(ctx: RequestContext, input: NewApiKey) {
      const organizationId = orgOf(ctx)
      const scopes = checkScopes(ctx, input)
      const now = clock()
      const expiresAt = input.expires_at ? new Date(input.expires_at) : null
      if (expiresAt && expiresAt <= now) throw new ValidationError('expires_at is in the past', [{ path: '/body/expires_at', message: 'must be in the future' }])
      const { key, hash, prefix } = newApiKey()
      return database.transaction(async (tx) => {
        const [row] = await tx
          .insert(apiKeys)
          .values({
            organizationId,
            userId: ctx.credential!.userId,
            name: input.name,
            keyHash: hash,
            prefix,
            scopes,
            rateLimitPerMinute: input.rate_limit_per_minute ?? null,
            deviceId: input.device_id ?? null,
            expiresAt,
            createdAt: now,
            updatedAt: now,
          })
          .returning()
        await deps.events.appendEvent(tx, ctx, { type: 'api_key.created', entityType: 'api_key', entityId: row!.id, data: { name: row!.name, prefix, scopes, device_id: row!.deviceId, expires_at: expiresAt?.toISOString() ?? null } })
        return { ...toApiKeyView(row!, now), key }
      })
    },

    async list(ctx: RequestContext, page: { limit: number; cursor?: string | undefined }) {
      const result = await listNewestFirst(database.db, apiKeys, [inOrg(apiKeys, ctx), visible(ctx)], page)
      const now = clock()
      return { data: result.data.map((k) => toApiKeyView(k, now)), next_cursor: result.next_cursor }
    },

    get: async (ctx: RequestContext, id: string) => toApiKeyView(await find(ctx, id), clock()),

    /**
     * Reaction to `entity.deleted`: a deleted device's keys are revoked in the same transaction,
     * so a retired sensor cannot go on posting readings. Restoring the device does not bring
     * them back; it gets a new key.
     */
    async revokeDeviceKeys(tx: Executor, ctx: RequestContext, batch: NewEvent[]) {
      const devices = batch.filter((e) => isDeviceType(e.entityType)).map((e) => e.entityId)
      if (devices.length === 0 || !ctx.organizationId) return
      const revoked = await tx
        .update(apiKeys)
        .set({ isActive: false, revokedAt: clock() })
        .where(and(inOrg(apiKeys, ctx), sql`${apiKeys.deviceId} = any(${sql.param(devices)}::uuid[])`, eq(apiKeys.isActive, true)))
        .returning()
      for (const k of revoked) deps.cache.forgetKey(k.id)
      await deps.events.appendEvents(tx, ctx, revoked.map((k) => ({ type: 'api_key.revoked', entityType: 'api_key', entityId: k.id, data: { name: k.name, prefix: k.prefix, reason: 'device deleted', device_id: k.deviceId } })))
    },

    async revoke(ctx: RequestContext, id: string) {
      const row = await find(ctx, id)
      if (!row.isActive) return toApiKeyView(row, clock())
      const done = await database.transaction(async (tx) => {
        const [done] = await tx.update(apiKeys).set({ isActive: false, revokedAt: clock() }).where(and(inOrg(apiKeys, ctx), eq(apiKeys.id, id))).returning()
        await deps.events.appendEvent(tx, ctx, { type: 'api_key.revoked', entityType: 'api_key', entityId: id, data: { name: row.name, prefix: row.prefix } })
        return done!
      })
      deps.cache.forgetKey(id)
      return toApiKeyView(done, clock())
    },

    /**
     * Requests made with the key: totals, status classes, timings and the busiest endpoints, from
     * the per-minute rollups (so `since`/`until` are rounded to whole minutes, and p95 is the
     * upper bound of the histogram bucket holding the 95th percentile).
     */
    async usage(ctx: RequestContext, id: string, range: { since?: string | undefined; until?: string | undefined }) {
      await deps.cache.flushUsage()
      const key = await find(ctx, id)
      const where = and(
        eq(apiUsage.apiKeyId, key.id),
        inOrg(apiUsage, ctx),
        range.since ? gte(apiUsage.minute, sql`date_trunc('minute', ${new Date(range.since)}::timestamptz)`) : undefined,
        range.until ? lt(apiUsage.minute, new Date(range.until)) : undefined,
      )
      const [totals] = await rows<{ requests: number; errors: number; total_ms: number | null; max_ms: number | null; first: string | null; last: string | null }>(
        database.db,
        sql`select coalesce(sum(request_count), 0)::int as requests,
                   coalesce(sum(request_count) filter (where status_code >= 400), 0)::int as errors,
                   sum(response_time_ms_total)::float8 as total_ms, max(response_time_ms_max) as max_ms,
                   min(minute) as first, max(minute) as last
            from ${apiUsage} where ${where}`,
      )
      const histogram = await rows<{ i: number; n: number }>(
        database.db,
        sql`select i, sum(response_time_histogram[i])::int as n
            from ${apiUsage} cross join generate_series(1, ${USAGE_BUCKETS_MS.length + 1}) as i
            where ${where} group by i order by i`,
      )
      const byStatus = await database.db
        .select({ status_class: sql<string>`(${apiUsage.statusCode} / 100)::text || 'xx'`, requests: sql<number>`sum(${apiUsage.requestCount})::int` })
        .from(apiUsage)
        .where(where)
        .groupBy(sql`1`)
        .orderBy(sql`1`)
      const byEndpoint = await database.db
        .select({
          method: apiUsage.method,
          endpoint: apiUsage.endpoint,
          requests: sql<number>`sum(${apiUsage.requestCount})::int`,
          errors: sql<number>`(coalesce(sum(${apiUsage.requestCount}) filter (where ${apiUsage.statusCode} >= 400), 0))::int`,
          avg_ms: sql<number>`round((sum(${apiUsage.responseTimeMsTotal})::numeric / sum(${apiUsage.requestCount})), 1)::float8`,
        })
        .from(apiUsage)
        .where(where)
        .groupBy(apiUsage.method, apiUsage.endpoint)
        .orderBy(sql`sum(${apiUsage.requestCount}) desc`, apiUsage.endpoint)
        .limit(50)
      const t = totals!
      return {
        api_key_id: key.id,
        requests: t.requests,
        errors: t.errors,
        avg_response_time_ms: t.requests ? Math.round((t.total_ms! / t.requests) * 10) / 10 : null,
        p95_response_time_ms: percentileBound(histogram, t.requests, 0.95),
        max_response_time_ms: t.max_ms,
        first_request_at: t.first ? new Date(t.first).toISOString() : null,
        last_request_at: key.lastUsedAt?.toISOString() ?? null,
        last_used_at: key.lastUsedAt?.toISOString() ?? null,
        by_status: byStatus,
        by_endpoint: byEndpoint,
      }
    },
  }
}
