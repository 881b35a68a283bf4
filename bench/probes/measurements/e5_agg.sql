\timing on
\echo build hour rollup from raw (10M rows)
create table pt_1h as select series_id, date_trunc('hour', ts, 'UTC') bucket, count(*)::int n, sum(value) sum, min(value) min, max(value) max, sum(value*value) sumsq from pp group by 1, 2;
alter table pt_1h add primary key (series_id, bucket);
analyze pt_1h;
select count(*) from pt_1h;
\echo raw hourly avg/min/max/count, all 1000 series, whole range (hash agg)
select series_id, date_trunc('hour', ts, 'UTC') b, avg(value), min(value), max(value), count(*) from pp group by 1, 2 \g /dev/null
\echo rollup, same answer
select series_id, bucket, sum/n, min, max, n from pt_1h \g /dev/null
\echo raw daily in Europe/Oslo, 10 series, one month
select series_id, date_trunc('day', ts, 'Europe/Oslo') b, avg(value), min(value), max(value), count(*) from pp where series_id <= 10 and ts >= '2026-03-01' and ts < '2026-04-01' group by 1, 2 \g /dev/null
\echo rollup daily in Europe/Oslo from hour rollups, 10 series, one month
select series_id, date_trunc('day', bucket, 'Europe/Oslo') b, sum(sum)/sum(n), min(min), max(max), sum(n) from pt_1h where series_id <= 10 and bucket >= '2026-03-01' and bucket < '2026-04-01' group by 1, 2 \g /dev/null
\echo raw hourly, 1 series, whole range
select date_trunc('hour', ts, 'UTC') b, avg(value), min(value), max(value), count(*) from pp where series_id = 7 group by 1 \g /dev/null
\echo rollup hourly, 1 series
select bucket, sum/n, min, max, n from pt_1h where series_id = 7 order by bucket \g /dev/null
\echo recompute 10 hour buckets of 1 series from raw (the per-batch correction)
select series_id, date_trunc('hour', ts, 'UTC'), count(*), sum(value), min(value), max(value), sum(value*value), min(ts), (array_agg(value order by ts))[1], max(ts), (array_agg(value order by ts desc))[1] from pp where series_id = 7 and ts >= '2026-03-01' and ts < '2026-03-01 10:00' group by 1, 2 \g /dev/null
\echo date_bin 15 min, 1 series one week, raw
select date_bin('15 minutes', ts, '2000-01-01Z') b, avg(value) from pp where series_id = 7 and ts >= '2026-03-01' and ts < '2026-03-08' group by 1 \g /dev/null
\echo delete a range of 1 series one day
begin; delete from pp where series_id = 7 and ts >= '2026-03-01' and ts < '2026-03-02'; rollback;
\echo drop a partition (retention)
begin; alter table pp detach partition pp_1; drop table pp_1; rollback;
