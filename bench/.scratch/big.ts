import { openPostgres } from '../../src/core/db/postgres.ts'
import { enqueueJobs } from '../../src/core/jobs/jobs.service.ts'
import { systemContext } from '../../src/core/context.ts'
import { sql } from 'drizzle-orm'
const d = await openPostgres({ url: 'postgres://postgres@127.0.0.1:55432/stratum_bench', poolMax: 2, statementTimeoutMs: 0 })
await d.db.execute(sql`delete from jobs`)
for (const n of [6000, 7000, 20000]) {
  try {
    const t = performance.now()
    const r = await d.transaction((tx) => enqueueJobs(tx, systemContext('t'), Array.from({ length: n }, (_, i) => ({ type: 'noop', idempotencyKey: `k${n}-${i}` }))))
    console.log(n, 'ok', r.length, (performance.now() - t).toFixed(0), 'ms')
  } catch (e) { console.log(n, 'ERR', (e as Error).message.slice(0, 200), (e as any).cause?.message) }
}
console.log((await d.db.execute(sql`select count(*) from jobs`)).rows)
await d.db.execute(sql`delete from jobs`)
await d.close()
