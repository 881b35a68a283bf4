// Measurements from the command line: `stratum import csv FILE --map MAPPING --organization SLUG`
// uploads the file, starts the same import job as POST /api/v1/imports, runs it here (a server's
// worker may take it instead, on PostgreSQL) and draws its progress until it ends.
import { createReadStream, readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { createFiles } from '../core/files/files.service.ts'
import { getJob } from '../core/jobs/jobs.service.ts'
import { createWorker } from '../core/jobs/worker.ts'
import type { Runtime } from '../core/runtime.ts'
import { createMeasurements } from '../modules/measurements/index.ts'
import type { CsvMapping } from '../modules/measurements/importCsv.ts'
import type { Command } from './main.ts'
import { FAILURE, USAGE, actingAs, withRuntime } from './withRuntime.ts'

/** One line of progress: a bar on a terminal (redrawn in place), else a line each time it moves. */
function progressBar(out: NodeJS.WriteStream) {
  let last = ''
  return (percent: number, message: string | null, done = false) => {
    const width = 30
    const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width)
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${message ?? ''}`
    if (line === last && !done) return
    last = line
    if (out.isTTY) out.write(`\r${line.padEnd(out.columns ? out.columns - 1 : 100)}${done ? '\n' : ''}`)
    else out.write(`${line}\n`)
  }
}

async function runImport(rt: Runtime, file: string, mapping: CsvMapping, organization: string, email: string | undefined, onConflict: 'overwrite' | 'error' | undefined): Promise<number> {
  const ctx = await actingAs(rt, organization, email)
  const files = createFiles({ database: rt.database, events: rt.events, store: rt.files })
  const uploaded = await files.upload(ctx, { name: basename(file), contentType: 'text/csv', body: createReadStream(file), maxBytes: rt.config.fileMaxBytes })
  const measurements = createMeasurements(rt)
  const { job_id: jobId } = await measurements.imports.start(ctx, { file_id: uploaded.id, mapping, ...(onConflict ? { on_conflict: onConflict } : {}) })
  process.stderr.write(`importing ${file} as job ${jobId}\n`)
  const worker = createWorker({ database: rt.database, handlers: [measurements.imports.handler], events: rt.events, log: rt.log, metrics: rt.metrics, concurrency: 1, leaseMs: 60_000, pollMs: 100 })
  await worker.start()
  const draw = progressBar(process.stderr)
  try {
    for (;;) {
      const job = await getJob(rt.database.db, ctx, jobId)
      draw(job.progress, job.progressMessage)
      if (job.status === 'completed') {
        draw(100, job.progressMessage, true)
        process.stdout.write(`${JSON.stringify(job.result)}\n`)
        return 0
      }
      if (job.status === 'failed' || job.status === 'cancelled') {
        draw(job.progress, job.status, true)
        process.stderr.write(`${job.error?.message ?? job.status}\n`)
        for (const e of job.error?.errors ?? []) process.stderr.write(`  ${e.path}: ${e.message}\n`)
        return FAILURE
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  } finally {
    await worker.stop(5000)
  }
}

export const measurementsCommands: Record<string, Command> = {
  'import csv': {
    summary: 'Import a CSV file of measurements as a job, with a progress bar; all of the file or none of it',
    usage: 'stratum import csv FILE --map MAPPING.json|JSON --organization SLUG [--email E] [--on-conflict overwrite|error]',
    positionals: { min: 1, max: 1 },
    options: {
      map: { type: 'string', help: 'The column mapping (as POST /api/v1/imports takes it): a JSON file, or JSON inline' },
      organization: { type: 'string', help: 'Slug or id of the organisation' },
      email: { type: 'string', help: 'Act as this member (default: as Stratum itself)' },
      'on-conflict': { type: 'string', help: 'overwrite (default) or error: what a time a series already has does' },
    },
    async run(args) {
      const organization = args.values.organization as string | undefined
      const map = args.values.map as string | undefined
      const onConflict = args.values['on-conflict'] as string | undefined
      if (!organization || !map || (onConflict && onConflict !== 'overwrite' && onConflict !== 'error')) {
        process.stderr.write(`${!organization ? 'missing --organization' : !map ? 'missing --map' : '--on-conflict must be overwrite or error'}\n`)
        return USAGE
      }
      let mapping: CsvMapping
      try {
        mapping = JSON.parse(map.trim().startsWith('{') ? map : readFileSync(map, 'utf8')) as CsvMapping
      } catch (err) {
        process.stderr.write(`cannot read the mapping: ${(err as Error).message}\n`)
        return USAGE
      }
      return withRuntime(args, (rt) => runImport(rt, args.positionals[0]!, mapping, organization, args.values.email as string | undefined, onConflict as 'overwrite' | 'error' | undefined))
    },
  },
}

