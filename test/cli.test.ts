// The `stratum` command as a user runs it: a real process, real exit codes.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite } from '../src/core/db/pglite.ts'
import { onPostgres, testDatabase } from './db.ts'

const BIN = fileURLToPath(new URL('../bin/stratum.js', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function stratum(args: string[], env: Record<string, string> = {}, input?: string): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', DATABASE_URL: '', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const done = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
  return { child, done }
}

const run = (args: string[], env: Record<string, string> = {}, input?: string) => stratum(args, env, input).done

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

async function waitFor(url: string, ms: number): Promise<Response> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      const res = await fetch(url)
      if (res.ok) return res
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('stratum command line', () => {
  it('version, help and usage errors', async () => {
    const v = await run(['version'])
    expect(v).toMatchObject({ code: 0, stdout: 'stratum 0.1.0\n' })
    const help = await run(['--help'])
    expect(help.code).toBe(0)
    for (const c of ['serve', 'worker', 'migrate', 'seed', 'version', 'STRATUM_DATA_DIR', 'DATABASE_URL']) expect(help.stdout).toContain(c)
    expect((await run([])).code).toBe(2)
    const unknown = await run(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate"')
    const serveHelp = await run(['serve', '--help'])
    expect(serveHelp.code).toBe(0)
    expect(serveHelp.stdout).toContain('Usage: stratum serve')
    expect((await run(['serve', '--bogus'])).code).toBe(2)
    expect((await run(['seed'])).code).toBe(2)
  })

  it('refuses bad configuration with exit code 3', async () => {
    const r = await run(['serve'], { PORT: 'eighty' })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('PORT must be an integer')
  })

  it('worker processes need PostgreSQL', async () => {
    const r = await run(['worker'], { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-')) })
    expect(r.code).toBe(2)
  })
})

describe.runIf(!onPostgres())('stratum serve on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stratum-cli-'))
  let port: number
  let server: ReturnType<typeof stratum>

  beforeAll(async () => {
    port = await freePort()
    server = stratum(['serve'], { STRATUM_DATA_DIR: dataDir, PORT: String(port) })
  })
  afterAll(() => {
    server.child.kill('SIGKILL')
  })

  // Behaviour, not speed: how fast a fresh folder starts is measured, not asserted (a fresh
  // PGlite cluster alone takes 3.5-6.5 s to create on this machine, more under a parallel suite).
  it('creates the data folder, migrates and answers /healthz, /readyz and /openapi.json', async () => {
    await waitFor(`http://127.0.0.1:${port}/healthz`, 60_000)
    const ready = await (await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000)).json()
    expect(ready).toMatchObject({ status: 'ready', database: 'pglite' })
    const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as { openapi: string }
    expect(doc.openapi).toBe('3.1.0')
  }, 90_000)

  it('a second process cannot open the same data folder (exit 4)', async () => {
    const second = await run(['serve'], { STRATUM_DATA_DIR: dataDir, PORT: String(await freePort()) })
    expect(second.code).toBe(4)
    expect(second.stdout + second.stderr).toContain('is in use by process')
  })

  it('stops cleanly on SIGTERM (exit 0), after which migrate and seed work on the folder', async () => {
    server.child.kill('SIGTERM')
    const r = await server.done
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('stopped')
    const m = await run(['migrate'], { STRATUM_DATA_DIR: dataDir })
    expect(m).toMatchObject({ code: 0, stdout: 'database is up to date\n' })
    const s = await run(['seed', '--demo'], { STRATUM_DATA_DIR: dataDir })
    expect(s.code).toBe(0)
  })

  it('refuses to start on a database migrated by newer code (exit 4)', async () => {
    const db = await openPglite({ dataDir })
    await db.db.execute(sql`insert into stratum_migrations (tag, hash, created_at) values ('9999_future', 'x', 1)`)
    await db.close()
    const r = await run(['serve'], { STRATUM_DATA_DIR: dataDir, PORT: String(await freePort()) })
    expect(r.code).toBe(4)
    expect(r.stdout + r.stderr).toContain('migrated by newer code')
  })
})

describe('operators without the API', () => {
  it('admin create-user, api-keys create and admin reset-password work against a server started afterwards', async () => {
    const env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-')), LOG_LEVEL: 'warn' }
    const created = await run(['admin', 'create-user', '--email', 'ops@example.com', '--new-organization', 'Plant Ops', '--password-stdin'], env, 'first password 1\n')
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^created user ops@example.com \(.+\) as owner of plant-ops/)
    expect(created.stdout).not.toContain('password (shown once)')
    const again = await run(['admin', 'create-user', '--email', 'OPS@example.com', '--organization', 'plant-ops'], env)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already a member')
    // A name is never taken for an existing organisation's slug: joining one needs --organization.
    const unknown = await run(['admin', 'create-user', '--email', 'x@example.com', '--organization', 'Plant Ops'], env)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no organisation has the slug')
    expect((await run(['admin', 'create-user', '--email', 'x@example.com'], env)).code).toBe(2)
    const key = await run(['api-keys', 'create', '--email', 'ops@example.com', '--organization', 'plant-ops', '--name', 'ci', '--scopes', 'jobs:read,events:read'], env)
    expect(key.code, key.stderr).toBe(0)
    expect(key.stdout).toMatch(/^stratum_[0-9A-Za-z]{38}\n$/)
    const escalate = await run(['api-keys', 'create', '--email', 'ops@example.com', '--organization', 'plant-ops', '--name', 'x', '--scopes', 'account'], env)
    expect(escalate.code).toBe(1)
    expect((await run(['api-keys', 'create', '--email', 'ops@example.com'], env)).code).toBe(2)
    const reset = await run(['admin', 'reset-password', '--email', 'ops@example.com'], env)
    expect(reset.code, reset.stderr).toBe(0)

    const port = await freePort()
    const server = stratum(['serve'], { ...env, PORT: String(port) })
    try {
      await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000)
      const base = `http://127.0.0.1:${port}/api/v1`
      const me = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${key.stdout.trim()}` } })
      expect(me.status).toBe(200)
      expect(((await me.json()) as { credential: { scopes: string[] } }).credential.scopes).toEqual(['self', 'jobs:read', 'events:read'])
      const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      expect((await post('/auth/login', { email: 'ops@example.com', password: 'first password 1' })).status).toBe(200)
      expect((await post('/auth/password-reset', { token: reset.stdout.trim(), new_password: 'second password 2' })).status).toBe(204)
      expect((await post('/auth/login', { email: 'ops@example.com', password: 'first password 1' })).status).toBe(401)
      expect((await post('/auth/login', { email: 'ops@example.com', password: 'second password 2' })).status).toBe(200)
    } finally {
      server.child.kill('SIGTERM')
      expect((await server.done).code).toBe(0)
    }
  }, 180_000)
})

describe.runIf(onPostgres())('stratum serve and worker on PostgreSQL', () => {
  it('serve answers, worker runs beside it, both stop on SIGTERM', async () => {
    const database = await testDatabase()
    try {
      const port = await freePort()
      const env = { DATABASE_URL: database.url!, PORT: String(port), STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-')), STRATUM_WORKERS: 'false' }
      const server = stratum(['serve'], env)
      const worker = stratum(['worker'], env)
      const ready = await (await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000)).json()
      expect(ready).toMatchObject({ status: 'ready', database: 'postgres' })
      // the worker schedules partition upkeep and runs it
      const deadline = Date.now() + 15_000
      let status = ''
      while (status !== 'completed' && Date.now() < deadline) {
        const r = (await database.db.execute(sql`select status from jobs where type = 'system.ensure_event_partitions' order by created_at limit 1`)) as unknown as { rows: { status: string }[] }
        status = r.rows[0]?.status ?? ''
        await new Promise((res) => setTimeout(res, 100))
      }
      expect(status).toBe('completed')
      server.child.kill('SIGTERM')
      worker.child.kill('SIGTERM')
      expect((await server.done).code).toBe(0)
      expect((await worker.done).code).toBe(0)
    } finally {
      await database.close()
    }
  })
})

describe('units from the command line', () => {
  const env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-')), LOG_LEVEL: 'warn' }

  it('units convert prints the value; unknown, ambiguous and cross-type units are exit 1 with the reason', async () => {
    const psi = await run(['units', 'convert', '100', 'psi', 'kPa'], env)
    expect(psi, psi.stderr).toMatchObject({ code: 0, stdout: '689.4757293168362\n' })
    expect(await run(['units', 'convert', '--', '-40', 'degC', 'degF'], env)).toMatchObject({ code: 0 })
    const unknown = await run(['units', 'convert', '1', 'furlong-per-fortnight', 'm/s'], env)
    expect(unknown).toMatchObject({ code: 1, stdout: '' })
    expect(unknown.stderr).toContain("no unit is named 'furlong-per-fortnight'")
    const types = await run(['units', 'convert', '1', 'psi', 'degF'], env)
    expect(types.code).toBe(1)
    expect(types.stderr).toContain('Pressure and Temperature are different unit types')
    const ambiguous = await run(['units', 'convert', '1', 'mpa', 'Pa'], env)
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stderr).toContain('ambiguous')
    expect((await run(['units', 'convert', 'ten', 'psi', 'kPa'], env)).code).toBe(2)
    expect((await run(['units', 'convert', '1', 'psi'], env)).code).toBe(2)
  }, 120_000)

  it('units list --type prints a table with the base marked', async () => {
    const r = await run(['units', 'list', '--type', 'Pressure'], env)
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^SYMBOL\s+NAME\s+EXTERNAL ID\s+BASE$/)
    expect(lines.find((l) => l.includes('pressure:psi'))).toMatch(/^psi\s/)
    expect(lines.filter((l) => l.endsWith('base'))).toEqual([expect.stringMatching(/^Pa\s.*pressure:pa\s+base$/)])
    expect((await run(['units', 'list', '--type', 'Sweetness'], env)).code).toBe(1)
  }, 120_000)

  it('units import merges a file into an organisation and prints the report', async () => {
    expect((await run(['admin', 'create-user', '--email', 'units@example.com', '--new-organization', 'Units Org'], env)).code).toBe(0)
    const file = join(env.STRATUM_DATA_DIR, 'catalog.json')
    writeFileSync(
      file,
      JSON.stringify({
        quantities: [
          { name: 'pressure', units: ['pascal', 'pound-force per square inch', 'kilopascal'] },
          { name: 'permeability rock', units: ['teradarcy-API', 'darcy', 'millidarcy'] },
        ],
        units: [
          { name: 'pascal', symbol: 'Pa', a: 1, b: 0, c: 0, d: 1 },
          { name: 'pound-force per square inch', symbol: 'psi', a: 4.4482216152605, b: 0, c: 0, d: 0.00064516 },
          { name: 'kilopascal', symbol: 'kPa', a: 1000, b: 0, c: 0, d: 1 },
          { name: 'teradarcy-API', symbol: 'TD[API]', a: 1, b: 0, c: 0, d: 1 },
          { name: 'darcy', symbol: 'D', a: 1e-12, b: 0, c: 0, d: 1.01325 },
          { name: 'millidarcy', symbol: 'mD', a: 1e-15, b: 0, c: 0, d: 1.01325 },
        ],
      }),
    )
    const first = await run(['units', 'import', '--format', 'energistics', '--organization', 'units-org', file], env)
    expect(first, first.stderr).toMatchObject({ code: 0, stdout: 'added 3, matched 3, skipped 0, types added 1\n' })
    const again = await run(['units', 'import', '--format', 'energistics', '--organization', 'units-org', '--email', 'units@example.com', file], env)
    expect(again).toMatchObject({ code: 0, stdout: 'added 0, matched 6, skipped 0, types added 0\n' })
    // The global catalog is unchanged: convert and list do not see the organisation's millidarcy.
    expect((await run(['units', 'convert', '1', 'mD', 'D'], env)).code).toBe(1)
    const bad = await run(['units', 'import', '--format', 'cognite', '--organization', 'units-org', file], env)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('not a Cognite catalog')
    expect((await run(['units', 'import', '--format', 'energistics', '--organization', 'nowhere', file], env)).stderr).toContain('no organisation "nowhere"')
    expect((await run(['units', 'import', '--organization', 'units-org', file], env)).code).toBe(2)
  }, 120_000)
})

describe('measurements from the command line', () => {
  it('import csv uploads the file, runs the import job with a progress bar, and rejects a bad file whole', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stratum-cli-import-'))
    const env = { STRATUM_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }
    const created = await run(['admin', 'create-user', '--email', 'meter@example.com', '--new-organization', 'Meter Ops', '--password-stdin'], env, 'a meter password 1\n')
    expect(created.code, created.stderr).toBe(0)
    // A series to import into, made through the API of a runtime on the same folder (closed before the command runs).
    const { loadConfig } = await import('../src/config.ts')
    const { createApp, openRuntime } = await import('../src/core/runtime.ts')
    const { createLogger } = await import('../src/core/observability/logger.ts')
    const config = loadConfig({ STRATUM_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
    const rt = await openRuntime(config, createLogger('silent', { pretty: false }))
    let seriesId: string
    try {
      const app = await createApp(rt)
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'meter@example.com', password: 'a meter password 1' } })
      const headers = { authorization: `Bearer ${login.json().token}` }
      const post = async (url: string, payload: unknown) => {
        const res = await app.inject({ method: 'POST', url: `/api/v1${url}`, headers, payload: payload as never })
        expect(res.statusCode, res.body).toBeLessThan(300)
        return res.json() as { id: string }
      }
      await post('/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] })
      const meter = await post('/entities', { type: 'Meter', name: 'FT-101' })
      seriesId = (await post('/series', { entity_id: meter.id, property: 'flow' })).id
      await app.close()
    } finally {
      await rt.database.close()
    }
    const csv = join(dataDir, 'flow.csv')
    writeFileSync(csv, ['time,flow', ...Array.from({ length: 5000 }, (_, i) => `${new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString()},${i}`)].join('\n'))
    const map = join(dataDir, 'map.json')
    writeFileSync(map, JSON.stringify({ time_column: 'time', columns: { flow: { series_id: seriesId } } }))
    const imported = await run(['import', 'csv', csv, '--map', map, '--organization', 'meter-ops'], env)
    expect(imported.code, imported.stderr).toBe(0)
    expect(JSON.parse(imported.stdout)).toEqual({ rows: 5000, points: 5000, series: 1 })
    expect(imported.stderr).toMatch(/\[#{30}\] 100%/)
    const bad = join(dataDir, 'bad.csv')
    writeFileSync(bad, 'time,flow\n2026-12-01T00:00:00Z,1\n2026-12-01T00:01:00Z,lots\n')
    const rejected = await run(['import', 'csv', bad, '--map', JSON.stringify({ time_column: 'time', columns: { flow: { series_id: seriesId } } }), '--organization', 'meter-ops'], env)
    expect(rejected.code).toBe(1)
    expect(rejected.stderr).toContain("/rows/3/flow: 'lots' is not a number")
    expect((await run(['import', 'csv', bad, '--organization', 'meter-ops'], env)).code).toBe(2)
  }, 180_000)
})

describe('a server killed mid-ingest', () => {
  it('keeps every acknowledged NDJSON batch and none of the one in flight (SIGKILL)', async () => {
    const { request } = await import('node:http')
    const env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-kill-')), LOG_LEVEL: 'warn' }
    const start = async () => {
      const port = await freePort()
      const server = stratum(['serve'], { ...env, PORT: String(port) })
      await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000)
      return { server, base: `http://127.0.0.1:${port}/api/v1` }
    }
    let { server, base } = await start()
    const signup = (await (await fetch(`${base}/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ organization_name: 'Kill Test', email: 'kill@example.com', password: 'a kill test password' }) })).json()) as Record<string, any>
    const headers = { authorization: `Bearer ${signup.token}`, 'content-type': 'application/json' }
    const post = async (url: string, body: unknown) => (await (await fetch(`${base}${url}`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as Record<string, any>
    await post('/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] })
    const meter = await post('/entities', { type: 'Meter', name: 'FT-1' })
    const series = await post('/series', { entity_id: meter.id, property: 'flow' })

    // Stream batches of 1,000-point lines; after two acknowledged commits, send half a batch and kill.
    const acked: number[] = []
    const t0 = Date.parse('2026-08-01T00:00:00Z')
    const line = (k: number) => `${JSON.stringify({ series_id: series.id, timestamps: Array.from({ length: 1000 }, (_, i) => t0 + (k * 1000 + i) * 1000), values: Array.from({ length: 1000 }, () => k) })}\n`
    await new Promise<void>((resolve) => {
      const req = request(`${base}/datapoints/stream`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-ndjson' } }, (res) => {
        let buffer = ''
        res.on('data', (d) => {
          buffer += d
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const msg = JSON.parse(buffer.slice(0, nl))
            buffer = buffer.slice(nl + 1)
            if (typeof msg.committed === 'number') acked.push(msg.committed)
            if (acked.length === 2 && !msg.done) {
              for (let k = 20; k < 25; k++) req.write(line(k)) // half of the third batch
              setTimeout(() => server.child.kill('SIGKILL'), 200)
            }
          }
        })
        res.on('error', () => resolve())
        res.on('close', () => resolve())
      })
      req.on('error', () => resolve())
      for (let k = 0; k < 20; k++) req.write(line(k))
    })
    await server.done
    expect(acked).toEqual([10_000, 20_000])

    ;({ server, base } = await start())
    try {
      const login = (await (await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'kill@example.com', password: 'a kill test password' }) })).json()) as Record<string, any>
      const after = (await (await fetch(`${base}/series/${series.id}/datapoints?limit=10000&order=desc`, { headers: { authorization: `Bearer ${login.token}` } })).json()) as Record<string, any>
      // Exactly the acknowledged batches: the last point is the 20,000th, and nothing of the half batch.
      expect(after.data[0].timestamp).toBe(new Date(t0 + 19_999 * 1000).toISOString())
      const events = (await (await fetch(`${base}/events?type=datapoints.written&entity_id=${series.id}`, { headers: { authorization: `Bearer ${login.token}` } })).json()) as Record<string, any>
      expect(events.data.map((e: { data: { points: number } }) => e.data.points)).toEqual([10_000, 10_000])
    } finally {
      server.child.kill('SIGTERM')
      await server.done
    }
  }, 180_000)
})

describe('a worker killed mid-execution', () => {
  // Queued: a worker claims the job. Waited for (?wait): the request's own process runs it at once, its job written already claimed.
  it.each(['queued', 'waited for'])('resumes the execution after a restart: the completed step is not repeated, the step in flight runs again (SIGKILL, %s)', async (via) => {
    const { createServer: createHttpServer } = await import('node:http')
    const hits: Record<string, number> = {}
    let hang = true
    const sink = createHttpServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname
      hits[path] = (hits[path] ?? 0) + 1
      req.resume()
      if (path === '/hang' && hang) return // never answers: the server is killed meanwhile
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path, n: hits[path] }))
    })
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
    const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`
    const env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-engine-kill-')), LOG_LEVEL: 'warn', HTTP_STEP_ALLOW: '127.0.0.1', JOB_LEASE_MS: '1000', JOB_POLL_MS: '100' }
    const start = async () => {
      const port = await freePort()
      const server = stratum(['serve'], { ...env, PORT: String(port) })
      await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000)
      return { server, base: `http://127.0.0.1:${port}/api/v1` }
    }
    let { server, base } = await start()
    try {
      const signup = (await (await fetch(`${base}/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ organization_name: 'Engine Kill', email: 'engine@example.com', password: 'an engine kill password' }) })).json()) as Record<string, any>
      let headers = { authorization: `Bearer ${signup.token}`, 'content-type': 'application/json' }
      const created = (await (
        await fetch(`${base}/automations`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            name: 'Survives a crash',
            graph: {
              steps: [
                { id: 'count', type: 'http', config: { method: 'POST', url: `${sinkUrl}/count`, body: { n: 1 } } },
                { id: 'wait_for_it', type: 'http', config: { url: `${sinkUrl}/hang`, timeout_ms: 120_000 } },
                { id: 'done', type: 'transform', config: { expression: '{ "counted": steps.count.output.body.n, "second": steps.wait_for_it.output.body.n }' } },
              ],
              edges: [{ from: 'count', to: 'wait_for_it' }, { from: 'wait_for_it', to: 'done' }],
            },
          }),
        })
      ).json()) as Record<string, any>
      let execution: Record<string, any>
      if (via === 'queued') {
        execution = (await (await fetch(`${base}/automations/${created.id}/executions`, { method: 'POST', headers, body: '{}' })).json()) as Record<string, any>
      } else {
        // The answer never comes: the server dies while the request waits.
        void fetch(`${base}/automations/${created.id}/executions?wait=60`, { method: 'POST', headers, body: '{}' }).catch(() => {})
        for (let i = 0; i < 600 && !hits['/hang']; i++) await new Promise((r) => setTimeout(r, 50))
        const list = (await (await fetch(`${base}/executions?automation=${created.id}`, { headers })).json()) as { data: Record<string, any>[] }
        expect(list.data).toHaveLength(1)
        execution = list.data[0]!
      }
      for (let i = 0; i < 600 && !hits['/hang']; i++) await new Promise((r) => setTimeout(r, 50))
      expect(hits).toEqual({ '/count': 1, '/hang': 1 })
      server.child.kill('SIGKILL')
      await server.done
      hang = false

      ;({ server, base } = await start())
      const login = (await (await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'engine@example.com', password: 'an engine kill password' }) })).json()) as Record<string, any>
      headers = { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' }
      const after = (await (await fetch(`${base}/executions/${execution.id}?wait=60`, { headers })).json()) as Record<string, any>
      expect(after.status).toBe('succeeded')
      expect(after.output).toEqual({ counted: 1, second: 2 })
      expect(hits).toEqual({ '/count': 1, '/hang': 2 })
      expect(after.steps.map((s: Record<string, any>) => [s.step_id, s.attempt, s.status])).toEqual([
        ['count', 1, 'succeeded'],
        ['wait_for_it', 1, 'succeeded'],
        ['done', 1, 'succeeded'],
      ])
      // The first attempt died with the server; the reaper gave the job back and the new process took it.
      const job = (await (await fetch(`${base}/jobs/${after.job_id}`, { headers })).json()) as Record<string, any>
      expect([job.status, job.attempts]).toEqual(['completed', 2])
    } finally {
      server.child.kill('SIGTERM')
      await server.done
      sink.closeAllConnections()
      sink.close()
    }
  }, 240_000)
})
