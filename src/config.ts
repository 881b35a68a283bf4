// Configuration is read once from the environment, validated, and frozen. Every variable is
// listed in VARIABLES so that the README table and `stratum serve --help` come from one place.
import { resolve } from 'node:path'

export interface Config {
  host: string
  port: number
  dataDir: string
  databaseUrl: string | null
  databasePoolMax: number
  statementTimeoutMs: number
  logLevel: string
  bodyLimitBytes: number
  fileMaxBytes: number
  workersInServe: boolean
  workerConcurrency: number
  waitConcurrency: number
  jobLeaseMs: number
  jobPollMs: number
  shutdownTimeoutMs: number
  signupOpen: boolean
  sessionIdleMinutes: number
  sessionMaxAgeHours: number
  authCacheTtlMs: number
  apiKeyDefaultRateLimit: number
  /** Fastify's trustProxy: false, true, a hop count, or addresses/CIDRs of trusted proxies. */
  trustProxy: boolean | number | string[]
  /** Private or loopback addresses/CIDRs that workflow http steps may reach (all others in private ranges are refused). */
  httpStepAllow: string[]
  /** Workflow python steps (notebooks) may run: a python3 subprocess on this server, so off unless an admin turns it on. */
  pythonSteps: boolean
  /** The python interpreter python steps run. */
  pythonBin: string
}

interface Variable {
  name: string
  default: string
  meaning: string
}

export const VARIABLES: readonly Variable[] = [
  { name: 'HOST', default: '127.0.0.1', meaning: 'Address the HTTP server listens on' },
  { name: 'PORT', default: '8080', meaning: 'Port the HTTP server listens on' },
  { name: 'STRATUM_DATA_DIR', default: './data', meaning: 'Folder for the embedded database (`pglite/`) and stored files (`files/`)' },
  { name: 'DATABASE_URL', default: '(unset)', meaning: 'PostgreSQL >= 15 connection string; when set, used instead of the embedded database. On the same host, a Unix socket (`postgres://user@%2Fvar%2Frun%2Fpostgresql/db`) is faster than 127.0.0.1 (docs/benchmarks.md section 10)' },
  { name: 'DATABASE_POOL_MAX', default: '10', meaning: 'PostgreSQL connection pool size per process' },
  { name: 'STATEMENT_TIMEOUT_MS', default: '30000', meaning: 'PostgreSQL statement timeout per statement (0 = none)' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'pino log level: trace, debug, info, warn, error, fatal, silent' },
  { name: 'BODY_LIMIT_BYTES', default: '1048576', meaning: 'Largest JSON request body accepted (413 above)' },
  { name: 'FILE_MAX_BYTES', default: '104857600', meaning: 'Largest uploaded file accepted (413 above)' },
  { name: 'STRATUM_WORKERS', default: 'true', meaning: 'Run job workers inside `stratum serve` (set false when separate `stratum worker` processes run)' },
  { name: 'WORKER_CONCURRENCY', default: '10', meaning: 'Jobs one worker process runs at once from the queue' },
  { name: 'WAIT_CONCURRENCY', default: '50', meaning: 'Executions one process runs at once in the requests that wait for them (`?wait` on a webhook or a manual start), besides the queue\'s; beyond it they are queued (docs/benchmarks.md section 10)' },
  { name: 'JOB_LEASE_MS', default: '30000', meaning: 'How long a claimed job stays locked without a heartbeat before another worker may retry it' },
  { name: 'JOB_POLL_MS', default: '2000', meaning: 'Fallback poll interval for new jobs when no LISTEN/NOTIFY wake-up arrives' },
  { name: 'STRATUM_SIGNUP_OPEN', default: 'true', meaning: 'Let anyone create an organisation with POST /api/v1/auth/signup (false: invitations only)' },
  { name: 'SESSION_IDLE_MINUTES', default: '10080', meaning: 'A session unused this long ends (7 days)' },
  { name: 'SESSION_MAX_AGE_HOURS', default: '720', meaning: 'A session ends this long after sign-in, however active (30 days)' },
  { name: 'AUTH_CACHE_TTL_MS', default: '5000', meaning: 'How long a process caches a key or session; revocation reaches other processes within this time' },
  { name: 'API_KEY_DEFAULT_RATE_LIMIT', default: '600', meaning: 'Requests a minute for an API key created without rate_limit_per_minute' },
  { name: 'TRUST_PROXY', default: 'false', meaning: 'Behind a reverse proxy: true, a hop count, or comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed (client addresses feed sign-in throttling and the login history)' },
  { name: 'HTTP_STEP_ALLOW', default: '(none)', meaning: 'Comma-separated addresses/CIDRs in private, loopback or link-local ranges that workflow http steps may reach (all public addresses are reachable; other private ones are refused, so a workflow cannot reach the host\'s internal services)' },
  { name: 'PYTHON_STEPS', default: 'false', meaning: 'Let workflow python steps and notebooks run (a python3 subprocess per run, with time and output limits but the server user\'s rights: turn on only where workflow authors are trusted)' },
  { name: 'PYTHON_BIN', default: 'python3', meaning: 'The Python 3 interpreter python steps run (a name on PATH or a path)' },
  { name: 'SHUTDOWN_TIMEOUT_MS', default: '10000', meaning: 'On SIGTERM/SIGINT, how long in-flight requests and running jobs may take to finish' },
]

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`)
  }
  return n
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false
  throw new ConfigError(`${name} must be true or false, got "${raw}"`)
}

function trustProxy(raw: string | undefined): boolean | number | string[] {
  if (raw === undefined || raw === '' || ['false', '0', 'no', 'off'].includes(raw.toLowerCase())) return false
  if (['true', 'yes', 'on'].includes(raw.toLowerCase())) return true
  if (/^[1-9]\d?$/.test(raw)) return Number(raw)
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (list.every((a) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a))) return list
  throw new ConfigError(`TRUST_PROXY must be true, false, a hop count or comma-separated addresses/CIDRs, got "${raw}"`)
}

function addressList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return []
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean)
  const bad = list.find((a) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a))
  if (bad) throw new ConfigError(`${name} must be comma-separated addresses or CIDRs (127.0.0.1, 10.0.0.0/8), got "${bad}"`)
  return list
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const logLevel = env.LOG_LEVEL || 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  const databaseUrl = env.DATABASE_URL || null
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://')
  }
  return Object.freeze({
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 8080, 0, 65535),
    dataDir: resolve(env.STRATUM_DATA_DIR || './data'),
    databaseUrl,
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    statementTimeoutMs: int(env, 'STATEMENT_TIMEOUT_MS', 30_000, 0, 86_400_000),
    logLevel,
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 1_073_741_824),
    fileMaxBytes: int(env, 'FILE_MAX_BYTES', 104_857_600, 1, 1_099_511_627_776),
    workersInServe: bool(env, 'STRATUM_WORKERS', true),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 10, 1, 1000),
    waitConcurrency: int(env, 'WAIT_CONCURRENCY', 50, 0, 10_000),
    jobLeaseMs: int(env, 'JOB_LEASE_MS', 30_000, 100, 86_400_000),
    jobPollMs: int(env, 'JOB_POLL_MS', 2000, 10, 3_600_000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    signupOpen: bool(env, 'STRATUM_SIGNUP_OPEN', true),
    sessionIdleMinutes: int(env, 'SESSION_IDLE_MINUTES', 10_080, 1, 5_256_000),
    sessionMaxAgeHours: int(env, 'SESSION_MAX_AGE_HOURS', 720, 1, 87_600),
    authCacheTtlMs: int(env, 'AUTH_CACHE_TTL_MS', 5000, 0, 300_000),
    apiKeyDefaultRateLimit: int(env, 'API_KEY_DEFAULT_RATE_LIMIT', 600, 1, 10_000_000),
    trustProxy: trustProxy(env.TRUST_PROXY),
    httpStepAllow: addressList(env, 'HTTP_STEP_ALLOW'),
    pythonSteps: bool(env, 'PYTHON_STEPS', false),
    pythonBin: env.PYTHON_BIN || 'python3',
  })
}
