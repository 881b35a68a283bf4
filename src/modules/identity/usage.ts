// API key usage (seed 004 `api_usage`): rows are buffered in memory and written in one
// statement per second (or per 500 rows), with each key's last_used_at, so recording usage
// never adds a database write to the request it describes.
import { sql } from 'drizzle-orm'
import type { Database } from '../../core/db/database.ts'
import type { Logger } from '../../core/observability/logger.ts'

export interface UsageRow {
  api_key_id: string
  organization_id: string
  endpoint: string
  method: string
  status_code: number
  response_time_ms: number
  timestamp: string
}

const FLUSH_ROWS = 500
const FLUSH_MS = 1000

export function createUsageRecorder(deps: { database: Database; log: Logger }) {
  let buffer: UsageRow[] = []
  let flushing: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | null = null

  async function write(batch: UsageRow[]) {
    const payload = JSON.stringify(batch)
    await deps.database.transaction(async (tx) => {
      // Keys are revoked, never deleted, but an organisation's deletion cascades to them: rows
      // for a key that no longer exists are dropped rather than failing the batch.
      await tx.execute(sql`
        insert into api_usage (api_key_id, organization_id, endpoint, method, status_code, response_time_ms, timestamp)
        select u.api_key_id, u.organization_id, u.endpoint, u.method, u.status_code, u.response_time_ms, u.timestamp
        from jsonb_to_recordset(${payload}::jsonb) as u(api_key_id uuid, organization_id uuid, endpoint text, method text, status_code int, response_time_ms int, timestamp timestamptz)
        where exists (select 1 from api_keys k where k.id = u.api_key_id)`)
      await tx.execute(sql`
        update api_keys k set last_used_at = greatest(k.last_used_at, u.last)
        from (select api_key_id, max(timestamp) as last
              from jsonb_to_recordset(${payload}::jsonb) as x(api_key_id uuid, timestamp timestamptz) group by api_key_id) u
        where k.id = u.api_key_id`)
    })
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer)
      timer = null
    }
    if (buffer.length === 0) return flushing
    const batch = buffer
    buffer = []
    flushing = flushing.then(() => write(batch)).catch((err) => deps.log.error({ err, rows: batch.length }, 'api usage rows could not be written'))
    return flushing
  }

  return {
    record(row: UsageRow) {
      buffer.push(row)
      if (buffer.length >= FLUSH_ROWS) void flush()
      else if (!timer) {
        timer = setTimeout(() => void flush(), FLUSH_MS)
        timer.unref()
      }
    },
    flush,
  }
}
