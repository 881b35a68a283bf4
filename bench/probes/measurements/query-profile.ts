// CPU profile of POST /datapoints/query requests only (after warm-up), on the database kept by
// `KEEP=1 SERIES=100 npx tsx bench/rollups.bench.ts`; prints the top self-time functions.
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/bench_rollups npx tsx bench/probes/measurements/query-profile.ts 450s [rollups]
import { mkdtempSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const { loadConfig } = await import('../../../src/config.ts')
const { openPostgres } = await import('../../../src/core/db/postgres.ts')
const { createApp, openRuntime } = await import('../../../src/core/runtime.ts')
const { createLogger } = await import('../../../src/core/observability/logger.ts')
const database = await openPostgres({ url: process.env.DATABASE_URL!, poolMax: 10, statementTimeoutMs: 0, applicationName: 'probe' })
const rt = await openRuntime(loadConfig({ STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'probe-')), LOG_LEVEL: 'silent' }), createLogger('silent', { pretty: false }), { database, migrate: false })
const app = await createApp(rt)
const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'rollups@example.com', password: 'bench password 1' } })
const headers = { authorization: `Bearer ${login.json().token}` }
const ids = ((await database.pool.query('select id::text from series order by key limit 100')).rows as { id: string }[]).map((r) => r.id)
const body = { series_ids: ids, start: '2026-11-01T00:00:00Z', end: process.env.END ?? '2026-11-02T04:00:00Z', granularity: process.argv[2] ?? '450s', aggregates: ['avg', 'min', 'max', 'count'], time_zone: 'UTC', rollups: process.argv[3] !== 'false' }
const run = async () => {
  const t = performance.now()
  const res = await app.inject({ method: 'POST', url: '/api/v1/datapoints/query', headers, payload: body })
  return { status: res.statusCode, ms: performance.now() - t, bytes: res.body.length }
}
for (let i = 0; i < 2; i++) console.log('warm', await run())
const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.start')
for (let i = 0; i < Number(process.env.RUNS ?? 5); i++) console.log('run', await run())
const { profile } = await session.post('Profiler.stop')
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<string, number>()
profile.samples!.forEach((s, i) => {
  const n = byId.get(s)!
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`
  self.set(k, (self.get(k) ?? 0) + profile.timeDeltas![i]!)
})
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / 1000).toFixed(1).padStart(8), k)
await app.close()
await database.close()
