// Sustained ingest (issue #6): `stratum serve` as users run it (PGlite in a data folder, or
// PostgreSQL with DATABASE_URL), fed POST /api/v1/datapoints requests of 10,000 points. First
// the maximum rate is measured (CONCURRENCY requests in flight for MAX_S seconds); then the
// server is held at half of it for DURATION_S seconds while its resident memory (VmRSS of the
// server process) is sampled every SAMPLE_S seconds. Goal: memory flat, no errors. Run from the
// repo root:
//   npx tsx bench/sustained.bench.ts            # DURATION_S=600 MAX_S=20 SAMPLE_S=10 CONCURRENCY=2
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchRecord, track } from './children.ts'

const BENCH = dirname(fileURLToPath(import.meta.url))
const DURATION_S = Number(process.env.DURATION_S ?? 600)
const MAX_S = Number(process.env.MAX_S ?? 20)
const SAMPLE_S = Number(process.env.SAMPLE_S ?? 10)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 2)
const SERIES = 100
const PER_SERIES = 100 // 100 series x 100 points = 10,000 points a request

const { log } = benchRecord(BENCH, 'sustained')
const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port
    s.close(() => resolve(p))
  })
})
// Workers on (the default), so the rollup maintainer keeps up with ingest in the same process,
// as it does for users; WORKERS=false measures ingest alone.
const env = { ...process.env, STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-sustained-')), PORT: String(port), LOG_LEVEL: 'warn', STRATUM_WORKERS: process.env.WORKERS ?? 'true' }
const server = track(spawn(process.execPath, [join(BENCH, '..', 'bin', 'stratum.js'), 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] }))
const base = `http://127.0.0.1:${port}/api/v1`
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base.replace('/api/v1', '')}/readyz`)).ok) break
  } catch {}
  if (i > 600) throw new Error('server did not start')
  await new Promise((r) => setTimeout(r, 100))
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024 // MiB

const { token } = (await (await fetch(`${base}/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ organization_name: 'Sustained', email: 'sustained@example.com', password: 'a sustained password' }) })).json()) as { token: string }
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const post = async (url: string, body: unknown) => {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers, body: JSON.stringify(body) })
  if (res.status >= 300) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string }
}
await post('/object-types', { name: 'Meter', properties: [{ name: 'flow', data_type: 'number', time_varying: true }] })
const series: string[] = []
for (let s = 0; s < SERIES; s++) series.push((await post('/series', { entity_id: (await post('/entities', { type: 'Meter', name: `FT-${s}` })).id, property: 'flow' })).id)

// Each request carries the next 100 points of every series, one a second: time moves forward as a gateway's would.
let next = Date.parse('2026-01-01T00:00:00Z')
const body = () => {
  const from = next
  next += PER_SERIES * 1000
  return JSON.stringify({ items: series.map((id, k) => ({ series_id: id, timestamps: Array.from({ length: PER_SERIES }, (_, i) => from + i * 1000), values: Array.from({ length: PER_SERIES }, (_, i) => k + i / 100) })) })
}
const latencies: number[] = []
let errors = 0
const send = async () => {
  const payload = body()
  const t = performance.now()
  try {
    const res = await fetch(`${base}/datapoints`, { method: 'POST', headers, body: payload })
    await res.arrayBuffer()
    if (res.status !== 200) errors++
  } catch {
    errors++
  }
  latencies.push(performance.now() - t)
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0

// 1. The maximum: CONCURRENCY requests always in flight.
let sent = 0
const maxUntil = performance.now() + MAX_S * 1000
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < maxUntil) {
      await send()
      sent++
    }
  }),
)
const maxRate = (sent * SERIES * PER_SERIES) / MAX_S
log({ case: 'maximum', points_per_s: Math.round(maxRate), requests: sent, errors, p50_ms: Math.round(pct(latencies, 0.5)), p99_ms: Math.round(pct(latencies, 0.99)), rss_mib: Math.round(rss()) })

// 2. Half of it, for DURATION_S: a request every interval, whatever the last one is doing.
const target = maxRate / 2
const intervalMs = (SERIES * PER_SERIES * 1000) / target
latencies.length = 0
errors = 0
const samples: { t_s: number; rss_mib: number; p99_ms: number; rollup_backlog: number | null }[] = []
/** Stale series-hours the rollup maintainer had left at its last round (from /metrics). */
const backlog = async () => {
  try {
    const m = /stratum_background_backlog\{task="measurements.rollups"\} (\d+)/.exec(await (await fetch(`${base.replace('/api/v1', '')}/metrics`)).text())
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}
const startedAt = performance.now()
let requests = 0
const inFlight = new Set<Promise<void>>()
let nextSample = 0
while (performance.now() - startedAt < DURATION_S * 1000) {
  const p = send().finally(() => inFlight.delete(p))
  inFlight.add(p)
  requests++
  const elapsed = (performance.now() - startedAt) / 1000
  if (elapsed >= nextSample) {
    samples.push({ t_s: Math.round(elapsed), rss_mib: Math.round(rss()), p99_ms: Math.round(pct(latencies.slice(-200), 0.99)), rollup_backlog: await backlog() })
    log({ case: 'sample', ...samples[samples.length - 1] })
    nextSample += SAMPLE_S
  }
  const wait = startedAt + requests * intervalMs - performance.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}
await Promise.all(inFlight)
const elapsed = (performance.now() - startedAt) / 1000
const first = samples.slice(1, 4).map((s) => s.rss_mib)
const last = samples.slice(-3).map((s) => s.rss_mib)
log({
  case: 'sustained',
  duration_s: Math.round(elapsed),
  target_points_per_s: Math.round(target),
  achieved_points_per_s: Math.round((requests * SERIES * PER_SERIES) / elapsed),
  requests,
  errors,
  p50_ms: Math.round(pct(latencies, 0.5)),
  p99_ms: Math.round(pct(latencies, 0.99)),
  rss_mib_first: first,
  rss_mib_last: last,
  rss_mib_min: Math.min(...samples.map((s) => s.rss_mib)),
  rss_mib_max: Math.max(...samples.map((s) => s.rss_mib)),
  rollup_backlog: samples.map((s) => s.rollup_backlog),
})
// After the load: how long the maintainer takes to catch up.
const idleAt = performance.now()
let left = await backlog()
while (left !== null && left > 0 && performance.now() - idleAt < 120_000) {
  await new Promise((r) => setTimeout(r, 1000))
  left = await backlog()
}
log({ case: 'rollups_after_load', backlog: left, seconds_to_catch_up: left === 0 ? +((performance.now() - idleAt) / 1000).toFixed(1) : null })
server.kill('SIGTERM')
await new Promise((r) => server.on('exit', r))
