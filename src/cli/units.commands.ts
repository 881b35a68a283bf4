// Units of measure from the command line: `stratum units convert 100 psi kPa`,
// `stratum units list --type Pressure`, `stratum units import --format energistics --organization SLUG FILE`.
// convert and list read the global catalog only (no organisation is involved); import writes into
// one organisation, acting as a member when --email is given, otherwise as Stratum itself.
import { readFileSync } from 'node:fs'
import { systemContext, type RequestContext } from '../core/context.ts'
import type { Runtime } from '../core/runtime.ts'
import { createUnitsModule } from '../modules/units/index.ts'
import { IMPORT_FORMATS, type ImportFormat } from '../modules/units/units.import.ts'
import type { Command } from './main.ts'
import { FAILURE, USAGE, actingAs, withRuntime } from './withRuntime.ts'

/**
 * The global catalog alone: a system caller in an organisation that cannot exist (the nil
 * uuid), so the units service's "global or own" rule sees only global rows.
 */
const catalogOnly = (): RequestContext => systemContext({ organizationId: '00000000-0000-0000-0000-000000000000' })

const withUnits = (run: Parameters<Command['run']>[0], fn: (units: ReturnType<typeof createUnitsModule>, rt: Runtime) => Promise<number>) =>
  withRuntime(run, (rt) => fn(createUnitsModule(rt), rt))

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}

export const unitsCommands: Record<string, Command> = {
  'units convert': {
    summary: 'Convert a value between two units of the global catalog (prints the value)',
    usage: 'stratum units convert VALUE FROM TO   (a negative value after --: stratum units convert -- -40 degC degF)',
    positionals: { min: 3, max: 3 },
    async run(args) {
      const [text, from, to] = args.positionals as [string, string, string]
      const value = Number(text)
      if (text.trim() === '' || !Number.isFinite(value)) {
        process.stderr.write(`VALUE must be a finite number, not "${text}"\n`)
        return USAGE
      }
      return withUnits(args, async ({ units }) => {
        const out = await units.convert(catalogOnly(), { from, to, value })
        process.stdout.write(`${'value' in out ? out.value : ''}\n`)
        return 0
      })
    },
  },
  'units list': {
    summary: 'List the units of the global catalog: symbol, name, external id, base',
    usage: 'stratum units list [--type TYPE] [--search TEXT]',
    options: {
      type: { type: 'string', help: 'A unit type by name (Pressure) or external id (pressure)' },
      search: { type: 'string', help: 'Only units whose name, symbol, external id or alias contains this' },
    },
    async run(args) {
      return withUnits(args, async ({ units }) => {
        const ctx = catalogOnly()
        const type = args.values.type as string | undefined
        if (type) await units.getUnitType(ctx, type) // an unknown type is an error, not an empty list
        const rows = [['SYMBOL', 'NAME', 'EXTERNAL ID', 'BASE']]
        let cursor: string | undefined
        do {
          const page = await units.listUnits(ctx, { limit: 1000, type, q: args.values.search as string | undefined, cursor })
          for (const u of page.data) rows.push([u.symbol, u.long_name ?? u.name, u.external_id ?? u.id, u.is_base ? 'base' : ''])
          cursor = page.next_cursor ?? undefined
        } while (cursor)
        process.stdout.write(table(rows))
        return 0
      })
    },
  },
  'units import': {
    summary: "Merge a Cognite or Energistics unit catalog into an organisation's units; prints what it added, matched and skipped",
    usage: 'stratum units import --format cognite|energistics --organization SLUG [--email E] FILE',
    positionals: { min: 1, max: 1 },
    options: {
      format: { type: 'string', help: 'cognite (an array of units) or energistics ({quantities, units})' },
      organization: { type: 'string', help: 'Slug or id of the organisation the units are added to' },
      email: { type: 'string', help: 'Act as this member (default: as Stratum itself)' },
    },
    async run(args) {
      const format = args.values.format as ImportFormat | undefined
      const organization = args.values.organization as string | undefined
      if (!format || !IMPORT_FORMATS.includes(format) || !organization) {
        process.stderr.write(`${!organization ? 'missing --organization' : `--format must be one of ${IMPORT_FORMATS.join(', ')}`}\n`)
        return USAGE
      }
      const file = args.positionals[0]!
      let catalog: unknown
      try {
        catalog = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        process.stderr.write(`cannot read ${file} as JSON: ${(err as Error).message}\n`)
        return FAILURE
      }
      return withUnits(args, async ({ imports }, rt) => {
        const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
        const report = await imports.importCatalog(ctx, format, catalog)
        process.stdout.write(`added ${report.added}, matched ${report.matched}, skipped ${report.skipped.length}, types added ${report.types_added}\n`)
        for (const s of report.skipped) process.stdout.write(`skipped ${s.symbol} (${s.quantity}): ${s.reason}\n`)
        return 0
      })
    },
  },
}
