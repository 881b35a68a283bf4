// What authentication costs: GET /api/v1/jobs?limit=10 with a real API key (the identity
// module's authenticator: checksum, SHA-256, cached lookup, scope check, rate limit, buffered
// usage row) against the same handler and response schema mounted outside /api, where no
// authentication runs. A second pair does the same without the database query (a constant
// page), which isolates the per-request cost of authentication from the query's. All four
// routes live in one server process (PGlite in memory); autocannon runs here, in the parent.
// Run from the repo root:
//   npx tsx bench/auth.bench.ts            # REPS=3 DURATION_S=10 WARMUP_S=3 CONNECTIONS=10
// Raw JSON lines go to bench/results/auth-<time>.jsonl; bench/report.js prints the table.
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchRecord, exitWithParent, out, startChild, stopChild } from './children.ts'

const SELF = fileURLToPath(import.meta.url)
const BENCH = dirname(SELF)

const ROUTES = {
  'api-key': '/api/v1/jobs?limit=10',
  'no-auth': '/bench/jobs?limit=10',
  'api-key-nodb': '/api/v1/bench-const?limit=10',
  'no-auth-nodb': '/bench/const?limit=10',
} as const
type Kind = keyof typeof ROUTES

async function serve() {
  exitWithParent()
  const { loadConfig } = await import('../src/config.ts')
  const { openPglite } = await import('../src/core/db/pglite.ts')
  const { migrate } = await import('../src/core/db/migrate.ts')
  const { createApp, openRuntime } = await import('../src/core/runtime.ts')
  const { createLogger } = await import('../src/core/observability/logger.ts')
  const { enqueueJobs, listJobs, toJobView } = await import('../src/core/jobs/jobs.service.ts')
  const { JobSchema } = await import('../src/core/jobs/jobs.routes.ts')
  const { pageOf, pageQuery } = await import('../src/core/http/pagination.ts')
  const { Strict } = await import('../src/core/http/schemas.ts')
  const { orgOf } = await import('../src/core/tenancy.ts')

  const config = loadConfig({ STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-auth-bench-')), LOG_LEVEL: 'silent' })
  const database = await openPglite({})
  await migrate(database)
  const rt = await openRuntime(config, createLogger('silent', { pretty: false }), { database, migrate: false })
  // Sign-up and key creation go through the API of a first app; the measured one is built after,
  // with the bench routes added (both use the runtime's one identity module and its caches).
  const setup = await createApp(rt)
  const signup = await setup.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Bench', email: 'bench@example.com', password: 'bench password 1' } })
  const { token, organization, user } = signup.json() as { token: string; organization: { id: string }; user: { id: string } }
  const keyRes = await setup.inject({
    method: 'POST',
    url: '/api/v1/api-keys',
    headers: { authorization: `Bearer ${token}` },
    payload: { name: 'bench', scopes: ['jobs:read'], rate_limit_per_minute: 1_000_000 },
  })
  if (signup.statusCode !== 201 || keyRes.statusCode !== 201) throw new Error(`set-up failed: ${signup.body} ${keyRes.body}`)
  const { key } = keyRes.json() as { key: string }
  const ctx = { requestId: 'bench', traceId: '0af7651916cd43dd8448eb211c80319c', actor: { type: 'user' as const, id: user.id }, organizationId: organization.id }
  // 12 jobs, so that the page is full (10 rows) and carries a next_cursor.
  await database.transaction((tx) => enqueueJobs(tx, ctx, Array.from({ length: 12 }, (_, i) => ({ type: 'report.build', params: { report: `weekly-${i}` } }))))

  const app = await createApp(rt) // the real authenticator
  const schema = { querystring: Strict(pageQuery), response: { 200: pageOf(JobSchema) } }
  const page = async (limit: number) => {
    const p = await listJobs(database.db, ctx, { limit })
    return { data: p.data.map(toJobView), next_cursor: p.next_cursor }
  }
  const constant = await page(10)
  // Outside /api no authentication runs: the handler acts for the bench organisation directly.
  app.get('/bench/jobs', { schema }, async (req) => page(req.query.limit ?? 100))
  app.get('/bench/const', { schema }, async () => constant)
  app.get('/api/v1/bench-const', { config: { scope: 'jobs:read' }, schema }, async (req) => {
    orgOf(req.ctx)
    return constant
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.on('SIGTERM', () => process.exit(0))
  out({ listening: true, port: (app.server.address() as { port: number }).port, key })
}

interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number; average: number }
  non2xx: number
  errors: number
  timeouts: number
  duration: number
}

const autocannon = createRequire(join(BENCH, 'package.json'))('autocannon') as (opts: object) => Promise<AutocannonResult>

async function main() {
  const reps = Number(process.env.REPS ?? 3)
  const duration = Number(process.env.DURATION_S ?? 10)
  const warmup = Number(process.env.WARMUP_S ?? 3)
  const connections = Number(process.env.CONNECTIONS ?? 10)
  const { file, log, sh } = benchRecord(BENCH, 'auth')
  log({ config: { reps, durationS: duration, warmupS: warmup, connections, routes: ROUTES } })
  const { child, port, key } = await startChild<{ port: number; key: string }>(SELF, ['serve'])
  const headers = (kind: Kind) => (kind.startsWith('api-key') ? { authorization: `Bearer ${key}` } : {})
  const bodies: Record<string, string> = {}
  for (const kind of Object.keys(ROUTES) as Kind[]) {
    const res = await fetch(`http://127.0.0.1:${port}${ROUTES[kind]}`, { headers: headers(kind) })
    bodies[kind] = await res.text()
    if (res.status !== 200) throw new Error(`${kind}: ${ROUTES[kind]} answered ${res.status}: ${bodies[kind]}`)
  }
  if (bodies['api-key'] !== bodies['no-auth']) throw new Error('the authenticated and unauthenticated routes answer differently')
  const run = (kind: Kind, seconds: number) => autocannon({ url: `http://127.0.0.1:${port}${ROUTES[kind]}`, connections, duration: seconds, headers: headers(kind) })
  for (let r = 1; r <= reps; r++) {
    const kinds: Kind[] = ['no-auth', 'api-key', 'no-auth-nodb', 'api-key-nodb']
    for (const kind of r % 2 ? kinds : [...kinds].reverse()) {
      await run(kind, warmup)
      log(JSON.parse(sh('quiet.sh')))
      const a = await run(kind, duration)
      if (a.non2xx || a.errors || a.timeouts) throw new Error(`${kind}: ${a.non2xx} non-2xx, ${a.errors} errors, ${a.timeouts} timeouts`)
      log({ server: kind, rep: r, connections, durationS: a.duration, reqPerSec: a.requests.average, total: a.requests.total, p50: a.latency.p50, p99: a.latency.p99, avgMs: a.latency.average, bodyBytes: Buffer.byteLength(bodies[kind]!) })
    }
  }
  await stopChild(child)
  spawnSync(process.execPath, [join(BENCH, 'report.js'), file], { stdio: 'inherit' })
}

if (process.argv[2] === 'serve') await serve()
else await main()
