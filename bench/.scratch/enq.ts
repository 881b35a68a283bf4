import { openPostgres } from '../../src/core/db/postgres.ts'
import { migrate } from '../../src/core/db/migrate.ts'
import { enqueueJobs } from '../../src/core/jobs/jobs.service.ts'
import { systemContext } from '../../src/core/context.ts'
import { sql } from 'drizzle-orm'
const d = await openPostgres({ url: 'postgres://postgres@127.0.0.1:55432/stratum_bench', poolMax: 2, statementTimeoutMs: 0 })
console.log(await migrate(d))
const r = await d.transaction((tx) => enqueueJobs(tx, systemContext('t'), [{ type: 'noop' }, { type: 'noop' }, { type: 'noop' }]))
console.log('returned', r.length)
console.log((await d.db.execute(sql`select count(*) from jobs`)).rows)
const org = { ...systemContext('t'), organizationId: '0190b4b0-0000-7000-8000-000000000001' }
const r2 = await d.transaction((tx) => enqueueJobs(tx, org, [{ type: 'noop' }, { type: 'noop' }, { type: 'noop' }]))
console.log('returned org', r2.length)
console.log((await d.db.execute(sql`select organization_id, count(*) from jobs group by 1`)).rows)
await d.db.execute(sql`delete from jobs`)
await d.close()
