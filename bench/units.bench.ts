// Batch conversion throughput in-process (issue #4): convertValues over 10 million values in a
// Float64Array against a plain multiply-add loop over the same array in the same run. Goal:
// convertValues >= 50% of the plain loop. Then POST /api/v1/units/convert with 100,000 values
// per request (in-process inject, real API-key authentication, PGlite): values/s. Run from the repo root:
//   npx tsx bench/units.bench.ts            # N=10000000 REPS=5
import { buildCatalog } from '../src/modules/units/units.catalog.ts'
import { convertValues, type ConvertibleUnit } from '../src/modules/units/units.convert.ts'

const N = Number(process.env.N ?? 10_000_000)
const REPS = Number(process.env.REPS ?? 5)
const catalog = buildCatalog()
const unit = (externalId: string): ConvertibleUnit => {
  const u = catalog.units.find((x) => x.externalId === externalId)!
  return { ...u, unitTypeName: catalog.types.find((t) => t.id === u.unitTypeId)!.name }
}
const values = new Float64Array(N)
for (let i = 0; i < N; i++) values[i] = Math.random() * 5000

function plain(input: Float64Array, k: number, m: number): Float64Array {
  const out = new Float64Array(input.length)
  for (let i = 0; i < input.length; i++) out[i] = input[i]! * k + m
  return out
}

const pairs: [string, string][] = [
  ['pressure:psi', 'pressure:kilopa'],
  ['temperature:deg_f', 'temperature:deg_c'],
]
const best = (fn: () => unknown) => {
  let min = Infinity
  for (let r = 0; r < REPS; r++) {
    const t = performance.now()
    fn()
    min = Math.min(min, performance.now() - t)
  }
  return min
}
const plainMs = best(() => plain(values, 6.894757293168, 0.5))
console.log(JSON.stringify({ case: 'plain multiply-add', n: N, ms: +plainMs.toFixed(1), values_per_s: Math.round(N / (plainMs / 1000)) }))
for (const [from, to] of pairs) {
  const f = unit(from)
  const t = unit(to)
  const ms = best(() => convertValues(values, f, t))
  console.log(JSON.stringify({ case: `convertValues ${from} -> ${to}`, n: N, ms: +ms.toFixed(1), values_per_s: Math.round(N / (ms / 1000)), of_plain: +(plainMs / ms).toFixed(2) }))
}

// Through the API: sign up, make a key, and convert 100,000 values per request, best of REPS.
{
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { loadConfig } = await import('../src/config.ts')
  const { openPglite } = await import('../src/core/db/pglite.ts')
  const { migrate } = await import('../src/core/db/migrate.ts')
  const { createApp, openRuntime } = await import('../src/core/runtime.ts')
  const { createLogger } = await import('../src/core/observability/logger.ts')
  const database = await openPglite({})
  await migrate(database)
  const config = loadConfig({ STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-units-bench-')), LOG_LEVEL: 'silent' })
  const rt = await openRuntime(config, createLogger('silent', { pretty: false }), { database, migrate: false })
  const app = await createApp(rt)
  const { token } = (await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { organization_name: 'Bench', email: 'bench@example.com', password: 'bench password 1' } })).json() as { token: string }
  const { key } = (await app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: { authorization: `Bearer ${token}` }, payload: { name: 'bench', scopes: ['units:read'] } })).json() as { key: string }
  const payload = JSON.stringify({ from: 'psi', to: 'kPa', values: Array.from({ length: 100_000 }, (_, i) => i / 10) })
  let min = Infinity
  for (let r = 0; r < REPS; r++) {
    const t = performance.now()
    const res = await app.inject({ method: 'POST', url: '/api/v1/units/convert', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload })
    if (res.statusCode !== 200) throw new Error(`convert answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
    min = Math.min(min, performance.now() - t)
  }
  console.log(JSON.stringify({ case: 'POST /api/v1/units/convert, 100,000 values', ms: +min.toFixed(1), values_per_s: Math.round(100_000 / (min / 1000)) }))
  await app.close()
  await database.close()
}
