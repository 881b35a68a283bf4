// Automations from the command line: `stratum automations list` and `stratum run AUTOMATION
// --input file.json [--wait]`. `run` starts an execution as the API does (the same idempotency
// key, concurrency key and batch id); with --wait it runs the execution's jobs here (a server's
// worker may take them instead, on PostgreSQL) and prints each step as it finishes, then the
// output. Exit 0 when it succeeded, 1 when it failed or was cancelled.
import { readFileSync } from 'node:fs'
import { ValidationError } from '../core/errors.ts'
import { createWorker } from '../core/jobs/worker.ts'
import { createAutomation } from '../modules/automation/index.ts'
import type { Command } from './main.ts'
import { FAILURE, USAGE, actingAs, withRuntime } from './withRuntime.ts'

const ACTING: NonNullable<Command['options']> = {
  organization: { type: 'string', help: 'Slug or id of the organisation' },
  email: { type: 'string', help: 'Act as this member (default: as Stratum itself)' },
}

export const automationCommands: Record<string, Command> = {
  'automations list': {
    summary: 'List automations: slug, live version, enabled, process type',
    usage: 'stratum automations list --organization SLUG [--email E]',
    options: ACTING,
    async run(args) {
      const organization = args.values.organization as string | undefined
      if (!organization) {
        process.stderr.write('missing --organization\n')
        return USAGE
      }
      return withRuntime(args, async (rt) => {
        const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
        const { automations } = createAutomation(rt)
        const rows = [['SLUG', 'LIVE', 'ENABLED', 'PROCESS TYPE', 'NAME']]
        let cursor: string | undefined
        do {
          const page = await automations.list(ctx, { limit: 500, cursor })
          for (const a of page.data) rows.push([a.slug, a.live_version === null ? '-' : `v${a.live_version}`, a.enabled ? 'yes' : 'no', a.process_type ?? '', a.name])
          cursor = page.next_cursor ?? undefined
        } while (cursor)
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
        process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n')
        return 0
      })
    },
  },
  'automations create': {
    summary: 'Create an automation from a workflow graph file (its first version, live)',
    usage: 'stratum automations create NAME --graph FILE.json --organization SLUG [--process-type T] [--email E]',
    positionals: { min: 1, max: 1 },
    options: { ...ACTING, graph: { type: 'string', help: 'The workflow graph: steps and edges, as the API takes it' }, 'process-type': { type: 'string', help: 'Make it a seed-001 process of this type' } },
    async run(args) {
      const organization = args.values.organization as string | undefined
      const file = args.values.graph as string | undefined
      if (!organization || !file) {
        process.stderr.write(`missing ${!organization ? '--organization' : '--graph'}\n`)
        return USAGE
      }
      let graph: unknown
      try {
        graph = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        process.stderr.write(`cannot read the graph: ${(err as Error).message}\n`)
        return USAGE
      }
      return withRuntime(args, async (rt) => {
        const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
        try {
          const a = await createAutomation(rt).automations.create(ctx, { name: args.positionals[0]!, graph: graph as never, process_type: args.values['process-type'] as string | undefined })
          process.stdout.write(`created automation ${a.slug} (${a.id}), version ${a.live_version} live\n`)
          return 0
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err
          process.stderr.write(`${err.message}\n${err.errors.map((e) => `  ${e.path}: ${e.message}\n`).join('')}`)
          return FAILURE
        }
      })
    },
  },
  run: {
    summary: 'Start an automation (by slug or id) with input; --wait runs it here, printing each step as it finishes',
    usage: 'stratum run AUTOMATION --organization SLUG [--input FILE.json|JSON] [--wait] [--version N] [--idempotency-key K] [--batch-id B] [--email E]',
    positionals: { min: 1, max: 1 },
    options: {
      ...ACTING,
      input: { type: 'string', help: 'The execution input: a JSON file, or JSON inline' },
      wait: { type: 'boolean', help: 'Run it to the end here and print its steps and output' },
      version: { type: 'string', help: 'Run this version instead of the live one' },
      'idempotency-key': { type: 'string', help: 'A second run with the same key returns the first execution' },
      'batch-id': { type: 'string', help: 'The batch this run belongs to (seed 001 process instances)' },
    },
    async run(args) {
      const organization = args.values.organization as string | undefined
      if (!organization) {
        process.stderr.write('missing --organization\n')
        return USAGE
      }
      let input: unknown = {}
      const raw = args.values.input as string | undefined
      if (raw !== undefined) {
        try {
          input = JSON.parse(/^\s*[[{"\d-]|^\s*(true|false|null)\s*$/.test(raw) ? raw : readFileSync(raw, 'utf8'))
        } catch (err) {
          process.stderr.write(`cannot read the input: ${(err as Error).message}\n`)
          return USAGE
        }
      }
      const version = args.values.version === undefined ? undefined : Number(args.values.version)
      if (version !== undefined && !(Number.isInteger(version) && version > 0)) {
        process.stderr.write('--version must be a version number (1, 2, ...)\n')
        return USAGE
      }
      return withRuntime(args, async (rt) => {
        const ctx = await actingAs(rt, organization, args.values.email as string | undefined)
        const automation = createAutomation(rt)
        const { execution, created } = await automation.executions.start(ctx, args.positionals[0]!, {
          input,
          version,
          idempotency_key: args.values['idempotency-key'] as string | undefined,
          batch_id: args.values['batch-id'] as string | undefined,
        })
        process.stderr.write(`${created ? 'started' : 'already started'} execution ${execution.id}\n`)
        if (!args.values.wait) {
          process.stdout.write(`${execution.id}\n`)
          return 0
        }
        const worker = createWorker({ database: rt.database, handlers: [automation.engine.handler], events: rt.events, log: rt.log, metrics: rt.metrics, concurrency: 2, leaseMs: 60_000, pollMs: 50 })
        await worker.start()
        const shown = new Set<string>()
        try {
          for (;;) {
            const e = await automation.executions.get(ctx, execution.id)
            for (const s of e.steps) {
              const key = `${s.step_id}:${s.attempt}:${s.status}`
              if (shown.has(key) || s.status === 'running') continue
              shown.add(key)
              const detail = s.status === 'failed' ? `: ${(s.error as { message?: string } | null)?.message ?? ''}` : s.status === 'waiting' ? ` until ${s.wake_at ?? 'resumed'}` : ''
              process.stderr.write(`  ${s.step_id.padEnd(20)} ${s.status.padEnd(9)} attempt ${s.attempt}${s.duration_ms === null ? '' : `, ${s.duration_ms} ms`}${detail}\n`)
            }
            if (e.status === 'succeeded') {
              process.stdout.write(`${JSON.stringify(e.output)}\n`)
              return 0
            }
            if (e.status === 'failed' || e.status === 'cancelled') {
              process.stderr.write(`execution ${e.status}: ${(e.error as { message?: string } | null)?.message ?? ''}\n`)
              return FAILURE
            }
            await new Promise((r) => setTimeout(r, 100))
          }
        } finally {
          await worker.stop(5000)
        }
      })
    },
  },
}
