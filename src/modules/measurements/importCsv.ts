// CSV import as a job (`measurements.import_csv`): an uploaded file and a column mapping. Pass 1
// streams the whole file through csv-parse, checks every row and converts units, keeping the
// first errors by row and column and writing nothing (progress 0-50 %); any error fails the job
// with them. Pass 2 writes every point in one transaction through the same path as
// POST /datapoints (progress 50-100 %), so a file is imported whole or not at all.
// Wide files have one column per series; long files name the series in a column.
import { parse } from 'csv-parse'
import type { RequestContext } from '../../core/context.ts'
import type { Database } from '../../core/db/database.ts'
import { NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { createFiles } from '../../core/files/files.service.ts'
import type { FileStore } from '../../core/files/fileStore.ts'
import { enqueueJob } from '../../core/jobs/jobs.service.ts'
import type { JobHandler } from '../../core/jobs/worker.ts'
import { organizationSettings } from '../identity/index.ts'
import { convertValues, type ConvertibleUnit } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import type { Alerts } from './alerts.service.ts'
import { parseTime } from './datapoints.service.ts'
import { createPointWriter, normaliseBatch, type NewPoint, type OnConflict } from './insertPoints.ts'
import type { SeriesRow } from './measurements.schema.ts'
import type { Series } from './series.service.ts'

export const IMPORT_JOB = 'measurements.import_csv'
/** Errors reported from a rejected file; parsing stops there. */
const REPORTED_ERRORS = 20
const EARLIEST = Date.UTC(1900, 0, 1)

export interface CsvMapping {
  time_column: string
  /** `iso` (default): ISO 8601; times without an offset are read in `time_zone`. */
  time_format?: 'iso' | 'epoch_ms' | 'epoch_s' | undefined
  time_zone?: string | undefined
  delimiter?: string | undefined
  /** Wide: a column per series. */
  columns?: Record<string, { series_id: string; unit?: string | undefined }> | undefined
  /** Long: the series of each row, and its value. */
  series_column?: string | undefined
  value_column?: string | undefined
  unit?: string | undefined
}

/** The UTC instant of a wall-clock time in an IANA zone (the offset found twice, so DST edges land right). */
export function zonedTime(fields: number[], tz: string): number {
  const [y, mo, d, h = 0, mi = 0, s = 0, ms = 0] = fields as [number, number, number, number?, number?, number?, number?]
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  const format = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
  const offsetAt = (t: number) => {
    const p = Object.fromEntries(format.formatToParts(new Date(t)).map((x) => [x.type, Number(x.value)]))
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(t / 1000) * 1000
  }
  const first = wall - offsetAt(wall)
  const second = wall - offsetAt(first)
  return second
}

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/

function timeOf(text: string, mapping: CsvMapping, tz: string): number {
  const t = text.trim()
  if (mapping.time_format === 'epoch_ms' || mapping.time_format === 'epoch_s') {
    if (!/^-?\d+(\.\d+)?$/.test(t)) return Number.NaN
    return Math.round(Number(t) * (mapping.time_format === 'epoch_s' ? 1000 : 1))
  }
  const naive = NAIVE.exec(t)
  if (naive) return zonedTime([Number(naive[1]), Number(naive[2]), Number(naive[3]), Number(naive[4] ?? 0), Number(naive[5] ?? 0), Number(naive[6] ?? 0), Number((naive[7] ?? '0').padEnd(3, '0'))], tz)
  return parseTime(t.replace(' ', 'T'))
}

export function createCsvImports({ database, events, files, series, units, alerts, clock }: { database: Database; events: EventLog; files: FileStore; series: Series; units: ReturnType<typeof createUnits>; alerts: Alerts; clock: () => Date }) {
  const fileService = createFiles({ database, events, store: files })
  const writer = createPointWriter(database, clock)

  /** Checks what can be checked before reading the file: the file, the mapping's shape, the series. */
  async function check(ctx: RequestContext, fileId: string, mapping: CsvMapping) {
    await fileService.get(database.db, ctx, fileId).catch((err) => {
      if (err instanceof NotFoundError) throw new ValidationError(`no file ${fileId} in this organisation`, [{ path: '/body/file_id', message: 'is not a file of this organisation' }])
      throw err
    })
    const wide = mapping.columns !== undefined
    if (wide === (mapping.series_column !== undefined)) throw new ValidationError('map a column per series (columns), or a series column and a value column (long), not both', [{ path: '/body/mapping/columns', message: 'give columns, or series_column with value_column' }])
    if (!wide && !mapping.value_column) throw new ValidationError('a long file needs value_column', [{ path: '/body/mapping/value_column', message: 'is required with series_column' }])
    if (mapping.time_zone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: mapping.time_zone })
      } catch {
        throw new ValidationError(`${mapping.time_zone} is not an IANA time zone`, [{ path: '/body/mapping/time_zone', message: 'is not an IANA time zone' }])
      }
    }
    if (wide) {
      const entries = Object.entries(mapping.columns!)
      if (entries.length === 0) throw new ValidationError('map at least one column', [{ path: '/body/mapping/columns', message: 'is empty' }])
      const found = await series.resolve(database.db, ctx, entries.map(([, c]) => c.series_id))
      const missing = entries.find(([, c]) => !found.has(c.series_id))
      if (missing) throw new ValidationError(`column ${missing[0]} names series ${missing[1].series_id}, which is not a series of this organisation`, [{ path: `/body/mapping/columns/${missing[0]}/series_id`, message: 'is not a series of this organisation' }])
    }
  }

  const handler: JobHandler<{ file_id: string; mapping: CsvMapping; on_conflict?: OnConflict }> = {
    type: IMPORT_JOB,
    timeoutMs: 60 * 60 * 1000,
    async run(job) {
      const ctx = job.ctx
      const { file_id: fileId, mapping } = job.params
      const tz = mapping.time_zone ?? (await organizationSettings(database.db, ctx.organizationId!))?.time_zone ?? 'UTC'
      const { row: file, stream } = await fileService.open(ctx, fileId)
      const errors: FieldError[] = []
      const fail = (line: number, column: string, message: string) => {
        if (errors.length < REPORTED_ERRORS) errors.push({ path: `/rows/${line}/${column}`, message })
      }
      // Series and the conversion of each column (or of each series, in a long file).
      const seriesById = new Map<string, SeriesRow>()
      const toSeriesUnit = new Map<string, { from: ConvertibleUnit; to: ConvertibleUnit } | null>()
      const conversionFor = async (s: SeriesRow, unit: string | undefined, where: string) => {
        const key = `${s.id}:${unit ?? ''}`
        if (toSeriesUnit.has(key)) return toSeriesUnit.get(key)!
        let c: { from: ConvertibleUnit; to: ConvertibleUnit } | null = null
        if (unit !== undefined && s.valueType === 'number' && s.unitId) {
          const from = await units.resolveUnit(ctx, unit, where)
          const to = await units.resolveUnit(ctx, s.unitId, 'unit')
          if (from.unitTypeId !== to.unitTypeId) throw new ValidationError(`${from.symbol} is not a unit of series ${s.id} (${to.unitTypeName})`, [{ path: `/${where}`, message: `is a ${from.unitTypeName} unit` }])
          c = { from, to }
        }
        toSeriesUnit.set(key, c)
        return c
      }
      if (mapping.columns) for (const [id, s] of await series.resolve(database.db, ctx, Object.values(mapping.columns).map((c) => c.series_id))) seriesById.set(id, s)

      // Pass 1: read and check everything; keep the points.
      const points: NewPoint[] = []
      const parser = stream.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, delimiter: mapping.delimiter ?? ',', relax_column_count: false }))
      let rows = 0
      let lastReport = 0
      const longSeries = new Map<string, number>() // series id -> first line naming it, resolved after the pass
      try {
        for await (const record of parser as AsyncIterable<Record<string, string>>) {
          rows++
          const line = rows + 1 // the header is line 1
          if (rows === 1) {
            const header = Object.keys(record)
            const needed = [mapping.time_column, ...(mapping.columns ? Object.keys(mapping.columns) : [mapping.series_column!, mapping.value_column!])]
            const absent = needed.filter((c) => !header.includes(c))
            if (absent.length) throw new ValidationError(`the file has no column ${absent.join(', ')}`, absent.map((c) => ({ path: `/rows/1/${c}`, message: 'is not a column of the header' })))
          }
          const ts = timeOf(record[mapping.time_column] ?? '', mapping, tz)
          if (!Number.isFinite(ts) || ts < EARLIEST) {
            fail(line, mapping.time_column, `'${record[mapping.time_column]}' is not a time in the ${mapping.time_format ?? 'iso'} format`)
          } else {
            const cells: [string, string, string][] = mapping.columns ? Object.entries(mapping.columns).map(([col, c]) => [col, c.series_id, record[col] ?? '']) : [[mapping.value_column!, record[mapping.series_column!] ?? '', record[mapping.value_column!] ?? '']]
            for (const [col, seriesId, text] of cells) {
              if (text === '') continue // an empty cell is no point
              if (!mapping.columns && !longSeries.has(seriesId)) longSeries.set(seriesId, line)
              const s = seriesById.get(seriesId)
              if (s && s.valueType === 'text') {
                points.push({ series: s.key, ts, value: null, text })
                continue
              }
              const v = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : Number.NaN
              // In a long file the series is known after the pass: its id rides in `text` until then.
              if (!Number.isFinite(v)) fail(line, col, `'${text}' is not a number`)
              else points.push({ series: s?.key ?? -1, ts, value: v, text: mapping.columns ? null : seriesId })
            }
          }
          if (errors.length >= REPORTED_ERRORS) break
          const info = (parser as unknown as { info: { bytes: number } }).info
          if (info.bytes - lastReport > 1_000_000) {
            lastReport = info.bytes
            await job.progress(Math.min(49, Math.floor((info.bytes / Math.max(file.size, 1)) * 50)), `checked ${rows} rows`)
          }
        }
      } catch (err) {
        if (err instanceof ValidationError) throw err
        const e = err as { code?: string; lines?: number; message: string }
        if (e.code?.startsWith('CSV_')) throw new ValidationError(`the file is not valid CSV: ${e.message}`, [{ path: `/rows/${e.lines ?? rows + 1}`, message: e.message }])
        throw err
      }
      // Long files: the series named in rows, resolved once; points get their keys.
      if (!mapping.columns) {
        const found = await series.resolve(database.db, ctx, [...longSeries.keys()])
        for (const [id, line] of longSeries) if (!found.has(id)) fail(line, mapping.series_column!, `${id} is not a series of this organisation`)
        for (const [id, s] of found) seriesById.set(id, s)
        for (const p of points) {
          const s = found.get(p.text!)
          if (!s) continue
          p.series = s.key
          if (s.valueType === 'text') fail(0, mapping.value_column!, `series ${s.id} is a text series; a long file carries numbers`)
          p.text = null
        }
      }
      if (errors.length > 0) throw new ValidationError(`the file was not imported: ${errors.length >= REPORTED_ERRORS ? 'at least ' : ''}${errors.length} problem${errors.length === 1 ? '' : 's'}, the first at ${errors[0]!.path}`, errors)

      // Units: converted per series, in place.
      const bySeries = new Map([...seriesById.values()].map((s) => [s.key, s]))
      const unitOf = (s: SeriesRow) => (mapping.columns ? Object.values(mapping.columns).find((c) => c.series_id === s.id)?.unit : mapping.unit)
      for (const s of bySeries.values()) {
        const c = await conversionFor(s, unitOf(s), mapping.columns ? 'mapping/columns' : 'mapping/unit')
        if (!c) continue
        const idx = points.flatMap((p, i) => (p.series === s.key ? [i] : []))
        const converted = convertValues(Float64Array.from(idx.map((i) => points[i]!.value!)), c.from, c.to)
        idx.forEach((i, k) => (points[i]!.value = converted[k]!))
      }

      // Pass 2: one transaction for the whole file.
      const batch = normaliseBatch(points)
      await writer.ensurePartitions(batch)
      await job.progress(50, `writing ${batch.series.length} points`)
      await database.transaction(async (tx) => {
        await writer.write(tx, batch, job.params.on_conflict ?? 'overwrite')
        await alerts.evaluate(tx, ctx, batch, bySeries)
        const counts = new Map<number, number>()
        for (const k of batch.series) counts.set(k, (counts.get(k) ?? 0) + 1)
        await events.appendEvents(tx, ctx, [...counts].map(([key, n]) => ({ type: 'datapoints.written', entityType: 'series', entityId: bySeries.get(key)!.id, data: { points: n, import_job_id: job.id, file_id: fileId } })))
      })
      await job.progress(100, `imported ${batch.series.length} points from ${rows} rows`)
      return { rows, points: batch.series.length, series: new Set(batch.series).size }
    },
  }

  return {
    handler,
    async start(ctx: RequestContext, input: { file_id: string; mapping: CsvMapping; on_conflict?: OnConflict | undefined }) {
      await check(ctx, input.file_id, input.mapping)
      const job = await database.transaction((tx) => enqueueJob(tx, ctx, { type: IMPORT_JOB, params: { file_id: input.file_id, mapping: input.mapping, ...(input.on_conflict ? { on_conflict: input.on_conflict } : {}) }, maxAttempts: 1 }))
      return { job_id: job.id }
    },
  }
}

export type CsvImports = ReturnType<typeof createCsvImports>
