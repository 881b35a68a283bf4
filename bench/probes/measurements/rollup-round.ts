// Marks every (series, hour) of the database stale and times the rollup maintainer's rounds
// (PostgreSQL; database kept by `KEEP=1 npx tsx bench/rollups.bench.ts`; statement times in the
// server log with log_min_duration_statement = 0).
//   DATABASE_URL=postgres://postgres@127.0.0.1:55433/bench_rollups npx tsx bench/probes/measurements/rollup-round.ts
const { openPostgres } = await import('../../../src/core/db/postgres.ts')
const { createRollups } = await import('../../../src/modules/measurements/rollups.ts')
const database = await openPostgres({ url: process.env.DATABASE_URL!, poolMax: 4, statementTimeoutMs: 0, applicationName: 'probe' })
await database.pool.query(`insert into rollup_dirty (series_id, first_hour, last_hour) select series_id, date_trunc('hour', min(ts), 'UTC'), date_trunc('hour', max(ts), 'UTC') from points group by 1`)
const n = Number((await database.pool.query(`select sum(extract(epoch from last_hour - first_hour) / 3600 + 1) as n from rollup_dirty`)).rows[0].n)
const points = Number((await database.pool.query('select count(*) as n from points')).rows[0].n)
const t = performance.now()
const done = await createRollups({ database }).drain()
const ms = performance.now() - t
console.log({ pairs: n, done, points, ms: Math.round(ms), points_per_s: Math.round(points / (ms / 1000)) })
await database.close()
