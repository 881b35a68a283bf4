\timing on
drop table if exists pt, pp, series, pt_1h cascade;
create table series (id bigint primary key);
insert into series select generate_series(1,1000);
create table pt (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts));
insert into pt select s, '2026-01-01'::timestamptz + i * interval '45 minutes', random()*100 from generate_series(1,1000) s, generate_series(0,9999) i;
create table pp (series_id bigint not null, ts timestamptz not null, value float8, primary key (series_id, ts)) partition by range (ts);
do $$ begin for m in 1..12 loop execute format('create table pp_%s partition of pp for values from (%L) to (%L)', m, make_date(2026,m,1), make_date(2026,m,1) + interval '1 month'); end loop; end $$;
insert into pp select * from pt;
vacuum analyze pt; vacuum analyze pp; vacuum analyze series;
select pg_size_pretty(pg_total_relation_size('pt')) pt_total;
