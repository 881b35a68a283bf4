// Which statements one POST /datapoints/query of 100 series runs, and how long each kind takes
// (PostgreSQL; the database bench_rollups kept by `KEEP=1 npx tsx bench/rollups.bench.ts`).
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/bench_rollups npx tsx bench/probes/measurements/query-statements.ts [granularity] [rollups]
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type pg from 'pg'
const { loadConfig } = await import('../../../src/config.ts')
const { openPostgres } = await import('../../../src/core/db/postgres.ts')
const { createApp, openRuntime } = await import('../../../src/core/runtime.ts')
const { createLogger } = await import('../../../src/core/observability/logger.ts')
const appPg = createRequire(join(import.meta.dirname, '..', '..', '..', 'src', 'index.js'))('pg') as typeof pg
const sqlMs = new Map<string, { n: number; ms: number }>()
const query = appPg.Client.prototype.query as (...a: unknown[]) => unknown
appPg.Client.prototype.query = function (this: unknown, ...a: unknown[]) {
  const q = a[0] as string | { text?: string }
  const text = (typeof q === 'string' ? q : (q?.text ?? '')).replace(/\s+/g, ' ').slice(0, 60)
  const t = performance.now()
  const r = query.apply(this, a) as Promise<unknown>
  r?.then?.(() => { const e = sqlMs.get(text) ?? { n: 0, ms: 0 }; e.n++; e.ms += performance.now() - t; sqlMs.set(text, e) }, () => {})
  return r
} as typeof appPg.Client.prototype.query
const database = await openPostgres({ url: process.env.DATABASE_URL!, poolMax: 10, statementTimeoutMs: 0, applicationName: 'probe' })
const rt = await openRuntime(loadConfig({ STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'probe-')), LOG_LEVEL: 'silent' }), createLogger('silent', { pretty: false }), { database, migrate: false })
const app = await createApp(rt)
const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'rollups@example.com', password: 'bench password 1' } })
const headers = { authorization: `Bearer ${login.json().token}` }
const ids = ((await database.pool.query('select id::text from series order by key limit 100')).rows as { id: string }[]).map((r) => r.id)
const body = { series_ids: ids, start: '2026-11-01T00:00:00Z', end: process.env.END ?? '2026-11-04T00:00:00Z', granularity: process.argv[2] ?? '1h', aggregates: ['avg', 'min', 'max', 'count'], time_zone: 'UTC', rollups: process.argv[3] !== 'false' }
for (let r = 0; r < 3; r++) {
  sqlMs.clear()
  const t = performance.now()
  const res = await app.inject({ method: 'POST', url: '/api/v1/datapoints/query', headers, payload: body })
  const total = performance.now() - t
  console.log(res.statusCode, 'total ms', total.toFixed(1))
}
console.table([...sqlMs].map(([k, v]) => ({ sql: k, n: v.n, ms: +v.ms.toFixed(1) })).sort((a, b) => b.ms - a.ms))
await app.close()
await database.close()
