// Notebook workflows (seed 000 Workflow, WorkflowRun, WorkflowScheduler): a notebook is an
// automation attached one-to-one to a data-source component, whose workflow is a single
// `python` step holding the notebook's cells (code and markdown). So a notebook has versions,
// diff and revert, cron schedules with their logs and durable runs like every automation.
//
// Each saved version is exported to the file store as `.py` (percent format: seed
// `python_code` and `code_file`) and `.ipynb` (nbformat 4.5: seed `ipynb_file`), named under the
// component's id; the automation row points at the live version's two files. The bytes go to the
// content-addressed store first and the file rows commit with the version, so a failed save
// leaves no file record behind.
import { Readable } from 'node:stream'
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import { actorLabel } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import type { FileStore } from '../../core/files/fileStore.ts'
import { files } from '../../core/files/files.schema.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { automations as automationsTable, stepRuns, type AutomationRow } from './automation.schema.ts'
import type { Automations } from './automations.service.ts'
import type { Executions } from './executions.service.ts'
import type { Graph } from './graph.ts'
import { fromIpynb, toIpynb, toPy, type NotebookCell } from './notebook.ts'
import { PYTHON_OFF } from './steps.ts'

/** The id of the one step a notebook's workflow has. */
export const NOTEBOOK_STEP = 'notebook'
const MAX_CELLS = 500

export interface CellInput {
  id?: string | undefined
  cell_type: 'code' | 'markdown'
  source: string
}

export interface NotebookInput {
  component_id: string
  name: string
  slug?: string | undefined
  description?: string | null | undefined
  cells: CellInput[]
  timeout_ms?: number | undefined
}

/** Cells with ids: the ones given (unique, nbformat's pattern), the rest numbered. */
function normaliseCells(cells: CellInput[], base: string): NotebookCell[] {
  const errors: FieldError[] = []
  if (cells.length > MAX_CELLS) errors.push({ path: base, message: `has ${cells.length} cells; at most ${MAX_CELLS}` })
  const seen = new Set<string>()
  const out = cells.map((c, i) => {
    const id = c.id ?? `cell-${i + 1}`
    if (!/^[a-zA-Z0-9-_]{1,64}$/.test(id)) errors.push({ path: `${base}/${i}/id`, message: 'must be 1-64 letters, digits, - or _' })
    else if (seen.has(id)) errors.push({ path: `${base}/${i}/id`, message: `cell id ${id} is used twice` })
    seen.add(id)
    return { id, cell_type: c.cell_type, source: c.source }
  })
  if (errors.length > 0) throw new ValidationError(`the notebook is not valid: ${errors[0]!.path} ${errors[0]!.message}`, errors)
  return out
}

const graphOf = (cells: NotebookCell[], timeoutMs: number | undefined): Graph =>
  ({ steps: [{ id: NOTEBOOK_STEP, type: 'python', config: { cells, ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) }, ...(timeoutMs ? { timeout_ms: timeoutMs + 5000 } : {}) }], edges: [] }) as unknown as Graph

const cellsOf = (graph: unknown): NotebookCell[] => ((graph as { steps?: { config?: { cells?: NotebookCell[] } }[] }).steps?.[0]?.config?.cells ?? []) as NotebookCell[]

export function createNotebooks({ database, events, store, automations, executions, pythonEnabled }: { database: Database; events: EventLog; store: FileStore; automations: Automations; executions: Executions; pythonEnabled: boolean }) {
  const db = database.db

  /** A notebook by automation id or slug (404 for an automation that is not a notebook). */
  async function find(exec: Executor, ctx: RequestContext, ref: string, lock = false): Promise<AutomationRow> {
    const a = await automations.find(exec, ctx, ref, lock).catch(() => null)
    if (!a || !a.componentId) throw new NotFoundError(`notebook ${ref} not found`)
    return a
  }

  async function exportFiles(tx: Executor, ctx: RequestContext, a: AutomationRow, cells: NotebookCell[]) {
    const py = toPy(a.name, cells)
    const nb = JSON.stringify(toIpynb(a.name, cells), null, 1) + '\n'
    const put = async (text: string, name: string, contentType: string) => {
      const blob = await store.put(Readable.from([Buffer.from(text, 'utf8')]), 64 * 1024 * 1024)
      const [row] = await tx.insert(files).values({ organizationId: a.organizationId, name, contentType, size: blob.size, sha256: blob.sha256, createdBy: actorLabel(ctx.actor) }).returning()
      return row!.id
    }
    const stem = `notebooks/${a.componentId}/${a.slug}`
    const codeFileId = await put(py, `${stem}.py`, 'text/x-python; charset=utf-8')
    const ipynbFileId = await put(nb, `${stem}.ipynb`, 'application/x-ipynb+json')
    await tx.update(automationsTable).set({ codeFileId, ipynbFileId }).where(eq(automationsTable.id, a.id))
    return { codeFileId, ipynbFileId }
  }

  async function view(exec: Executor, ctx: RequestContext, a: AutomationRow) {
    const live = await automations.liveOf(exec, a.id)
    const cells = live ? cellsOf(live.graph) : []
    return {
      id: a.id,
      name: a.name,
      slug: a.slug,
      description: a.description,
      component_id: a.componentId!,
      enabled: a.enabled,
      version: live?.version ?? null,
      cells,
      python_code: toPy(a.name, cells),
      code_file_id: a.codeFileId,
      ipynb_file_id: a.ipynbFileId,
      created_by: a.createdBy,
      modified_by: a.modifiedBy,
      created_at: a.createdAt.toISOString(),
      updated_at: a.updatedAt.toISOString(),
    }
  }

  async function create(ctx: RequestContext, input: NotebookInput, base = '/body/cells') {
    const org = orgOf(ctx)
    const cells = normaliseCells(input.cells, base)
    return database
      .transaction(async (tx) => {
        const [component] = await rows<{ id: string }>(tx, sql`select id from components where organization_id = ${org} and id = ${input.component_id}`)
        if (!component) throw new ValidationError(`no component ${input.component_id} in this organisation`, [{ path: '/body/component_id', message: 'is not a component of this organisation' }])
        const { automation } = await automations.createIn(tx, ctx, { name: input.name, slug: input.slug, description: input.description ?? null, graph: graphOf(cells, input.timeout_ms), publish: true, componentId: input.component_id, deferSettings: true }, base)
        const exported = await exportFiles(tx, ctx, automation, cells)
        await events.appendEvent(tx, ctx, { type: 'notebook.saved', entityType: 'automation', entityId: automation.id, data: { component_id: input.component_id, version: 1, cells: cells.length, code_file_id: exported.codeFileId, ipynb_file_id: exported.ipynbFileId } })
        return view(tx, ctx, { ...automation, ...exported })
      })
      .catch((err) => {
        if (isUniqueViolation(err, 'automations_component_key')) throw new ConflictError(`component ${input.component_id} already has a notebook (a component holds one)`, { component_id: input.component_id })
        throw err
      })
  }

  return {
    create,

    async get(ctx: RequestContext, ref: string) {
      return view(db, ctx, await find(db, ctx, ref))
    },

    async list(ctx: RequestContext, f: { component_id?: string | undefined; limit: number }) {
      const found = await db
        .select()
        .from(automationsTable)
        .where(and(inOrg(automationsTable, ctx), sql`${automationsTable.componentId} is not null`, f.component_id ? eq(automationsTable.componentId, f.component_id) : undefined))
        .orderBy(asc(automationsTable.name))
        .limit(f.limit)
      return { data: await Promise.all(found.map((a) => view(db, ctx, a))) }
    },

    /** Saves new cells as the next version (live at once) and exports it again. */
    async save(ctx: RequestContext, ref: string, input: { cells: CellInput[]; note?: string | undefined; timeout_ms?: number | undefined }) {
      const cells = normaliseCells(input.cells, '/body/cells')
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        const v = await automations.writeVersion(tx, ctx, a, graphOf(cells, input.timeout_ms), { note: input.note, publish: true, path: '/body/cells', deferSettings: true })
        const exported = await exportFiles(tx, ctx, a, cells)
        await events.appendEvent(tx, ctx, { type: 'notebook.saved', entityType: 'automation', entityId: a.id, data: { component_id: a.componentId, version: v.version, cells: cells.length, code_file_id: exported.codeFileId, ipynb_file_id: exported.ipynbFileId } })
        return view(tx, ctx, { ...a, ...exported })
      })
    },

    /** Creates a notebook from an .ipynb document (nbformat 4; checked against its JSON Schema). */
    async importIpynb(ctx: RequestContext, input: { component_id: string; name: string; slug?: string | undefined; notebook: unknown }) {
      let cells: NotebookCell[]
      try {
        cells = fromIpynb(input.notebook)
      } catch (err) {
        const e = err as Error & { path?: string; errors?: { path: string; message: string }[] }
        const errors = e.errors?.map((x) => ({ path: `/body/notebook${x.path}`, message: x.message })) ?? [{ path: `/body/notebook${e.path ?? ''}`, message: e.message }]
        throw new ValidationError(`the notebook is not a valid nbformat 4 document: ${e.message}`, errors)
      }
      return create(ctx, { component_id: input.component_id, name: input.name, slug: input.slug, cells }, '/body/notebook/cells')
    },

    /** The live version's export: `py` or `ipynb`, as stored. */
    async exportOf(ctx: RequestContext, ref: string, format: 'py' | 'ipynb') {
      const a = await find(db, ctx, ref)
      const id = format === 'py' ? a.codeFileId : a.ipynbFileId
      const [f] = id ? await db.select().from(files).where(eq(files.id, id)) : []
      if (!f) throw new NotFoundError(`notebook ${ref} has no ${format} export`)
      const { stream } = await store.get(f.sha256)
      return { name: f.name.split('/').pop()!, contentType: f.contentType, size: f.size, stream }
    },

    async run(ctx: RequestContext, ref: string, input: { input?: unknown; idempotency_key?: string | undefined }) {
      const a = await find(db, ctx, ref)
      if (!pythonEnabled) throw new ConflictError(PYTHON_OFF, { notebook: a.id })
      return executions.start(ctx, a.id, input)
    },

    /** Runs (seed WorkflowRun): task id, start, finish, status, stdout and stderr, and the schedule that fired it. */
    async runs(ctx: RequestContext, ref: string, page: { limit: number; cursor?: string | undefined }) {
      const a = await find(db, ctx, ref)
      const list = await executions.list(ctx, { ...page, automation: a.id })
      const ids = list.data.map((e) => e.id)
      const steps = ids.length ? await db.select().from(stepRuns).where(and(inArray(stepRuns.executionId, ids), eq(stepRuns.stepId, NOTEBOOK_STEP))) : []
      const last = new Map<string, (typeof steps)[number]>()
      for (const s of steps) if (!last.has(s.executionId) || s.attempt > last.get(s.executionId)!.attempt) last.set(s.executionId, s)
      return {
        data: list.data.map((e) => {
          const s = last.get(e.id)
          const out = (s?.output ?? (s?.error as { result?: unknown } | null)?.result ?? null) as { stdout?: string; stderr?: string; cells?: unknown[] } | null
          return {
            id: e.id,
            task_id: e.job_id,
            status: e.status,
            started_at: e.started_at,
            finished_at: e.ended_at,
            stdout: out?.stdout ?? '',
            stderr: out?.stderr ?? '',
            cells: out?.cells ?? [],
            scheduler_id: e.trigger_type === 'cron' ? e.trigger_id : null,
            error: e.error,
          }
        }),
        next_cursor: list.next_cursor,
      }
    },
  }
}

export type Notebooks = ReturnType<typeof createNotebooks>
