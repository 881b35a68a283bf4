\timing on
drop table if exists pt, pt_1h;
create table pm (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts));
insert into pm select s, '2026-03-01'::timestamptz + i * interval '1 minute', random()*100 from generate_series(1,1000) s, generate_series(0,9999) i;
vacuum analyze pm;
create table pm_1h as select series_id, date_trunc('hour', ts, 'UTC') bucket, count(*)::int n, sum(value) sum, min(value) min, max(value) max, sum(value*value) sumsq from pm group by 1, 2;
alter table pm_1h add primary key (series_id, bucket); analyze pm_1h;
select count(*) from pm_1h;
\echo raw hourly avg/min/max/count, 1000 series x 10000 points at 1 min (count only returned)
select count(*) from (select series_id, date_trunc('hour', ts, 'UTC') b, avg(value), min(value), max(value), count(*) from pm group by 1, 2) x;
select count(*) from (select series_id, date_trunc('hour', ts, 'UTC') b, avg(value), min(value), max(value), count(*) from pm group by 1, 2) x;
\echo rollup
select count(*) from (select series_id, bucket, sum/n, min, max, n from pm_1h) x;
select count(*) from (select series_id, bucket, sum/n, min, max, n from pm_1h) x;
\echo raw hourly, returned to client
select series_id, date_trunc('hour', ts, 'UTC') b, avg(value), min(value), max(value), count(*) from pm group by 1, 2 \g /dev/null
\echo rollup, returned
select series_id, bucket, sum/n, min, max, n from pm_1h \g /dev/null
