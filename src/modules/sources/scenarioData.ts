// Scenario data (seed 000 "Scenario data" access pattern): the facts of the components a
// scenario links, within the scenario's period; queries over them; and the comparison of
// scenarios side by side (values per bucket, absolute and relative differences from the first
// scenario, totals per scenario). A series of a scenario is named the way facts name it:
// (object type, instance, property), plus the data source when the scenario links components of
// several sources that carry that series (say measured rates and a forecast).
import { sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import type { RequestContext } from '../../core/context.ts'
import { rows, type Database } from '../../core/db/database.ts'
import { ValidationError, type FieldError } from '../../core/errors.ts'
import { orgOf } from '../../core/tenancy.ts'
import { parseTime } from '../measurements/datapoints.service.ts'
import { factPage } from '../measurements/factsQuery.ts'
import type { DatapointQueries, QueryAnswerItem } from '../measurements/queryDatapoints.ts'
import type { ScenarioRow } from './sources.schema.ts'

/** A series named as facts name it. */
export interface SeriesRef {
  object_type?: string | undefined
  object_instance: string
  object_type_property: string
  /** The data source, when the scenario links components of several that carry this series. */
  data_source?: string | undefined
}

/** One series of a scenario: the fact tuple and where its values come from. */
export interface ScenarioSeries {
  scenario_id: string
  series_id: string
  key: number
  object_type: string
  object_instance: string
  object_type_property: string
  /** The property's unit category: the seed's `sub_data_source`. */
  sub_data_source: string | null
  component_id: string
  component: string
  data_source_id: string
  data_source: string
  value_type: string
}

export interface CompareInput {
  scenario_ids: string[]
  series: SeriesRef[]
  start?: string | undefined
  end?: string | undefined
  granularity?: string | undefined
  aggregate?: 'avg' | 'min' | 'max' | 'sum' | 'count' | 'first' | 'last' | undefined
  unit?: string | undefined
  unit_system?: string | undefined
  time_zone?: string | undefined
}

const same = (ref: string, name: string, id: string) => ref.toLowerCase() === name.toLowerCase() || ref.toLowerCase() === id.toLowerCase()

export function createScenarioData({ database, queries, getScenario }: { database: Database; queries: DatapointQueries; getScenario: (ctx: RequestContext, id: string) => Promise<ScenarioRow> }) {
  const db = database.db

  /** Every series the scenarios' linked components carry, optionally only of these instances. */
  async function seriesOf(ctx: RequestContext, scenarioIds: string[], instances?: string[]): Promise<ScenarioSeries[]> {
    const names = instances?.map((i) => i.toLowerCase())
    const found = await rows<Omit<ScenarioSeries, 'key'> & { key: string | number; entity_id: string; type_id: string; property_id: string }>(
      db,
      sql`select l.scenario_id, s.id as series_id, s.key, t.name as object_type, t.id as type_id, e.name as object_instance, e.id as entity_id, p.name as object_type_property, p.id as property_id,
                 uc.name as sub_data_source, c.id as component_id, c.name as component, d.id as data_source_id, d.name as data_source, s.value_type
          from scenario_components l
          join series s on s.organization_id = l.organization_id and s.component_id = l.component_id
          join entities e on e.organization_id = s.organization_id and e.id = s.entity_id
          join object_types t on t.id = s.object_type_id
          join object_type_properties p on p.id = s.property_id
          left join unit_categories uc on uc.id = p.unit_category_id
          join components c on c.organization_id = l.organization_id and c.id = l.component_id
          join data_sources d on d.organization_id = c.organization_id and d.id = c.data_source_id
          where l.organization_id = ${orgOf(ctx)} and l.scenario_id = any(${`{${scenarioIds.join(',')}}`}::uuid[])
          ${names ? sql`and (lower(e.name) = any(${`{${names.map((n) => `"${n.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]) or e.id::text = any(${`{${names.map((n) => `"${n.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]))` : sql``}
          order by e.name, p.name, d.name`,
    )
    return found.map((f) => ({ ...f, key: Number(f.key), object_type: f.object_type, object_instance: f.object_instance, object_type_property: f.object_type_property }))
  }

  /**
   * The series of each ref in one scenario, or the errors naming what does not match:
   * unknown, or ambiguous between data sources.
   */
  function pick(all: (ScenarioSeries & { entity_id?: string; type_id?: string; property_id?: string })[], scenario: ScenarioRow, refs: SeriesRef[], errors: FieldError[], required: boolean): (ScenarioSeries | null)[] {
    return refs.map((ref, i) => {
      const at = `/body/series/${i}`
      const matches = all.filter(
        (s) =>
          s.scenario_id === scenario.id &&
          same(ref.object_instance, s.object_instance, s.entity_id ?? '') &&
          same(ref.object_type_property, s.object_type_property, s.property_id ?? '') &&
          (!ref.object_type || same(ref.object_type, s.object_type, s.type_id ?? '')) &&
          (!ref.data_source || same(ref.data_source, s.data_source, s.data_source_id)),
      )
      if (matches.length > 1) {
        errors.push({ path: `${at}/data_source`, message: `scenario ${scenario.name} has ${ref.object_instance}.${ref.object_type_property} from ${matches.map((m) => m.data_source).join(' and ')}: name one` })
        return null
      }
      if (matches.length === 0 && required) errors.push({ path: at, message: `scenario ${scenario.name} has no ${ref.object_instance}.${ref.object_type_property} series${ref.data_source ? ` from ${ref.data_source}` : ''}` })
      return matches[0] ?? null
    })
  }

  /** [start, end) of a request within a scenario's period; 422 when neither says. */
  function rangeOf(scenario: ScenarioRow, start: string | undefined, end: string | undefined): { start: string; end: string } {
    const s = [start ? Date.parse(start) : Number.NaN, scenario.periodStart?.getTime() ?? Number.NaN].filter(Number.isFinite)
    const e = [end ? Date.parse(end) : Number.NaN, scenario.periodEnd?.getTime() ?? Number.NaN].filter(Number.isFinite)
    if (start && !Number.isFinite(Date.parse(start))) throw new ValidationError('start is not an ISO 8601 time', [{ path: '/body/start', message: 'is not an ISO 8601 time with a zone' }])
    if (end && !Number.isFinite(Date.parse(end))) throw new ValidationError('end is not an ISO 8601 time', [{ path: '/body/end', message: 'is not an ISO 8601 time with a zone' }])
    if (s.length === 0) throw new ValidationError(`scenario ${scenario.name} has no period start: give start`, [{ path: '/body/start', message: `is required: scenario ${scenario.name} has no period` }])
    if (e.length === 0) throw new ValidationError(`scenario ${scenario.name} has no period end: give end`, [{ path: '/body/end', message: `is required: scenario ${scenario.name} has no period` }])
    return { start: new Date(Math.max(...s)).toISOString(), end: new Date(Math.min(...e)).toISOString() }
  }

  return {
    seriesOf,

    /** The scenario's facts (points of its components' series) in its period, by series then time. */
    async facts(ctx: RequestContext, scenarioId: string, q: { object_instance?: string | undefined; object_type_property?: string | undefined; data_source?: string | undefined; from?: string | undefined; to?: string | undefined; limit: number; cursor?: string | undefined }) {
      const scenario = await getScenario(ctx, scenarioId)
      const all = (await seriesOf(ctx, [scenario.id], q.object_instance ? [q.object_instance] : undefined)).filter(
        (s) => (!q.object_type_property || s.object_type_property.toLowerCase() === q.object_type_property.toLowerCase()) && (!q.data_source || s.data_source.toLowerCase() === q.data_source.toLowerCase()),
      )
      // The request's range within the scenario's period.
      const from = [q.from ? parseTime(q.from) : Number.NaN, scenario.periodStart?.getTime() ?? Number.NaN].filter(Number.isFinite)
      const to = [q.to ? parseTime(q.to) : Number.NaN, scenario.periodEnd?.getTime() ?? Number.NaN].filter(Number.isFinite)
      if (q.from && !Number.isFinite(parseTime(q.from))) throw new ValidationError('from is not an ISO 8601 time', [{ path: '/query/from', message: 'is not an ISO 8601 time with a zone' }])
      if (q.to && !Number.isFinite(parseTime(q.to))) throw new ValidationError('to is not an ISO 8601 time', [{ path: '/query/to', message: 'is not an ISO 8601 time with a zone' }])
      const page = await factPage(db, all, {
        ...(from.length ? { from: new Date(Math.max(...from)).toISOString() } : {}),
        ...(to.length ? { to: new Date(Math.min(...to)).toISOString() } : {}),
        limit: q.limit,
        cursor: q.cursor,
      })
      return { scenario_id: scenario.id, ...page }
    },

    /** Compares scenarios series by series; the first scenario is the baseline of the differences. */
    async compare(ctx: RequestContext, input: CompareInput) {
      const errors: FieldError[] = []
      input.scenario_ids.forEach((id, i) => {
        if (!UUID.test(id)) errors.push({ path: `/body/scenario_ids/${i}`, message: 'is not a scenario id' })
      })
      if (new Set(input.scenario_ids).size !== input.scenario_ids.length) errors.push({ path: '/body/scenario_ids', message: 'names a scenario twice' })
      if (errors.length) throw new ValidationError(errors[0]!.message, errors)
      const scenarios: ScenarioRow[] = []
      for (const [i, id] of input.scenario_ids.entries()) {
        scenarios.push(
          await getScenario(ctx, id).catch(() => {
            throw new ValidationError(`scenario ${id} is not a scenario of this organisation`, [{ path: `/body/scenario_ids/${i}`, message: 'is not a scenario of this organisation' }])
          }),
        )
      }
      const all = await seriesOf(ctx, input.scenario_ids, input.series.map((r) => r.object_instance))
      // Each ref must exist in at least one scenario; a scenario without it shows nulls.
      const picked = scenarios.map((s) => pick(all, s, input.series, errors, false))
      input.series.forEach((ref, i) => {
        if (picked.every((p) => p[i] === null) && !errors.some((e) => e.path.startsWith(`/body/series/${i}`)))
          errors.push({ path: `/body/series/${i}`, message: `no scenario compared has a ${ref.object_instance}.${ref.object_type_property} series${ref.data_source ? ` from ${ref.data_source}` : ''}` })
      })
      if (errors.length) throw new ValidationError(errors[0]!.message, errors)
      const aggregate = input.aggregate ?? 'avg'
      // One query per scenario, over its period within the request's range.
      const answers: Map<string, QueryAnswerItem>[] = []
      const ranges: { start: string; end: string }[] = []
      for (const [k, scenario] of scenarios.entries()) {
        const range = rangeOf(scenario, input.start, input.end)
        ranges.push(range)
        const ids = picked[k]!.filter((p): p is ScenarioSeries => p !== null).map((p) => p.series_id)
        if (ids.length === 0 || range.end <= range.start) {
          answers.push(new Map())
          continue
        }
        const result = await queries.query(ctx, {
          series_ids: [...new Set(ids)],
          start: range.start,
          end: range.end,
          granularity: input.granularity,
          aggregates: input.granularity ? [...new Set(['count', 'sum', 'min', 'max', 'avg', aggregate] as const)] : undefined,
          unit: input.unit,
          unit_system: input.unit_system,
          time_zone: input.time_zone,
          limit: 10_000,
        })
        answers.push(new Map(result.data.map((d) => [d.series_id, d])))
      }
      const diff = (v: number | null, base: number | null) => ({ absolute: v === null || base === null ? null : v - base, relative: v === null || base === null || base === 0 ? null : (v - base) / Math.abs(base) })
      return {
        baseline: scenarios[0]!.id,
        scenarios: scenarios.map((s, k) => ({ id: s.id, name: s.name, status: s.status, start: ranges[k]!.start, end: ranges[k]!.end })),
        granularity: input.granularity ?? null,
        aggregate: input.granularity ? aggregate : null,
        series: input.series.map((ref, i) => {
          const per = scenarios.map((_, k) => {
            const s = picked[k]![i]
            return { s, answer: s ? answers[k]!.get(s.series_id) : undefined }
          })
          // Rows keyed by bucket start (or point time), each with every scenario's value.
          const table = new Map<string, (number | string | null)[]>()
          per.forEach(({ answer }, k) => {
            for (const b of answer?.buckets ?? []) (table.get(String(b.start)) ?? table.set(String(b.start), scenarios.map(() => null)).get(String(b.start))!)[k] = b[aggregate] ?? null
            for (const p of answer?.datapoints ?? []) (table.get(p.timestamp) ?? table.set(p.timestamp, scenarios.map(() => null)).get(p.timestamp)!)[k] = p.value
          })
          const num = (v: number | string | null | undefined) => (typeof v === 'number' ? v : null)
          const rowsOut = [...table.entries()]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([timestamp, values]) => ({ timestamp, values, differences: values.map((v, k) => (k === 0 ? null : diff(num(v), num(values[0])))) }))
          // Totals per scenario from its buckets (exact: counts and sums add) or its points.
          const totals = per.map(({ answer }) => {
            const bs = answer?.buckets ?? []
            const ps = (answer?.datapoints ?? []).map((p) => num(p.value)).filter((v): v is number => v !== null)
            const count = bs.length ? bs.reduce((n, b) => n + Number(b.count ?? 0), 0) : ps.length
            const sum = bs.length ? bs.reduce((n, b) => n + Number(b.sum ?? 0), 0) : ps.reduce((n, v) => n + v, 0)
            const mins = bs.length ? bs.map((b) => num(b.min)).filter((v): v is number => v !== null) : ps
            const maxs = bs.length ? bs.map((b) => num(b.max)).filter((v): v is number => v !== null) : ps
            return { count, sum: count ? sum : null, avg: count ? sum / count : null, min: mins.length ? Math.min(...mins) : null, max: maxs.length ? Math.max(...maxs) : null }
          })
          const first = per.find((p) => p.s)!.s!
          return {
            object_type: first.object_type,
            object_instance: first.object_instance,
            object_type_property: first.object_type_property,
            sub_data_source: first.sub_data_source,
            unit: per.find((p) => p.answer)?.answer?.unit ?? null,
            sources: per.map(({ s }, k) => ({ scenario_id: scenarios[k]!.id, series_id: s?.series_id ?? null, component: s?.component ?? null, data_source: s?.data_source ?? null })),
            rows: rowsOut,
            summary: totals.map((t, k) => ({
              scenario_id: scenarios[k]!.id,
              ...t,
              differences: k === 0 ? null : { avg: diff(t.avg, totals[0]!.avg), sum: diff(t.sum, totals[0]!.sum), min: diff(t.min, totals[0]!.min), max: diff(t.max, totals[0]!.max) },
            })),
          }
        }),
      }
    },
  }
}

export type ScenarioData = ReturnType<typeof createScenarioData>
export type Comparison = Awaited<ReturnType<ScenarioData['compare']>>

/** A comparison as CSV: one row per series and time, a column per scenario, then the differences from the first. */
export function comparisonCsv(c: Comparison): string {
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? '' : String(v)
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
  }
  const names = c.scenarios.map((s) => s.name)
  const header = ['object_type', 'object_instance', 'object_type_property', 'unit', 'timestamp', ...names, ...names.slice(1).flatMap((n) => [`${n} - ${names[0]}`, `${n} vs ${names[0]} (relative)`])]
  const lines = [header.map(cell).join(',')]
  for (const s of c.series) {
    for (const r of s.rows) lines.push([s.object_type, s.object_instance, s.object_type_property, s.unit, r.timestamp, ...r.values, ...r.differences.slice(1).flatMap((d) => [d?.absolute ?? null, d?.relative ?? null])].map(cell).join(','))
  }
  return `${lines.join('\n')}\n`
}
