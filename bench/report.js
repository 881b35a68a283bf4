// Prints the comparison table (markdown) of a bench/results/*.jsonl file: medians with ranges.
//   node bench/report.js bench/results/jobs-<time>.jsonl
//   node bench/report.js bench/results/http-<time>.jsonl
//   node bench/report.js bench/results/auth-<time>.jsonl
import { readFileSync } from 'node:fs'

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (xs) => `${Math.round(median(xs)).toLocaleString('en-US')} (${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')})`
const ratio = (a, b) => (median(a) / median(b)).toFixed(2) + 'x'
const machine = lines.find((l) => l.machine)?.machine
if (machine) console.log(`machine: ${machine.nproc} vCPU ${machine.cpu}, ${machine.ram}, Node ${machine.node}, PostgreSQL ${machine.postgres}; ${machine.date}`)
const quiet = lines.filter((l) => l.quiet).map((l) => l.quiet)
if (quiet.length) console.log(`idle before measurements: ${Math.min(...quiet.map((q) => q.idlePct))}–${Math.max(...quiet.map((q) => q.idlePct))} %${quiet.some((q) => !q.ok) ? ` (${quiet.filter((q) => !q.ok).length} started on a busy machine after waiting)` : ''}`)

if (lines.some((l) => l.queue)) {
  const pick = (queue, what, p) => lines.filter((l) => l.queue === queue && l.what === what && (p === undefined || l.processes === p))
  console.log('\n| what | processes x concurrency | Stratum jobs/s | graphile-worker jobs/s | ratio |')
  console.log('|---|---|---|---|---|')
  const ps = [...new Set(lines.filter((l) => l.processes).map((l) => l.processes))].sort((a, b) => a - b)
  for (const what of ['e2e', 'drain']) {
    for (const p of ps) {
      const s = pick('stratum', what, p)
      const g = pick('graphile-worker', what, p)
      if (!s.length || !g.length) continue
      const conc = s[0].concurrency
      const label = what === 'e2e' ? 'end to end (live workers, enqueue → all done)' : 'drain pre-filled queue (wall incl. worker start)'
      console.log(`| ${label} | ${p} x ${conc} | ${fmt(s.map((x) => x.wallJobsPerSec))} | ${fmt(g.map((x) => x.wallJobsPerSec))} | **${ratio(s.map((x) => x.wallJobsPerSec), g.map((x) => x.wallJobsPerSec))}** |`)
      console.log(`| ${what}, first job start → last completion | ${p} x ${conc} | ${fmt(s.map((x) => x.busyJobsPerSec))} | ${fmt(g.map((x) => x.busyJobsPerSec))} | ${ratio(s.map((x) => x.busyJobsPerSec), g.map((x) => x.busyJobsPerSec))} |`)
    }
  }
  const se = pick('stratum', 'enqueue')
  const ge = pick('graphile-worker', 'enqueue')
  if (se.length && ge.length) console.log(`| enqueue ${se[0].n.toLocaleString('en-US')} in one transaction (Stratum: one enqueueJobs call; gw: add_jobs) | – | ${fmt(se.map((x) => x.jobsPerSec))} | ${fmt(ge.map((x) => x.jobsPerSec))} | ${ratio(se.map((x) => x.jobsPerSec), ge.map((x) => x.jobsPerSec))} |`)
  const cpu = (queue, what, p) => {
    const rows = pick(queue, what, p)
    return median(rows.map((r) => (r.workerCpuMs.reduce((a, b) => a + b, 0) * 1000) / r.jobsDone))
  }
  console.log('\nworker CPU per job after start-up (µs, median of drain runs): ' + ps.map((p) => `${p} proc: Stratum ${Math.round(cpu('stratum', 'drain', p))}, graphile-worker ${Math.round(cpu('graphile-worker', 'drain', p))}`).join('; '))
}

if (lines.some((l) => l.server === 'api-key')) {
  const pick = (server) => lines.filter((l) => l.server === server && l.reqPerSec !== undefined)
  console.log('\n| route | req/s | latency p50 ms | latency p99 ms | authenticated / not |')
  console.log('|---|---|---|---|---|')
  const row = (name, xs, r) => console.log(`| ${name} | ${fmt(xs.map((x) => x.reqPerSec))} | ${median(xs.map((x) => x.p50))} | ${median(xs.map((x) => x.p99))} | ${r} |`)
  for (const [suffix, label] of [['', 'GET jobs?limit=10 (PGlite query)'], ['-nodb', 'same response schema, constant page (no query)']]) {
    const k = pick(`api-key${suffix}`)
    const n = pick(`no-auth${suffix}`)
    row(`${label}, no authentication`, n, '1.00x')
    row(`${label}, API key`, k, `**${ratio(k.map((x) => x.reqPerSec), n.map((x) => x.reqPerSec))}**`)
  }
} else if (lines.some((l) => l.server)) {
  const pick = (server) => lines.filter((l) => l.server === server && l.reqPerSec !== undefined)
  const s = pick('stratum')
  const b = pick('bare')
  console.log('\n| server | req/s | latency p50 ms | latency p99 ms | body bytes | ratio |')
  console.log('|---|---|---|---|---|---|')
  const row = (name, xs, r) => console.log(`| ${name} | ${fmt(xs.map((x) => x.reqPerSec))} | ${median(xs.map((x) => x.p50))} | ${median(xs.map((x) => x.p99))} | ${xs[0].bodyBytes} | ${r} |`)
  row('bare fastify, constant JSON', b, '1.00x')
  row('Stratum GET /api/v1/jobs?limit=10 (auth, PGlite)', s, `**${ratio(s.map((x) => x.reqPerSec), b.map((x) => x.reqPerSec))}**`)
  const n = pick('stratum-nodb')
  if (n.length) row('Stratum stack, same auth + response schema, constant body (no database call)', n, ratio(n.map((x) => x.reqPerSec), b.map((x) => x.reqPerSec)))
}
