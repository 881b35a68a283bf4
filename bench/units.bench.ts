// Batch conversion throughput in-process (issue #4): convertValues over 10 million values in a
// Float64Array against a plain multiply-add loop over the same array in the same run. Goal:
// convertValues >= 50% of the plain loop. Run from the repo root:
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
