// node e3_ingest.mjs pg|pglite [spacing_s] [partitioned 0|1]
import pg from 'pg'
import { PGlite } from '@electric-sql/pglite'
import { from as copyFrom } from 'pg-copy-streams'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
const engine = process.argv[2], SP = Number(process.argv[3] ?? 60), PART = process.argv[4] === '1'
const NS = 100, NP = 1000, N = NS * NP, BATCH = 10000
const t0 = Date.parse('2026-01-01T00:00:00Z')
// rows ordered by series then time, like a datapoints request
const sid = new Array(N), ms = new Float64Array(N), val = new Float64Array(N)
for (let s = 0, i = 0; s < NS; s++) for (let p = 0; p < NP; p++, i++) { sid[i] = s + 1; ms[i] = t0 + p * SP * 1000; val[i] = Math.random() * 100 }
let q, close, copy, CLIENT
if (engine === 'pg') {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:55433/meas_scratch' }); await c.connect(); CLIENT = c
  q = (t, p) => c.query(t, p); close = () => c.end()
  copy = async (text) => { await pipeline(Readable.from([text]), c.query(copyFrom('copy points (series_id, ts, value) from stdin'))) }
} else {
  const db = await PGlite.create({ dataDir: '/tmp/mexp/pgl-' + Date.now() })
  q = (t, p) => db.query(t, p); close = () => db.close()
  copy = async (text) => { await db.query("copy points (series_id, ts, value) from '/dev/blob'", [], { blob: new Blob([text]) }) }
}
const ddl = async () => {
  await q('drop table if exists points cascade'); await q('drop table if exists points_1m'); await q('drop table if exists points_1h'); await q('drop table if exists points_1d')
  if (PART) {
    await q('create table points (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts)) partition by range (ts)')
    for (let m = 1; m <= 12; m++) { const a = `2026-${String(m).padStart(2,'0')}-01`, b = m === 12 ? '2027-01-01' : `2026-${String(m+1).padStart(2,'0')}-01`; await q(`create table points_${m} partition of points for values from ('${a}') to ('${b}')`) }
  } else await q('create table points (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts))')
  for (const r of ['1m','1h','1d']) await q(`create table points_${r} (series_id bigint not null, bucket timestamptz not null, n int not null, sum float8, min float8, max float8, sumsq float8, first_ts timestamptz, first_v float8, last_ts timestamptz, last_v float8, primary key (series_id, bucket))`)
}
const iso = (x) => new Date(x).toISOString()
const UNNEST_TXT = 'insert into points (series_id, ts, value) select * from unnest($1::bigint[], $2::timestamptz[], $3::float8[]) on conflict (series_id, ts) do update set value = excluded.value'
const UNNEST_MS = "insert into points (series_id, ts, value) select s, to_timestamp(m / 1000.0), v from unnest($1::bigint[], $2::float8[], $3::float8[]) as u(s, m, v) on conflict (series_id, ts) do update set value = excluded.value"
const JSONB = 'insert into points (series_id, ts, value) select * from jsonb_to_recordset($1::jsonb) as x(s bigint, t timestamptz, v float8) on conflict (series_id, ts) do update set value = excluded.value'
// rollups: recompute the touched minute buckets from raw, hour from minute, day from hour
const ROLL = (src, dst, unit, keysFrom) => `insert into points_${dst} (series_id, bucket, n, sum, min, max, sumsq, first_ts, first_v, last_ts, last_v)
 select k.s, k.b, ${src === 'raw' ? `count(*), sum(p.value), min(p.value), max(p.value), sum(p.value*p.value), min(p.ts), (array_agg(p.value order by p.ts))[1], max(p.ts), (array_agg(p.value order by p.ts desc))[1]` :
 `sum(p.n), sum(p.sum), min(p.min), max(p.max), sum(p.sumsq), min(p.first_ts), (array_agg(p.first_v order by p.first_ts))[1], max(p.last_ts), (array_agg(p.last_v order by p.last_ts desc))[1]`}
 from (${keysFrom}) k join ${src === 'raw' ? 'points p on p.series_id = k.s and p.ts >= k.b and p.ts < k.b + interval \'1 ' + unit + '\'' : `points_${src} p on p.series_id = k.s and p.bucket >= k.b and p.bucket < k.b + interval '1 ${unit}'`}
 group by k.s, k.b
 on conflict (series_id, bucket) do update set n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max, sumsq = excluded.sumsq, first_ts = excluded.first_ts, first_v = excluded.first_v, last_ts = excluded.last_ts, last_v = excluded.last_v`
const keys = (unit) => `select distinct s, date_trunc('${unit}', to_timestamp(m / 1000.0), 'UTC') b from unnest($1::bigint[], $2::float8[]) as u(s, m)`
async function run(name, fn) {
  await ddl(); const t = performance.now(); await fn(); const dt = (performance.now() - t) / 1000
  const n = (await q('select count(*)::int n from points')).rows[0].n
  console.log(`${engine}${PART ? ' partitioned' : ''} sp=${SP}s ${name}: ${N} rows in ${dt.toFixed(2)} s = ${Math.round(N / dt)} rows/s (count ${n})`)
}
const batches = async (f) => { for (let i = 0; i < N; i += BATCH) { await q('begin'); await f(i, Math.min(N, i + BATCH)); await q('commit') } }
let COPYTEXT = ''; for (let i = 0; i < N; i++) COPYTEXT += `${sid[i]}\t${iso(ms[i])}\t${val[i]}\n`
const copyStage = engine === 'pg'
  ? (text) => pipeline(Readable.from([text]), CLIENT.query(copyFrom('copy stage from stdin')))
  : (text) => q("copy stage from '/dev/blob'", [], { blob: new Blob([text]) })
const LIT = (a, b) => ['{' + sid.slice(a, b).join(',') + '}', '{' + Array.from(ms.subarray(a, b)).join(',') + '}', '{' + Array.from(val.subarray(a, b)).join(',') + '}']
const variants = {
  literal_plain_insert: () => batches((a, b) => q(UNNEST_MS.replace(/ on conflict.*$/, ''), LIT(a, b))),
  literal_isots_upsert: () => batches((a, b) => q(UNNEST_TXT, ['{' + sid.slice(a, b).join(',') + '}', '{' + Array.from(ms.subarray(a, b), iso).join(',') + '}', '{' + Array.from(val.subarray(a, b)).join(',') + '}'])),
  copy_10k_batches: () => batches((a, b) => { let s = ''; for (let i = a; i < b; i++) s += `${sid[i]}\t${iso(ms[i])}\t${val[i]}\n`; return copy(s) }),
  literal_rollup_h_d: () => batches(async (a, b) => { const p = LIT(a, b); await q(UNNEST_MS, p)
    await q(ROLL('raw', '1h', 'hour', keys('hour')), p.slice(0, 2)); await q(ROLL('1h', '1d', 'day', keys('day')), p.slice(0, 2)) }),
  literal_dirty_mark: () => batches(async (a, b) => { const p = LIT(a, b); await q(UNNEST_MS, p)
    await q('create table if not exists dirty (series_id bigint, bucket timestamptz, primary key (series_id, bucket))')
    await q("insert into dirty select distinct s, date_trunc('hour', to_timestamp(m / 1000.0), 'UTC') from unnest($1::bigint[], $2::float8[]) as u(s, m) on conflict do nothing", p.slice(0, 2)) }),
  unnest_literal: () => batches((a, b) => q(UNNEST_MS, ['{' + sid.slice(a, b).join(',') + '}', '{' + Array.from(ms.subarray(a, b)).join(',') + '}', '{' + Array.from(val.subarray(a, b)).join(',') + '}'])),
  staging_copy_upsert: () => batches(async (a, b) => {
    await q('create temp table if not exists stage (series_id bigint, ts timestamptz, value float8)'); await q('truncate stage')
    let s = ''; for (let i = a; i < b; i++) s += `${sid[i]}\t${iso(ms[i])}\t${val[i]}\n`
    await copyStage(s)
    await q('insert into points select * from stage on conflict (series_id, ts) do update set value = excluded.value')
  }),
  copy: () => copy(COPYTEXT),
  copy_incl_format: () => { let s = ''; for (let i = 0; i < N; i++) s += `${sid[i]}\t${iso(ms[i])}\t${val[i]}\n`; return copy(s) },
  unnest_isotext: () => batches((a, b) => q(UNNEST_TXT, [sid.slice(a, b), Array.from(ms.subarray(a, b), iso), Array.from(val.subarray(a, b))])),
  unnest_epochms: () => batches((a, b) => q(UNNEST_MS, [sid.slice(a, b), Array.from(ms.subarray(a, b)), Array.from(val.subarray(a, b))])),
  jsonb_recordset: () => batches((a, b) => { const r = []; for (let i = a; i < b; i++) r.push({ s: sid[i], t: iso(ms[i]), v: val[i] }); return q(JSONB, [JSON.stringify(r)]) }),
  unnest_epochms_rollups: () => batches(async (a, b) => {
    const p = [sid.slice(a, b), Array.from(ms.subarray(a, b)), Array.from(val.subarray(a, b))]
    await q(UNNEST_MS, p)
    await q(ROLL('raw', '1m', 'minute', keys('minute')), p.slice(0, 2))
    await q(ROLL('1m', '1h', 'hour', keys('hour')), p.slice(0, 2))
    await q(ROLL('1h', '1d', 'day', keys('day')), p.slice(0, 2))
  }),
}
const only = process.env.ONLY?.split(',')
for (let rep = 0; rep < Number(process.env.REPS ?? 2); rep++)
  for (const [k, f] of Object.entries(variants)) if (!only || only.includes(k)) await run(k, f)
// overwrite pass: same rows again into a full table (upsert path that updates)
if (!only || only.includes('overwrite')) { await ddl(); await variants.unnest_epochms(); const t = performance.now(); await variants.unnest_epochms(); const dt = (performance.now() - t) / 1000; console.log(`${engine} overwrite-all unnest_epochms: ${Math.round(N / dt)} rows/s`) }
await close()
