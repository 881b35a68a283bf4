// Notebook workflows from the command line: `stratum notebooks list|import|export|runs`. A
// notebook is an automation, so running one is `stratum run NOTEBOOK --wait` (with
// PYTHON_STEPS=true). Every command works in one organisation (--organization SLUG), as a member
// when --email is given, otherwise as Stratum itself. Notebooks are named by slug or id,
// components by id or as "Data source/Component".
import { once } from 'node:events'
import { createWriteStream, readFileSync } from 'node:fs'
import { basename, extname } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { RequestContext } from '../core/context.ts'
import { NotFoundError, ValidationError } from '../core/errors.ts'
import type { Runtime } from '../core/runtime.ts'
import { createAutomation } from '../modules/automation/index.ts'
import type { Notebooks } from '../modules/automation/notebooks.service.ts'
import { createSources } from '../modules/sources/index.ts'
import type { Command } from './main.ts'
import { FAILURE, USAGE, actingAs, withRuntime } from './withRuntime.ts'

type Args = Parameters<Command['run']>[0]

const ACTING: NonNullable<Command['options']> = {
  organization: { type: 'string', help: 'Slug or id of the organisation' },
  email: { type: 'string', help: 'Act as this member (default: as Stratum itself)' },
}

const usage = (problem: string) => {
  process.stderr.write(`${problem}\n`)
  return USAGE
}

/** Opens the runtime and acts in the organisation; a validation problem names each field, as the API's problem document does. */
function withNotebooks(args: Args, fn: (n: Notebooks, ctx: RequestContext, rt: Runtime) => Promise<number>): Promise<number> {
  const organization = args.values.organization
  if (typeof organization !== 'string' || organization === '') return Promise.resolve(usage('missing --organization'))
  return withRuntime(args, async (rt) => {
    const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
    try {
      return await fn(createAutomation(rt).notebooks, ctx, rt)
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

async function toStdout(stream: Readable) {
  for await (const chunk of stream) if (!process.stdout.write(chunk)) await once(process.stdout, 'drain')
}

// The service lists notebooks by name without a cursor; this is "all of them" for any real organisation.
const LIST_ALL = 100_000

export const notebooksCommands: Record<string, Command> = {
  'notebooks list': {
    summary: 'List notebooks by name: slug, component, live version',
    usage: 'stratum notebooks list --organization SLUG [--email E]',
    options: ACTING,
    async run(args) {
      return withNotebooks(args, async (notebooks, ctx) => {
        const { data } = await notebooks.list(ctx, { limit: LIST_ALL })
        const rows = [['SLUG', 'COMPONENT', 'LIVE', 'NAME'], ...data.map((n) => [n.slug, n.component_id, n.version === null ? '-' : `v${n.version}`, n.name])]
        process.stdout.write(table(rows))
        if (data.length === LIST_ALL) process.stderr.write(`showing the first ${LIST_ALL} notebooks\n`)
        return 0
      })
    },
  },
  'notebooks import': {
    summary: "Create a component's notebook from an .ipynb file (nbformat 4; its code and markdown cells, version 1 live)",
    usage: 'stratum notebooks import FILE.ipynb --component COMPONENT --organization SLUG [--name N] [--email E]   (COMPONENT: its id, or "Data source/Component")',
    positionals: { min: 1, max: 1 },
    options: {
      ...ACTING,
      component: { type: 'string', help: 'The component the notebook belongs to (one notebook per component)' },
      name: { type: 'string', help: "The notebook's name (default: the file's name without .ipynb)" },
    },
    async run(args) {
      const component = args.values.component as string | undefined
      if (!component) return usage('missing --component')
      const file = args.positionals[0]!
      let notebook: unknown
      try {
        notebook = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        return usage(`cannot read the notebook: ${(err as Error).message}`)
      }
      const name = (args.values.name as string | undefined) ?? basename(file, extname(file))
      return withNotebooks(args, async (notebooks, ctx, rt) => {
        const found = await createSources(rt).sources.findComponent(rt.database.db, ctx, component)
        if (!found) throw new NotFoundError(`no component is ${component} (give its id, or "Data source/Component")`)
        const made = await notebooks.importIpynb(ctx, { component_id: found.id, name, notebook })
        process.stdout.write(`imported notebook ${made.slug} (${made.id})\n`)
        return 0
      })
    },
  },
  'notebooks export': {
    summary: "Write a notebook's live version as .py (percent format) or .ipynb (nbformat 4.5), as stored in the file store",
    usage: 'stratum notebooks export NOTEBOOK --organization SLUG [--format py|ipynb] [--out FILE] [--email E]',
    positionals: { min: 1, max: 1 },
    options: { ...ACTING, format: { type: 'string', help: 'py or ipynb (default ipynb, as the API)' }, out: { type: 'string', help: 'Write to this file (default: standard output)' } },
    async run(args) {
      const format = (args.values.format as string | undefined) ?? 'ipynb'
      if (format !== 'py' && format !== 'ipynb') return usage('--format must be py or ipynb')
      const out = args.values.out as string | undefined
      return withNotebooks(args, async (notebooks, ctx) => {
        const f = await notebooks.exportOf(ctx, args.positionals[0]!, format)
        if (!out) {
          await toStdout(f.stream)
          return 0
        }
        try {
          await pipeline(f.stream, createWriteStream(out))
        } catch (err) {
          process.stderr.write(`cannot write ${out}: ${(err as Error).message}\n`)
          return FAILURE
        }
        process.stdout.write(`wrote ${f.name} (${f.size} bytes) to ${out}\n`)
        return 0
      })
    },
  },
  'notebooks runs': {
    summary: "A notebook's runs, newest first: status, start, finish, the schedule that fired it",
    usage: 'stratum notebooks runs NOTEBOOK --organization SLUG [--limit N] [--email E]',
    positionals: { min: 1, max: 1 },
    options: { ...ACTING, limit: { type: 'string', help: 'At most this many runs (default 20)' } },
    async run(args) {
      const limit = args.values.limit === undefined ? 20 : Number(args.values.limit)
      if (!(Number.isInteger(limit) && limit > 0 && limit <= 10_000)) return usage('--limit must be a whole number from 1 to 10000')
      return withNotebooks(args, async (notebooks, ctx) => {
        const rows = [['ID', 'STATUS', 'STARTED', 'FINISHED', 'SCHEDULER']]
        let cursor: string | undefined
        do {
          const page = await notebooks.runs(ctx, args.positionals[0]!, { limit: Math.min(500, limit - (rows.length - 1)), cursor })
          for (const r of page.data) rows.push([r.id, r.status, r.started_at ?? '-', r.finished_at ?? '-', r.scheduler_id ?? '-'])
          cursor = page.next_cursor ?? undefined
        } while (cursor && rows.length - 1 < limit)
        process.stdout.write(table(rows))
        return 0
      })
    },
  },
}
