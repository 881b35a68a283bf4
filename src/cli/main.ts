// `stratum <command>`. Exit codes scripts can rely on:
//   0 success, 1 unexpected failure, 2 usage error, 3 bad configuration,
//   4 database unusable (locked by another process, migrated by newer code, unreachable).
import { parseArgs } from 'node:util'
import { ConfigError, VARIABLES, loadConfig, type Config } from '../config.ts'
import { DataDirLockedError } from '../core/db/lock.ts'
import { ChangedMigrationError, NewerDatabaseError, migrate } from '../core/db/migrate.ts'
import { createLogger, type Logger } from '../core/observability/logger.ts'
import { VERSION, createApp, openRuntime, seedDemo, startWorker, type Runtime } from '../core/runtime.ts'
import { identityCommands } from './identity.commands.ts'
import { measurementsCommands } from './measurements.commands.ts'
import { sourcesCommands } from './sources.commands.ts'
import { automationCommands } from './automation.commands.ts'
import { notebooksCommands } from './notebooks.commands.ts'
import { unitsCommands } from './units.commands.ts'

export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, database: 4 } as const

export interface Command {
  summary: string
  usage: string
  options?: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean; help: string }>
  /** Arguments without a flag (`units convert 100 psi kPa`); other commands take none. */
  positionals?: { min: number; max: number }
  run(args: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; config: Readonly<Config>; log: Logger }): Promise<number>
}

const envTable = () => VARIABLES.map((v) => `  ${v.name.padEnd(22)} ${v.meaning} (default ${v.default})`).join('\n')

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'Run the HTTP server (and job workers unless STRATUM_WORKERS=false)',
    usage: 'stratum serve',
    async run({ config, log }) {
      const rt = await openRuntime(config, log)
      const app = await createApp(rt)
      const worker = config.workersInServe ? await startWorker(rt) : null
      await app.listen({ host: config.host, port: config.port })
      await untilSignal(log)
      await shutdown(rt, log, async () => {
        await Promise.all([app.close(), worker?.stop(config.shutdownTimeoutMs)])
      })
      return EXIT.ok
    },
  },
  worker: {
    summary: 'Run job workers only (PostgreSQL: start as many as you like)',
    usage: 'stratum worker',
    async run({ config, log }) {
      if (!config.databaseUrl) {
        log.error('separate worker processes need DATABASE_URL; with the embedded database, jobs run inside `stratum serve`')
        return EXIT.usage
      }
      const rt = await openRuntime(config, log)
      const worker = await startWorker(rt)
      await untilSignal(log)
      await shutdown(rt, log, () => worker.stop(config.shutdownTimeoutMs))
      return EXIT.ok
    },
  },
  migrate: {
    summary: 'Apply pending database migrations, then exit',
    usage: 'stratum migrate',
    async run({ config, log }) {
      const rt = await openRuntime(config, log, { migrate: false })
      try {
        const { applied } = await migrate(rt.database)
        process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'database is up to date\n')
      } finally {
        await rt.database.close()
      }
      return EXIT.ok
    },
  },
  seed: {
    summary: 'Load demo data from every module (safe to run twice)',
    usage: 'stratum seed --demo',
    options: { demo: { type: 'boolean', help: 'Load the demo data set' } },
    async run({ values, config, log }) {
      if (!values.demo) {
        process.stderr.write('say what to seed: stratum seed --demo\n')
        return EXIT.usage
      }
      const rt = await openRuntime(config, log)
      try {
        const results = await seedDemo(rt)
        process.stdout.write(results.length ? results.map((r) => `${r.module}: ${r.created} created\n${(r.notes ?? []).map((n) => `  ${n}\n`).join('')}`).join('') : 'no module has demo data yet\n')
      } finally {
        await rt.database.close()
      }
      return EXIT.ok
    },
  },
  ...identityCommands,
  ...unitsCommands,
  ...measurementsCommands,
  ...sourcesCommands,
  ...automationCommands,
  ...notebooksCommands,
  version: {
    summary: 'Print the version',
    usage: 'stratum version',
    async run() {
      process.stdout.write(`stratum ${VERSION}\n`)
      return EXIT.ok
    },
  },
}

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(22)} ${c.summary}`)
  return `Usage: stratum <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun stratum <command> --help for a command's options.\n\nEnvironment:\n${envTable()}\n`
}

function commandHelp(name: string, c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(([o, d]) => `  --${o.padEnd(16)} ${d.help}`)
  return `Usage: ${c.usage}\n\n${c.summary}.\n\nOptions:\n${[...opts, '  --help         Show this help'].join('\n')}\n\nEnvironment:\n${envTable()}\n`
}

function untilSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down')
      process.off('SIGTERM', on)
      process.off('SIGINT', on)
      resolve()
    }
    process.on('SIGTERM', on)
    process.on('SIGINT', on)
  })
}

async function shutdown(rt: Runtime, log: Logger, stop: () => Promise<unknown>) {
  // A second signal, or the deadline passing, ends the process at once.
  const force = setTimeout(() => {
    log.error('shutdown deadline passed; exiting')
    process.exit(EXIT.failure)
  }, rt.config.shutdownTimeoutMs + 5000)
  force.unref()
  process.once('SIGINT', () => process.exit(EXIT.failure))
  process.once('SIGTERM', () => process.exit(EXIT.failure))
  try {
    await stop()
  } finally {
    await rt.database.close()
    clearTimeout(force)
    log.info('stopped')
  }
}

export async function main(argv: string[]): Promise<number> {
  // Two-word commands (`admin create-user`, `api-keys create`) are looked up first.
  const twoWords = argv.length >= 2 && `${argv[0]} ${argv[1]}` in COMMANDS
  const [name, ...rest] = twoWords ? [`${argv[0]} ${argv[1]}`, ...argv.slice(2)] : argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help())
    return name ? EXIT.ok : EXIT.usage
  }
  if (name === '--version' || name === '-v') return COMMANDS.version!.run({ values: {}, positionals: [], config: loadConfig(), log: createLogger('silent') })
  const command = COMMANDS[name]
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${help()}`)
    return EXIT.usage
  }
  let values: Record<string, string | boolean | string[] | undefined>
  let positionals: string[]
  try {
    const options = Object.fromEntries(
      Object.entries({ ...command.options, help: { type: 'boolean' as const, help: '' } }).map(([k, v]) => [k, { type: v.type, multiple: 'multiple' in v ? Boolean(v.multiple) : false }]),
    )
    const parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: command.positionals !== undefined })
    values = parsed.values as Record<string, string | boolean | string[] | undefined>
    positionals = parsed.positionals
    const wanted = command.positionals
    if (wanted && !values.help && (positionals.length < wanted.min || positionals.length > wanted.max)) throw new Error(`expected ${wanted.min === wanted.max ? wanted.min : `${wanted.min} to ${wanted.max}`} arguments, got ${positionals.length}`)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${commandHelp(name, command)}`)
    return EXIT.usage
  }
  if (values.help) {
    process.stdout.write(commandHelp(name, command))
    return EXIT.ok
  }
  let config: Readonly<Config>
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`)
      return EXIT.config
    }
    throw err
  }
  // Operator commands print their answer on stdout (an exported notebook, a run's output): their logs go to stderr; the daemons log on stdout.
  const log = createLogger(config.logLevel, { fd: name === 'serve' || name === 'worker' ? 1 : 2 })
  try {
    return await command.run({ values, positionals, config, log })
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof NewerDatabaseError || err instanceof ChangedMigrationError) {
      log.fatal(err.message)
      return EXIT.database
    }
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (err as { code?: string }).code === '28P01' || (err as { code?: string }).code === '3D000') {
      log.fatal({ err }, 'database not reachable')
      return EXIT.database
    }
    log.fatal({ err }, `${name} failed`)
    return EXIT.failure
  } finally {
    log.flush?.()
  }
}
