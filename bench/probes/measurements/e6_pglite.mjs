import { PGlite } from '@electric-sql/pglite'
const db = await PGlite.create({ dataDir: '/tmp/mexp/pgl-e6' })
const t = async (label, s, reps = 2) => { let best = 1e9, r; for (let i = 0; i < reps; i++) { const a = performance.now(); r = await db.query(s); best = Math.min(best, performance.now() - a) } console.log(`${label}: ${best.toFixed(1)} ms (${r.rows.length} rows)`) }
await db.exec(`create table series (id bigint primary key); insert into series select generate_series(1,1000);
create table pp (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts)) partition by range (ts);
do $$ begin for m in 1..12 loop execute format('create table pp_%s partition of pp for values from (%L) to (%L)', m, make_date(2026,m,1), make_date(2026,m,1) + interval '1 month'); end loop; end $$;`)
let a = performance.now()
await db.exec(`insert into pp select s, '2026-01-01'::timestamptz + i * interval '3 hours', random()*100 from generate_series(1,1000) s, generate_series(0,1999) i`); await db.exec("analyze pp"); await db.exec("analyze series")
console.log(`load 2M rows over 9 monthly partitions: ${((performance.now() - a) / 1000).toFixed(1)} s`)
await t('latest lateral 1000 series x 2000 pts, partitioned', `select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pp where series_id = s.id order by ts desc limit 1) l`)
await t('distinct on, partitioned', `select distinct on (series_id) series_id, ts, value from pp order by series_id, ts desc`, 1)
await t('daily avg Europe/Oslo, 10 series, 1 month', `select series_id, date_trunc('day', ts, 'Europe/Oslo') b, avg(value), count(*) from pp where series_id <= 10 and ts >= '2026-03-01' and ts < '2026-04-01' group by 1, 2`)
await db.close()
