\timing on
create table a_uuid (series_id uuid not null, ts timestamptz not null, value float8 not null, primary key (series_id, ts));
create table b_int8 (series_id bigint not null, ts timestamptz not null, value float8 not null, primary key (series_id, ts));
create table b_int4 (series_id int not null, ts timestamptz not null, value float8 not null, primary key (series_id, ts));
create table c_org (organization_id uuid not null, series_id bigint not null, ts timestamptz not null, value float8 not null, primary key (series_id, ts));
create table d_wide (series_id bigint not null, ts timestamptz not null, value float8, value_text text, tag text, description text, extra jsonb, primary key (series_id, ts));
create table e_extra (like d_wide including all);
create table f_uuid_wide (series_id uuid not null, ts timestamptz not null, value float8, value_text text, tag text, description text, extra jsonb, primary key (series_id, ts));
create temp table s as select g as n, gen_random_uuid() as u from generate_series(1,1000) g;
insert into a_uuid select s.u, '2026-01-01'::timestamptz + i * interval '1 minute', random() from s, generate_series(1,1000) i order by 1,2;
insert into b_int8 select s.n, '2026-01-01'::timestamptz + i * interval '1 minute', random() from s, generate_series(1,1000) i order by 1,2;
insert into b_int4 select s.n, '2026-01-01'::timestamptz + i * interval '1 minute', random() from s, generate_series(1,1000) i order by 1,2;
insert into c_org select '6f1c1a9e-0000-4000-8000-000000000001', s.n, '2026-01-01'::timestamptz + i * interval '1 minute', random() from s, generate_series(1,1000) i order by 2,3;
insert into d_wide select s.n, '2026-01-01'::timestamptz + i * interval '1 minute', random(), null, null, null, null from s, generate_series(1,1000) i order by 1,2;
insert into e_extra select s.n, '2026-01-01'::timestamptz + i * interval '1 minute', random(), null, null, null, '{"quality":"good","batteryLevel":85}' from s, generate_series(1,1000) i order by 1,2;
insert into f_uuid_wide select s.u, '2026-01-01'::timestamptz + i * interval '1 minute', random(), null, null, null, null from s, generate_series(1,1000) i order by 1,2;
vacuum analyze;
select c.relname, pg_relation_size(c.oid) heap, pg_indexes_size(c.oid) idx, pg_total_relation_size(c.oid) total,
  round(pg_relation_size(c.oid)/1e6::numeric,1) heap_b_per_row, round(pg_indexes_size(c.oid)/1e6::numeric,1) idx_b_per_row, round(pg_total_relation_size(c.oid)/1e6::numeric,1) total_b_per_row
from pg_class c where relname in ('a_uuid','b_int8','b_int4','c_org','d_wide','e_extra','f_uuid_wide') order by relname;
select 'a', avg(pg_column_size(t.*)) from a_uuid t union all select 'b8', avg(pg_column_size(t.*)) from b_int8 t union all select 'c', avg(pg_column_size(t.*)) from c_org t union all select 'd', avg(pg_column_size(t.*)) from d_wide t union all select 'e', avg(pg_column_size(t.*)) from e_extra t;
