// Data sources, components and scenarios from the command line: `stratum sources list|add`,
// `stratum components add`, `stratum scenarios list|create|link|clone|compare|log|logs` and the status moves
// (`stratum scenarios submit|approve|reject|rework|start|complete|fail|archive`). Every command
// works in one organisation (--organization SLUG), as a member when --email is given (so the
// four-eyes rule sees who approves), otherwise as Stratum itself. Scenarios and data sources are
// named by name or id, components as "Data source/Component" or by id.
import { createReadStream, statSync } from 'node:fs'
import { basename, extname } from 'node:path'
import { UUID } from '../core/behaviours/columns.ts'
import type { RequestContext } from '../core/context.ts'
import { NotFoundError, ValidationError } from '../core/errors.ts'
import type { Runtime } from '../core/runtime.ts'
import { createSources, type Sources } from '../modules/sources/index.ts'
import { comparisonCsv, type CompareInput, type SeriesRef } from '../modules/sources/scenarioData.ts'
import type { ScenarioAction } from '../modules/sources/scenarios.service.ts'
import { DATA_SOURCE_TYPES, LOG_LEVELS, SCENARIO_STATUSES, type DataSourceType, type LogLevel, type ScenarioStatus } from '../modules/sources/sources.schema.ts'
import type { Command } from './main.ts'
import { FAILURE, USAGE, actingAs, withRuntime } from './withRuntime.ts'

type Args = Parameters<Command['run']>[0]
type Values = Args['values']

const ACTING: NonNullable<Command['options']> = {
  organization: { type: 'string', help: 'Slug or id of the organisation' },
  email: { type: 'string', help: 'Act as this member (default: as Stratum itself)' },
}

const usage = (problem: string) => {
  process.stderr.write(`${problem}\n`)
  return USAGE
}

/**
 * Opens the runtime and acts in the organisation. A refused request says why and exits 1; a
 * validation problem also names each field, as the API's problem document does.
 */
function withSources(args: Args, fn: (s: Sources, ctx: RequestContext, rt: Runtime) => Promise<number>): Promise<number> {
  const organization = args.values.organization
  if (typeof organization !== 'string' || organization === '') return Promise.resolve(usage('missing --organization'))
  return withRuntime(args, async (rt) => {
    const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
    try {
      return await fn(createSources(rt), ctx, rt)
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      process.stderr.write(`${err.message}\n${err.errors.map((e) => `  ${e.path}: ${e.message}\n`).join('')}`)
      return FAILURE
    }
  })
}

/** Columns padded to their widest cell; the last column is not padded. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}

/** Every page of a newest-first list. */
async function all<T>(page: (cursor: string | undefined) => Promise<{ data: T[]; next_cursor: string | null }>): Promise<T[]> {
  const out: T[] = []
  let cursor: string | undefined
  do {
    const p = await page(cursor)
    out.push(...p.data)
    cursor = p.next_cursor ?? undefined
  } while (cursor)
  return out
}

async function findScenario(s: Sources, ctx: RequestContext, ref: string) {
  if (UUID.test(ref)) return s.scenarios.get(ctx, ref)
  const found = (await all((cursor) => s.scenarios.list(ctx, { limit: 500, cursor }))).find((x) => x.name.toLowerCase() === ref.toLowerCase())
  if (!found) throw new NotFoundError(`no scenario is named ${ref} (give its name or id)`)
  return s.scenarios.get(ctx, found.id)
}

async function findSource(s: Sources, ctx: RequestContext, ref: string) {
  if (UUID.test(ref)) return s.sources.getSourceView(ctx, ref)
  const found = (await all((cursor) => s.sources.listSources(ctx, { limit: 500, cursor }))).find((x) => x.name.toLowerCase() === ref.toLowerCase())
  if (!found) throw new NotFoundError(`no data source is named ${ref} (give its name or id)`)
  return found
}

async function findComponent(s: Sources, ctx: RequestContext, rt: Runtime, ref: string) {
  const found = await s.sources.findComponent(rt.database.db, ctx, ref)
  if (!found) throw new NotFoundError(`no component is ${ref} (give its id, or "Data source/Component")`)
  return found
}

/** A time as given on the command line, or the usage problem with it. */
function time(values: Values, name: string): string | undefined | { problem: string } {
  const v = values[name]
  if (typeof v !== 'string') return undefined
  return Number.isNaN(Date.parse(v)) ? { problem: `--${name} must be an ISO 8601 time (2026-01-01 or 2026-01-01T00:00:00Z), not "${v}"` } : new Date(v).toISOString()
}

/** Midnight UTC as a date; any other time in full. */
const shortTime = (iso: string | null) => (iso === null ? '' : iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso)
const period = (start: string | null, end: string | null) => (start || end ? `${shortTime(start) || '...'} to ${shortTime(end) || '...'}` : '-')

const CONTENT_TYPES: Record<string, string> = { '.csv': 'text/csv', '.json': 'application/json', '.txt': 'text/plain', '.xml': 'application/xml', '.zip': 'application/zip' }

const MOVES: { action: ScenarioAction; summary: string }[] = [
  { action: 'submit', summary: 'Submit a draft scenario for approval' },
  { action: 'approve', summary: 'Approve a submitted scenario (scenarios:approve; not its creator)' },
  { action: 'reject', summary: 'Reject a submitted scenario, saying why (scenarios:approve; not its creator)' },
  { action: 'rework', summary: 'Take a rejected scenario back to draft' },
  { action: 'start', summary: 'Start running an approved scenario' },
  { action: 'complete', summary: 'Mark a running scenario completed' },
  { action: 'fail', summary: 'Mark a running scenario failed' },
  { action: 'archive', summary: 'Archive a scenario, whatever its status' },
]

const moveCommands: Record<string, Command> = Object.fromEntries(
  MOVES.map(({ action, summary }): [string, Command] => [
    `scenarios ${action}`,
    {
      summary,
      usage: `stratum scenarios ${action} SCENARIO --organization SLUG [--email E]${action === 'reject' ? ' --reason R' : ''}`,
      positionals: { min: 1, max: 1 },
      options: { ...ACTING, ...(action === 'reject' ? { reason: { type: 'string' as const, help: 'Why it is rejected (kept on the scenario and in its event)' } } : {}) },
      async run(args) {
        const reason = args.values.reason as string | undefined
        if (action === 'reject' && !reason) return usage('missing --reason: say why the scenario is rejected')
        return withSources(args, async (s, ctx) => {
          const before = await findScenario(s, ctx, args.positionals[0]!)
          const after = await s.scenarios.act(ctx, before.id, action, reason ? { reason } : {})
          process.stdout.write(`scenario ${after.name}: ${before.status} -> ${after.status}\n`)
          return 0
        })
      },
    },
  ]),
)

export const sourcesCommands: Record<string, Command> = {
  'sources list': {
    summary: 'List the data sources of an organisation with their components',
    usage: 'stratum sources list --organization SLUG [--type INPUT|OUTPUT|PROCESS] [--email E]',
    options: { ...ACTING, type: { type: 'string', help: 'Only data sources of this type' } },
    async run(args) {
      const type = args.values.type as string | undefined
      if (type && !DATA_SOURCE_TYPES.includes(type as DataSourceType)) return usage(`--type must be one of ${DATA_SOURCE_TYPES.join(', ')}`)
      return withSources(args, async (s, ctx) => {
        const rows = [['NAME', 'TYPE', 'ID', 'COMPONENTS']]
        for (const d of await all((cursor) => s.sources.listSources(ctx, { limit: 500, cursor, type: type as DataSourceType | undefined }))) {
          const components = await all((cursor) => s.sources.listComponents(ctx, d.id, { limit: 500, cursor }))
          rows.push([d.name, d.type, d.id, components.map((c) => c.name).sort().join(', ')])
        }
        process.stdout.write(table(rows))
        return 0
      })
    },
  },
  'sources add': {
    summary: 'Add a data source (INPUT, OUTPUT or PROCESS)',
    usage: 'stratum sources add NAME --type INPUT|OUTPUT|PROCESS --organization SLUG [--description D] [--email E]',
    positionals: { min: 1, max: 1 },
    options: { ...ACTING, type: { type: 'string', help: 'INPUT, OUTPUT or PROCESS' }, description: { type: 'string', help: 'What the data source is' } },
    async run(args) {
      const type = args.values.type as string | undefined
      if (!type || !DATA_SOURCE_TYPES.includes(type as DataSourceType)) return usage(`--type must be one of ${DATA_SOURCE_TYPES.join(', ')}`)
      return withSources(args, async (s, ctx) => {
        const made = await s.sources.createSource(ctx, { name: args.positionals[0]!, type: type as DataSourceType, description: args.values.description as string | undefined })
        process.stdout.write(`created data source ${made.name} (${made.id}), ${made.type}\n`)
        return 0
      })
    },
  },
  'components add': {
    summary: "Add a component to a data source, optionally with its file (streamed from disk; the file's first version)",
    usage: 'stratum components add SOURCE NAME --organization SLUG [--file PATH] [--content-type T] [--description D] [--email E]',
    positionals: { min: 2, max: 2 },
    options: {
      ...ACTING,
      file: { type: 'string', help: "The component's file" },
      'content-type': { type: 'string', help: 'The media type of the file (default from its extension, else application/octet-stream)' },
      description: { type: 'string', help: 'What the component is' },
    },
    async run(args) {
      const file = args.values.file as string | undefined
      if (file) {
        try {
          if (!statSync(file).isFile()) return usage(`${file} is not a file`)
        } catch (err) {
          return usage(`cannot read ${file}: ${(err as Error).message}`)
        }
      }
      const [sourceRef, name] = args.positionals as [string, string]
      return withSources(args, async (s, ctx, rt) => {
        const source = await findSource(s, ctx, sourceRef)
        const made = await s.sources.createComponent(ctx, source.id, { name, description: args.values.description as string | undefined })
        process.stdout.write(`created component ${source.name}/${made.name} (${made.id})\n`)
        if (!file) return 0
        const contentType = (args.values['content-type'] as string | undefined) ?? CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
        try {
          const stored = await s.sources.putFile(ctx, made.id, { name: basename(file), contentType, body: createReadStream(file), maxBytes: rt.config.fileMaxBytes })
          process.stdout.write(`stored ${stored.file.name} (${stored.file.size} bytes, sha256 ${stored.file.sha256}) as version ${stored.version}\n`)
          return 0
        } catch (err) {
          // The component stays: say so, so that a retry attaches the file rather than adding it again.
          process.stderr.write(`component ${made.name} was created, but its file was not stored: ${(err as Error).message}\n`)
          return FAILURE
        }
      })
    },
  },

  'scenarios list': {
    summary: 'List scenarios, newest first: name, status, period, linked components',
    usage: 'stratum scenarios list --organization SLUG [--status S] [--email E]',
    options: { ...ACTING, status: { type: 'string', help: `Only scenarios in this status (${SCENARIO_STATUSES.join(', ')})` } },
    async run(args) {
      const status = args.values.status as string | undefined
      if (status && !SCENARIO_STATUSES.includes(status as ScenarioStatus)) return usage(`--status must be one of ${SCENARIO_STATUSES.join(', ')}`)
      return withSources(args, async (s, ctx) => {
        const rows = [['NAME', 'STATUS', 'PERIOD', 'COMPONENTS']]
        for (const x of await all((cursor) => s.scenarios.list(ctx, { limit: 500, cursor, status: status as ScenarioStatus | undefined }))) {
          rows.push([x.name, x.status, period(x.period_start, x.period_end), String((await s.scenarios.listLinks(ctx, x.id)).data.length)])
        }
        process.stdout.write(table(rows))
        return 0
      })
    },
  },
  'scenarios create': {
    summary: 'Create a draft scenario',
    usage: 'stratum scenarios create NAME --organization SLUG [--description D] [--from ISO] [--to ISO] [--email E]',
    positionals: { min: 1, max: 1 },
    options: {
      ...ACTING,
      description: { type: 'string', help: 'What the scenario is for' },
      from: { type: 'string', help: 'Start of the period it covers (inclusive)' },
      to: { type: 'string', help: 'End of the period it covers (exclusive)' },
    },
    async run(args) {
      const from = time(args.values, 'from')
      const to = time(args.values, 'to')
      for (const t of [from, to]) if (typeof t === 'object') return usage(t.problem)
      return withSources(args, async (s, ctx) => {
        const made = await s.scenarios.create(ctx, { name: args.positionals[0]!, description: args.values.description as string | undefined, period_start: from as string | undefined, period_end: to as string | undefined })
        process.stdout.write(`created scenario ${made.name} (${made.id}), ${made.status}, period ${period(made.period_start, made.period_end)}\n`)
        return 0
      })
    },
  },
  'scenarios link': {
    summary: 'Link a component to a draft scenario (one component per data source)',
    usage: 'stratum scenarios link SCENARIO COMPONENT --organization SLUG [--email E]   (COMPONENT: "Data source/Component" or its id)',
    positionals: { min: 2, max: 2 },
    options: ACTING,
    async run(args) {
      const [scenarioRef, componentRef] = args.positionals as [string, string]
      return withSources(args, async (s, ctx, rt) => {
        const scenario = await findScenario(s, ctx, scenarioRef)
        const component = await findComponent(s, ctx, rt, componentRef)
        await s.scenarios.linkComponent(ctx, scenario.id, component.id)
        process.stdout.write(`linked component ${component.name} (${component.id}) to scenario ${scenario.name}\n`)
        return 0
      })
    },
  },
  'scenarios clone': {
    summary: 'Copy a scenario as a new draft: description, period and links (not its data or logs)',
    usage: 'stratum scenarios clone SCENARIO NEW_NAME --organization SLUG [--email E]',
    positionals: { min: 2, max: 2 },
    options: ACTING,
    async run(args) {
      const [scenarioRef, name] = args.positionals as [string, string]
      return withSources(args, async (s, ctx) => {
        const from = await findScenario(s, ctx, scenarioRef)
        const made = await s.scenarios.clone(ctx, from.id, { name })
        process.stdout.write(`cloned scenario ${from.name} as ${made.name} (${made.id}), draft, ${made.components?.length ?? 0} component${made.components?.length === 1 ? '' : 's'} linked\n`)
        return 0
      })
    },
  },
  'scenarios compare': {
    summary: 'Scenarios side by side for some series: values per bucket, differences from the first scenario, totals (table or CSV)',
    usage:
      'stratum scenarios compare SCENARIO SCENARIO... --series INSTANCE.PROPERTY[@SOURCE] [--series ...] --organization SLUG [--granularity 1d] [--aggregate avg] [--unit U] [--from ISO] [--to ISO] [--csv] [--email E]',
    positionals: { min: 2, max: 20 },
    options: {
      ...ACTING,
      series: { type: 'string', multiple: true, help: 'A series as Well-12.oil_rate, or Well-12.oil_rate@Forecast to pick the data source' },
      granularity: { type: 'string', help: 'Bucket size (1h, 1d, 1mo...); without it, the values themselves' },
      aggregate: { type: 'string', help: 'avg (default), min, max, sum, count, first or last' },
      unit: { type: 'string', help: 'Answer in this unit' },
      from: { type: 'string', help: 'Start of the range (inclusive), within each scenario period' },
      to: { type: 'string', help: 'End of the range (exclusive)' },
      csv: { type: 'boolean', help: 'Print CSV (a column per scenario, then the differences) instead of a table' },
    },
    async run(args) {
      const specs = (args.values.series as string[] | undefined) ?? []
      if (specs.length === 0) return usage('missing --series: name at least one series as INSTANCE.PROPERTY (Well-12.oil_rate)')
      const series: SeriesRef[] = []
      for (const spec of specs) {
        const m = /^(.+)\.([^.@]+)(?:@(.+))?$/.exec(spec)
        if (!m) return usage(`--series ${spec}: give INSTANCE.PROPERTY or INSTANCE.PROPERTY@SOURCE (Well-12.oil_rate@Forecast)`)
        series.push({ object_instance: m[1]!, object_type_property: m[2]!, data_source: m[3] })
      }
      const from = time(args.values, 'from')
      const to = time(args.values, 'to')
      for (const t of [from, to]) if (typeof t === 'object') return usage(t.problem)
      const aggregate = args.values.aggregate as CompareInput['aggregate'] | string | undefined
      if (aggregate && !['avg', 'min', 'max', 'sum', 'count', 'first', 'last'].includes(aggregate)) return usage('--aggregate must be one of avg, min, max, sum, count, first, last')
      return withSources(args, async (s, ctx) => {
        const scenarios = []
        for (const ref of args.positionals) scenarios.push(await findScenario(s, ctx, ref))
        const c = await s.data.compare(ctx, {
          scenario_ids: scenarios.map((x) => x.id),
          series,
          start: from as string | undefined,
          end: to as string | undefined,
          granularity: args.values.granularity as string | undefined,
          aggregate: aggregate as CompareInput['aggregate'],
          unit: args.values.unit as string | undefined,
        })
        if (args.values.csv) {
          process.stdout.write(comparisonCsv(c))
          return 0
        }
        const names = c.scenarios.map((x) => x.name)
        const num = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(8))) : v === null || v === undefined ? '' : String(v))
        const pct = (v: number | null | undefined) => (v === null || v === undefined ? '' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`)
        const out: string[] = []
        for (const x of c.series) {
          out.push(`${x.object_instance}.${x.object_type_property}${x.unit ? ` [${x.unit}]` : ''}${c.aggregate ? `, ${c.aggregate} per ${c.granularity}` : ''}`)
          const rows = [['TIME', ...names, ...names.slice(1).map((n) => `${n} vs ${names[0]}`)]]
          for (const r of x.rows) rows.push([shortTime(r.timestamp), ...r.values.map(num), ...r.differences.slice(1).map((d) => (d ? `${num(d.absolute)} (${pct(d.relative)})` : ''))])
          rows.push(['avg', ...x.summary.map((t) => num(t.avg)), ...x.summary.slice(1).map((t) => (t.differences ? `${num(t.differences.avg.absolute)} (${pct(t.differences.avg.relative)})` : ''))])
          out.push(table(rows))
        }
        process.stdout.write(out.join('\n'))
        return 0
      })
    },
  },
  ...moveCommands,
  'scenarios log': {
    summary: "Write a line to a scenario's log, optionally with progress",
    usage: 'stratum scenarios log SCENARIO MESSAGE --organization SLUG [--level debug|info|warning|error] [--progress 0-100] [--email E]',
    positionals: { min: 2, max: 2 },
    options: { ...ACTING, level: { type: 'string', help: `One of ${LOG_LEVELS.join(', ')} (default info)` }, progress: { type: 'string', help: 'Progress in percent, 0 to 100' } },
    async run(args) {
      const level = args.values.level as string | undefined
      const progressText = args.values.progress as string | undefined
      const progress = progressText === undefined ? undefined : Number(progressText)
      if (level && !LOG_LEVELS.includes(level as LogLevel)) return usage(`--level must be one of ${LOG_LEVELS.join(', ')}`)
      if (progress !== undefined && !(Number.isInteger(progress) && progress >= 0 && progress <= 100)) return usage('--progress must be a whole number from 0 to 100')
      const [scenarioRef, message] = args.positionals as [string, string]
      return withSources(args, async (s, ctx) => {
        const scenario = await findScenario(s, ctx, scenarioRef)
        const line = await s.scenarios.writeLog(ctx, scenario.id, { message, level: level as LogLevel | undefined, progress })
        process.stdout.write(`logged to scenario ${scenario.name} at ${line.ts}\n`)
        return 0
      })
    },
  },
  'scenarios logs': {
    summary: "Print a scenario's log, newest first",
    usage: 'stratum scenarios logs SCENARIO --organization SLUG [--level L] [--limit N] [--email E]',
    positionals: { min: 1, max: 1 },
    options: { ...ACTING, level: { type: 'string', help: 'Only lines of this level' }, limit: { type: 'string', help: 'At most this many lines (default 100)' } },
    async run(args) {
      const level = args.values.level as string | undefined
      const limit = args.values.limit === undefined ? 100 : Number(args.values.limit)
      if (level && !LOG_LEVELS.includes(level as LogLevel)) return usage(`--level must be one of ${LOG_LEVELS.join(', ')}`)
      if (!(Number.isInteger(limit) && limit > 0 && limit <= 10_000)) return usage('--limit must be a whole number from 1 to 10000')
      return withSources(args, async (s, ctx) => {
        const scenario = await findScenario(s, ctx, args.positionals[0]!)
        const lines = await s.scenarios.listLogs(ctx, scenario.id, { limit, level: level as LogLevel | undefined })
        const rows = [['TIME', 'LEVEL', 'PROGRESS', 'BY', 'MESSAGE'], ...lines.data.map((l) => [l.ts, l.level, l.progress === null ? '' : `${l.progress}%`, l.created_by ?? '', l.message])]
        process.stdout.write(table(rows))
        return 0
      })
    },
  },
}
