// API key usage (seed 004 `api_usage`), rolled up in memory per key, minute, method, endpoint
// and status, and written once a second as one upsert per batch: recording usage adds no
// database write to the request it describes, and the table grows with distinct
// (key, minute, endpoint, status) combinations rather than with requests.
import { sql } from 'drizzle-orm'
import type { Database } from '../../core/db/database.ts'
import type { Logger } from '../../core/observability/logger.ts'
import { USAGE_BUCKETS_MS } from './identity.schema.ts'

export interface UsageSample {
  apiKeyId: string
  organizationId: string
  endpoint: string
  method: string
  statusCode: number
  responseTimeMs: number
  at: Date
}

interface Rollup {
  api_key_id: string
  organization_id: string
  minute: string
  endpoint: string
  method: string
  status_code: number
  request_count: number
  response_time_ms_total: number
  response_time_ms_max: number
  response_time_histogram: number[]
}

const FLUSH_MS = 1000
const MAX_GROUPS = 5000 // flushed early past this many distinct groups

export function bucketOf(ms: number): number {
  for (let i = 0; i < USAGE_BUCKETS_MS.length; i++) if (ms <= USAGE_BUCKETS_MS[i]!) return i
  return USAGE_BUCKETS_MS.length
}

export function createUsageRecorder(deps: { database: Database; log: Logger }) {
  let groups = new Map<string, Rollup>()
  let lastUsed = new Map<string, number>()
  let flushing: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | null = null

  async function write(batch: Rollup[], used: { api_key_id: string; at: string }[]) {
    const payload = JSON.stringify(batch)
    await deps.database.transaction(async (tx) => {
      // Keys are revoked, never deleted, but an organisation's deletion cascades to them: groups
      // of a key that no longer exists are dropped rather than failing the batch.
      await tx.execute(sql`
        insert into api_usage as u (api_key_id, organization_id, minute, endpoint, method, status_code, request_count, response_time_ms_total, response_time_ms_max, response_time_histogram)
        select r.api_key_id, r.organization_id, r.minute, r.endpoint, r.method, r.status_code, r.request_count, r.response_time_ms_total, r.response_time_ms_max, r.response_time_histogram
        from jsonb_to_recordset(${payload}::jsonb) as r(api_key_id uuid, organization_id uuid, minute timestamptz, endpoint text, method text, status_code int,
             request_count int, response_time_ms_total bigint, response_time_ms_max int, response_time_histogram int[])
        where exists (select 1 from api_keys k where k.id = r.api_key_id)
        on conflict (api_key_id, minute, method, endpoint, status_code) do update set
          request_count = u.request_count + excluded.request_count,
          response_time_ms_total = u.response_time_ms_total + excluded.response_time_ms_total,
          response_time_ms_max = greatest(u.response_time_ms_max, excluded.response_time_ms_max),
          response_time_histogram = array(select a + b from unnest(u.response_time_histogram, excluded.response_time_histogram) as h(a, b))`)
      await tx.execute(sql`
        update api_keys k set last_used_at = greatest(k.last_used_at, u.at)
        from jsonb_to_recordset(${JSON.stringify(used)}::jsonb) as u(api_key_id uuid, at timestamptz)
        where k.id = u.api_key_id`)
    })
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer)
      timer = null
    }
    if (groups.size === 0) return flushing
    const batch = [...groups.values()]
    const used = [...lastUsed].map(([api_key_id, at]) => ({ api_key_id, at: new Date(at).toISOString() }))
    groups = new Map()
    lastUsed = new Map()
    flushing = flushing.then(() => write(batch, used)).catch((err) => deps.log.error({ err, groups: batch.length }, 'api usage could not be written'))
    return flushing
  }

  return {
    record(s: UsageSample) {
      const minuteMs = Math.floor(s.at.getTime() / 60_000) * 60_000
      const id = `${s.apiKeyId}|${minuteMs}|${s.method}|${s.endpoint}|${s.statusCode}`
      let g = groups.get(id)
      if (!g) {
        g = {
          api_key_id: s.apiKeyId,
          organization_id: s.organizationId,
          minute: new Date(minuteMs).toISOString(),
          endpoint: s.endpoint,
          method: s.method,
          status_code: s.statusCode,
          request_count: 0,
          response_time_ms_total: 0,
          response_time_ms_max: 0,
          response_time_histogram: new Array(USAGE_BUCKETS_MS.length + 1).fill(0),
        }
        groups.set(id, g)
      }
      if ((lastUsed.get(s.apiKeyId) ?? 0) < s.at.getTime()) lastUsed.set(s.apiKeyId, s.at.getTime())
      g.request_count++
      g.response_time_ms_total += s.responseTimeMs
      if (s.responseTimeMs > g.response_time_ms_max) g.response_time_ms_max = s.responseTimeMs
      g.response_time_histogram[bucketOf(s.responseTimeMs)]!++
      if (groups.size >= MAX_GROUPS) void flush()
      else if (!timer) {
        timer = setTimeout(() => void flush(), FLUSH_MS)
        timer.unref()
      }
    },
    flush,
  }
}
