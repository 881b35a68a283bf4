\timing on
\echo latest lateral, single table
explain (analyze, costs off, timing off, summary on) select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pt where series_id = s.id order by ts desc limit 1) l;
select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pt where series_id = s.id order by ts desc limit 1) l \g /dev/null
select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pt where series_id = s.id order by ts desc limit 1) l \g /dev/null
\echo latest lateral, partitioned
select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pp where series_id = s.id order by ts desc limit 1) l \g /dev/null
select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pp where series_id = s.id order by ts desc limit 1) l \g /dev/null
explain (analyze, costs off, timing off, summary on) select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pp where series_id = s.id order by ts desc limit 1) l;
\echo latest lateral for 10 series, partitioned
select s.id, l.ts, l.value from series s cross join lateral (select ts, value from pp where series_id = s.id order by ts desc limit 1) l where s.id <= 10 \g /dev/null
\echo distinct on, single table
select distinct on (series_id) series_id, ts, value from pt order by series_id, ts desc \g /dev/null
