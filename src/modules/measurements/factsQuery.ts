// Reading facts back in the seed-000 shape (seed 000 "Access Patterns": facts by component and
// (object_type, object_type_property) in a time range, data_source derived from the component).
// Series are chosen first (a few rows), then their points are read by the points primary key,
// series after series, in time order; the cursor is (series key, time).
import { sql, type SQL } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Executor } from '../../core/db/database.ts'
import { decodeCursor, encodeCursor } from '../../core/http/pagination.ts'
import { orgOf } from '../../core/tenancy.ts'
import { queryTime } from './datapoints.service.ts'

/** A series named the way facts name it. */
export interface FactSeries {
  key: number
  series_id: string
  object_type: string
  object_instance: string
  object_type_property: string
  /** The property's unit category: the seed's `sub_data_source`. */
  sub_data_source: string | null
  component_id: string | null
  component: string | null
  data_source_id: string | null
  data_source: string | null
  value_type: string
}

export interface FactFilter {
  component?: string | undefined
  data_source?: string | undefined
  object_type?: string | undefined
  object_instance?: string | undefined
  object_type_property?: string | undefined
}

const text = (v: string) => sql`${v.toLowerCase()}`
/** Matches a name (any case) or an id. */
const named = (column: SQL, id: SQL, ref: string) => (UUID.test(ref) ? sql`${id} = ${ref}::uuid` : sql`lower(${column}) = ${text(ref)}`)

/** Series with their fact names, by the filters (each an id or a name), plus any extra condition. */
export async function factSeries(exec: Executor, ctx: RequestContext, f: FactFilter, extra?: SQL): Promise<FactSeries[]> {
  const where: SQL[] = [sql`s.organization_id = ${orgOf(ctx)}`]
  if (f.object_type) where.push(named(sql`t.name`, sql`t.id`, f.object_type))
  if (f.object_instance) where.push(named(sql`e.name`, sql`e.id`, f.object_instance))
  if (f.object_type_property) where.push(named(sql`p.name`, sql`p.id`, f.object_type_property))
  if (f.data_source) where.push(named(sql`d.name`, sql`d.id`, f.data_source))
  if (f.component) {
    const slash = f.component.indexOf('/')
    where.push(UUID.test(f.component) ? sql`c.id = ${f.component}::uuid` : slash > 0 ? sql`lower(d.name) = ${text(f.component.slice(0, slash))} and lower(c.name) = ${text(f.component.slice(slash + 1))}` : sql`lower(c.name) = ${text(f.component)}`)
  }
  if (extra) where.push(extra)
  const found = await rows<Omit<FactSeries, 'key'> & { key: string | number }>(
    exec,
    sql`select s.key, s.id as series_id, t.name as object_type, e.name as object_instance, p.name as object_type_property, uc.name as sub_data_source,
               c.id as component_id, c.name as component, d.id as data_source_id, d.name as data_source, s.value_type
        from series s
        join entities e on e.organization_id = s.organization_id and e.id = s.entity_id
        join object_types t on t.id = s.object_type_id
        join object_type_properties p on p.id = s.property_id
        left join unit_categories uc on uc.id = p.unit_category_id
        left join components c on c.organization_id = s.organization_id and c.id = s.component_id
        left join data_sources d on d.organization_id = c.organization_id and d.id = c.data_source_id
        where ${sql.join(where, sql` and `)}
        order by s.key`,
  )
  return found.map((r) => ({ ...r, key: Number(r.key) }))
}

/** A page of the facts of these series in [from, to), series by series in time order. */
export async function factPage(exec: Executor, series: FactSeries[], q: { from?: string | undefined; to?: string | undefined; limit: number; cursor?: string | undefined }) {
  const from = queryTime(q.from, '/query/from')
  const to = queryTime(q.to, '/query/to')
  const after = q.cursor ? (decodeCursor(q.cursor, ['number', 'number']) as [number, number]) : null
  const byKey = new Map(series.map((s) => [s.key, s]))
  const found =
    series.length === 0
      ? []
      : await rows<{ series_id: string | number; ts: Date | string; value: number | null; value_text: string | null; tag: string | null; description: string | null }>(
          exec,
          sql`select series_id, ts, value, value_text, tag, description from points
              where series_id = any(${`{${series.map((s) => s.key).join(',')}}`}::bigint[])
              ${from ? sql`and ts >= ${from}::timestamptz` : sql``} ${to ? sql`and ts < ${to}::timestamptz` : sql``}
              ${after ? sql`and (series_id, ts) > (${after[0]}::bigint, to_timestamp(${after[1]} / 1000.0))` : sql``}
              order by series_id, ts limit ${q.limit + 1}`,
        )
  const page = found.slice(0, q.limit)
  const last = page[page.length - 1]
  return {
    data: page.map((p) => {
      const s = byKey.get(Number(p.series_id))!
      return {
        series_id: s.series_id,
        object_type: s.object_type,
        object_instance: s.object_instance,
        object_type_property: s.object_type_property,
        component: s.component,
        data_source: s.data_source,
        sub_data_source: s.sub_data_source,
        date_time: new Date(p.ts).toISOString(),
        value: s.value_type === 'number' ? p.value : p.value_text,
        tag: p.tag,
        description: p.description,
      }
    }),
    next_cursor: found.length > q.limit && last ? encodeCursor([Number(last.series_id), new Date(last.ts).getTime()]) : null,
  }
}
