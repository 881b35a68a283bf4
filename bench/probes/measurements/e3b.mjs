import { PGlite } from '@electric-sql/pglite'
const db = await PGlite.create()
await db.query('create table t (series_id bigint, ts timestamptz, value float8)')
let s=''; for (let i=0;i<10000;i++) s+=`1\t2026-01-01T00:00:${String(i%60).padStart(2,'0')}Z\t${i}\n`
const mode = process.argv[2]
if (mode==='tx') { await db.transaction(async (tx) => { await tx.query("copy t from '/dev/blob'", [], { blob: new Blob([s]) }); await tx.query("copy t from '/dev/blob'", [], { blob: new Blob([s]) }) }) }
if (mode==='begin') { await db.query('begin'); await db.query("copy t from '/dev/blob'", [], { blob: new Blob([s]) }); await db.query("copy t from '/dev/blob'", [], { blob: new Blob([s]) }); await db.query('commit') }
if (mode==='temp') { await db.query('create temp table st (series_id bigint, ts timestamptz, value float8)'); await db.query("copy st from '/dev/blob'", [], { blob: new Blob([s]) }); await db.query("copy st from '/dev/blob'", [], { blob: new Blob([s]) }) }
console.log(mode, (await db.query('select (select count(*) from t) t')).rows)
