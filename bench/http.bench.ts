// HTTP overhead of Stratum's stack: an authenticated GET /api/v1/jobs?limit=10 (PGlite in memory)
// against a bare Fastify route answering constant JSON of about the same size. Each server runs in
// a child process started the same way (node + tsx loader); autocannon runs here, in the parent, so
// that each gets one of the two cores. Run from the repo root:
//   npx tsx bench/http.bench.ts            # REPS=3 DURATION_S=10 WARMUP_S=3 CONNECTIONS=10 NODB=1
//   npx tsx bench/http.bench.ts serve bare|stratum|stratum-nodb   # (internal) one server; prints its port
// stratum-nodb (NODB=0 leaves it out) is our stack without the database call, to split the cost.
// Raw JSON lines go to bench/results/http-<time>.jsonl; the table is printed by bench/report.js.
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchRecord, exitWithParent, out, startChild, stopChild } from './children.ts'

const SELF = fileURLToPath(import.meta.url)
const BENCH = dirname(SELF)
const TOKEN = 'bench-token-not-a-secret'
const ORG = '01936f3e-0000-7000-8000-00000000b001'
const USER = '01936f3e-0000-7000-8000-00000000b002'
const PATH = '/api/v1/jobs?limit=10'

// `stratum-nodb` adds one route to the same app: same hooks, authentication and response schema
// as GET /api/v1/jobs, but it answers the bare server's constant instead of querying the database.
const NODB_PATH = '/api/v1/bench-jobs?limit=10'
const pathOf = (kind: string) => (kind === 'stratum-nodb' ? NODB_PATH : PATH)

async function serveStratum(noDb: boolean) {
  const { loadConfig } = await import('../src/config.ts')
  const { openPglite } = await import('../src/core/db/pglite.ts')
  const { migrate } = await import('../src/core/db/migrate.ts')
  const { createApp, openRuntime } = await import('../src/core/runtime.ts')
  const { createLogger } = await import('../src/core/observability/logger.ts')
  const { enqueueJobs } = await import('../src/core/jobs/jobs.service.ts')
  const { ROLE_SCOPES } = await import('../src/core/scopes.ts')
  type Authenticator = import('../src/core/http/app.ts').Authenticator

  const config = loadConfig({ STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-http-bench-')), LOG_LEVEL: 'silent' })
  const log = createLogger('silent', { pretty: false })
  const database = await openPglite({})
  await migrate(database)
  const rt = await openRuntime(config, log, { database, migrate: false })
  const ctx = { requestId: 'bench', traceId: '0af7651916cd43dd8448eb211c80319c', actor: { type: 'user' as const, id: USER }, organizationId: ORG }
  // 12 jobs, so that the page is full (10 rows) and carries a next_cursor.
  await database.transaction((tx) => enqueueJobs(tx, ctx, Array.from({ length: 12 }, (_, i) => ({ type: 'report.build', params: { report: `weekly-${i}` } }))))
  // A constant bearer token: this bench measures the HTTP stack; bench/auth.bench.ts measures
  // the identity module's real authentication.
  const authenticator: Authenticator = {
    authenticate: async (req) =>
      req.headers.authorization === `Bearer ${TOKEN}`
        ? { organizationId: ORG, actor: { type: 'user', id: USER }, credential: { kind: 'session', id: USER, userId: USER, deviceId: null, scopes: ROLE_SCOPES.owner } }
        : null,
  }
  const app = await createApp(rt, authenticator)
  if (noDb) {
    const { JobSchema } = await import('../src/core/jobs/jobs.routes.ts')
    const { pageOf } = await import('../src/core/http/pagination.ts')
    const { orgOf } = await import('../src/core/tenancy.ts')
    const body = constantBody()
    app.get(NODB_PATH.split('?')[0]!, { config: { scope: 'jobs:read' }, schema: { response: { 200: pageOf(JobSchema) } } }, async (req) => {
      orgOf(req.ctx)
      return body as never
    })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app.server.address() as { port: number }
}

// The bare server and stratum-nodb answer a constant: the body Stratum gave for the same request
// (a real page of 10 jobs), captured once by the parent and handed over in BENCH_BODY.
function constantBody(): unknown {
  if (!process.env.BENCH_BODY) throw new Error('BENCH_BODY is not set')
  return JSON.parse(process.env.BENCH_BODY)
}

async function serveBare() {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  const body = constantBody()
  app.get('/api/v1/jobs', async () => body)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app.server.address() as { port: number }
}

async function serve(kind: string) {
  exitWithParent()
  const { port } = kind.startsWith('stratum') ? await serveStratum(kind === 'stratum-nodb') : kind === 'bare' ? await serveBare() : process.exit(2)
  process.on('SIGTERM', () => process.exit(0)) // exit cleanly, so that --cpu-prof can write its profile
  out({ listening: true, port })
}

const startServer = (kind: string, env: NodeJS.ProcessEnv = process.env) => startChild<{ port: number }>(SELF, ['serve', kind], env)

interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number; average: number }
  non2xx: number
  errors: number
  timeouts: number
  duration: number
}

// autocannon lives in bench/node_modules (bench/package.json), not in the root package.
const autocannon = createRequire(join(BENCH, 'package.json'))('autocannon') as (opts: object) => Promise<AutocannonResult>

async function measure(kind: string, port: number, seconds: number, connections: number) {
  return autocannon({
    url: `http://127.0.0.1:${port}${pathOf(kind)}`,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${TOKEN}` },
  })
}

async function main() {
  const reps = Number(process.env.REPS ?? 3)
  const duration = Number(process.env.DURATION_S ?? 10)
  const warmup = Number(process.env.WARMUP_S ?? 3)
  const connections = Number(process.env.CONNECTIONS ?? 10)
  const { file, log, sh } = benchRecord(BENCH, 'http')
  log({ config: { reps, durationS: duration, warmupS: warmup, connections, path: PATH } })
  const first = await startServer('stratum')
  const sample = await fetch(`http://127.0.0.1:${first.port}${PATH}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  const env = { ...process.env, BENCH_BODY: await sample.text() }
  await stopChild(first.child)
  if (sample.status !== 200) throw new Error(`GET ${PATH} answered ${sample.status}: ${env.BENCH_BODY}`)
  for (let r = 1; r <= reps; r++) {
    // alternate who goes first
    const kinds = ['bare', 'stratum', ...(process.env.NODB === '0' ? [] : ['stratum-nodb'])]
    for (const kind of r % 2 ? kinds : [...kinds].reverse()) {
      const { child, port } = await startServer(kind, env)
      const res = await fetch(`http://127.0.0.1:${port}${pathOf(kind)}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      const body = await res.text()
      if (res.status !== 200) throw new Error(`${kind}: GET ${pathOf(kind)} answered ${res.status}: ${body}`)
      await measure(kind, port, warmup, connections)
      log(JSON.parse(sh('quiet.sh')))
      const a = await measure(kind, port, duration, connections)
      await stopChild(child)
      if (a.non2xx || a.errors || a.timeouts) throw new Error(`${kind}: ${a.non2xx} non-2xx, ${a.errors} errors, ${a.timeouts} timeouts`)
      log({
        server: kind,
        rep: r,
        connections,
        durationS: a.duration,
        reqPerSec: a.requests.average,
        total: a.requests.total,
        p50: a.latency.p50,
        p99: a.latency.p99,
        avgMs: a.latency.average,
        bodyBytes: Buffer.byteLength(body),
      })
    }
  }
  spawnSync(process.execPath, [join(BENCH, 'report.js'), file], { stdio: 'inherit' })
}

if (process.argv[2] === 'serve') await serve(process.argv[3]!)
else await main()
