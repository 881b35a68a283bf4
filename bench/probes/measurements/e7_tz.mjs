import { PGlite } from '@electric-sql/pglite'
const db = await PGlite.create()
const sqls = [
 "select version()",
 "select date_trunc('day', '2026-03-29 12:00Z'::timestamptz, 'Europe/Oslo') d, date_trunc('month', '2026-03-29 12:00Z'::timestamptz, 'Europe/Oslo') m",
 "select date_trunc('day', '2026-03-29 00:30Z'::timestamptz, 'Europe/Oslo') + interval '1 day' next_naive, (date_trunc('day', '2026-03-29 00:30Z'::timestamptz, 'Europe/Oslo') at time zone 'Europe/Oslo' + interval '1 day') at time zone 'Europe/Oslo' next_local",
 "select date_add(date_trunc('day', '2026-03-29 00:30Z'::timestamptz, 'Europe/Oslo'), interval '1 day', 'Europe/Oslo') date_add_pg16",
 "select date_bin('15 minutes', '2026-03-29 12:07:13Z'::timestamptz, '2000-01-01Z') b15, date_bin('5 seconds', '2026-03-29 12:07:13Z'::timestamptz, '2000-01-01Z') b5",
 "select date_trunc('hour', '2026-03-29 12:07Z'::timestamptz, 'Asia/Kolkata') h_kolkata",
 "select generate_series(date_trunc('day','2026-03-28 12:00Z'::timestamptz,'Europe/Oslo'), '2026-03-31Z', interval '1 day', 'Europe/Oslo') gs_pg16",
]
for (const s of sqls) { try { console.log(JSON.stringify((await db.query(s)).rows)) } catch (e) { console.log('ERR', s.slice(0,60), e.message) } }
