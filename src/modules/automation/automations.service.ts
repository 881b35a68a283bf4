// Automations and their workflow versions (seed 003 Automation and Workflow; seed 001 processes).
// A version is immutable once written: changing a workflow writes the next version. Publishing
// makes one version the only live one (a partial unique index holds that, and publishes of one
// automation are serialised on its row); revert publishes a copy of an earlier graph as the next
// version, so history only grows.
import { and, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { uniqueSlug, slugify } from '../../core/behaviours/slug.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts'
import { enqueueJob, toJobView } from '../../core/jobs/jobs.service.ts'
import { PRUNE_JOB, schedulePrune } from './prune.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, encodeCursor, listNewestFirst } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { automations, workflowVersions, type AutomationRow, type VersionRow } from './automation.schema.ts'
import type { Graph, GraphCompiler } from './graph.ts'

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export const toAutomationView = (a: AutomationRow, live: VersionRow | null = null) => ({
  id: a.id,
  name: a.name,
  slug: a.slug,
  description: a.description,
  enabled: a.enabled,
  config: a.config,
  process_type: a.processType,
  max_concurrency: a.maxConcurrency,
  max_concurrency_per_key: a.maxConcurrencyPerKey,
  retention_days: a.retentionDays,
  retention_count: a.retentionCount,
  live_version: live?.version ?? null,
  metadata: a.metadata,
  created_by: a.createdBy,
  modified_by: a.modifiedBy,
  created_at: a.createdAt.toISOString(),
  updated_at: a.updatedAt.toISOString(),
})

export const toVersionView = (v: VersionRow) => ({
  id: v.id,
  automation_id: v.automationId,
  version: v.version,
  graph: v.graph,
  plan: v.plan,
  is_live: v.isLive,
  note: v.note,
  published_at: iso(v.publishedAt),
  published_by: v.publishedBy,
  created_by: v.createdBy,
  created_at: v.createdAt.toISOString(),
})

export interface AutomationInput {
  name: string
  slug?: string | undefined
  description?: string | null | undefined
  enabled?: boolean | undefined
  config?: Record<string, unknown> | undefined
  process_type?: string | null | undefined
  max_concurrency?: number | null | undefined
  max_concurrency_per_key?: number | null | undefined
  retention_days?: number | null | undefined
  retention_count?: number | null | undefined
  metadata?: Record<string, unknown> | undefined
}

const notFound = (id: string) => new NotFoundError(`automation ${id} not found`)

export function createAutomations({ database, events, compiler }: { database: Database; events: EventLog; compiler: GraphCompiler }) {
  const db = database.db

  /** An automation by id or slug. */
  async function find(exec: Executor, ctx: RequestContext, ref: string, lock = false): Promise<AutomationRow> {
    const where = and(inOrg(automations, ctx), UUID.test(ref) ? eq(automations.id, ref) : eq(automations.slug, ref.toLowerCase()))
    const q = exec.select().from(automations).where(where)
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw notFound(ref)
    return row
  }

  async function liveOf(exec: Executor, automationId: string): Promise<VersionRow | null> {
    const [v] = await exec.select().from(workflowVersions).where(and(eq(workflowVersions.automationId, automationId), eq(workflowVersions.isLive, true)))
    return v ?? null
  }

  async function versionOf(exec: Executor, ctx: RequestContext, automationId: string, version: number): Promise<VersionRow> {
    const [v] = await exec.select().from(workflowVersions).where(and(inOrg(workflowVersions, ctx), eq(workflowVersions.automationId, automationId), eq(workflowVersions.version, version)))
    if (!v) throw new NotFoundError(`automation ${automationId} has no version ${version}`)
    return v
  }

  const fields = (input: Partial<AutomationInput>) => ({
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    ...(input.config !== undefined ? { config: input.config } : {}),
    ...(input.process_type !== undefined ? { processType: input.process_type } : {}),
    ...(input.max_concurrency !== undefined ? { maxConcurrency: input.max_concurrency } : {}),
    ...(input.max_concurrency_per_key !== undefined ? { maxConcurrencyPerKey: input.max_concurrency_per_key } : {}),
    ...(input.retention_days !== undefined ? { retentionDays: input.retention_days } : {}),
    ...(input.retention_count !== undefined ? { retentionCount: input.retention_count } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
  })

  const slugTaken = (err: unknown, slug: string) => {
    if (isUniqueViolation(err, 'automations_slug_key')) throw new ConflictError(`an automation with slug ${slug} exists`, { slug })
    throw err
  }

  /** Writes the next version of an automation's graph (validated and compiled), live if asked. */
  async function writeVersion(tx: Executor, ctx: RequestContext, a: AutomationRow, graph: Graph, opts: { note?: string | undefined; publish: boolean; path?: string; deferSettings?: boolean }) {
    compiler.validate(graph, opts.path, { deferSettings: opts.deferSettings })
    const plan = compiler.compile(graph)
    const [{ next }] = (await rows<{ next: number }>(tx, sql`select coalesce(max(version), 0) + 1 as next from workflow_versions where automation_id = ${a.id}`)) as [{ next: number }]
    const by = actorLabel(ctx.actor)
    const [v] = await tx
      .insert(workflowVersions)
      .values({ organizationId: a.organizationId, automationId: a.id, version: Number(next), graph: graph as never, plan: plan as never, note: opts.note ?? null, createdBy: by })
      .returning()
    await events.appendEvent(tx, ctx, { type: 'automation.version_created', entityType: 'automation', entityId: a.id, data: { version: v!.version, steps: graph.steps.length } })
    return opts.publish ? publishLocked(tx, ctx, a, v!) : v!
  }

  /** Makes `v` the live version; the caller holds the automation's row lock. */
  async function publishLocked(tx: Executor, ctx: RequestContext, a: AutomationRow, v: VersionRow): Promise<VersionRow> {
    const previous = await liveOf(tx, a.id)
    if (previous?.id === v.id) return v
    if (previous) await tx.update(workflowVersions).set({ isLive: false }).where(eq(workflowVersions.id, previous.id))
    const [row] = await tx
      .update(workflowVersions)
      .set({ isLive: true, publishedAt: sql`now()`, publishedBy: actorLabel(ctx.actor) })
      .where(eq(workflowVersions.id, v.id))
      .returning()
      .catch((err) => {
        if (isUniqueViolation(err, 'workflow_versions_one_live_key')) throw new ConflictError(`another version of automation ${a.slug} went live at the same time; try again`)
        throw err
      })
    await events.appendEvent(tx, ctx, { type: 'automation.published', entityType: 'automation', entityId: a.id, data: { version: v.version, previous_version: previous?.version ?? null } })
    return row!
  }

  /** Creates an automation (and its first version when a graph is given) in the caller's transaction. */
  async function createIn(tx: Executor, ctx: RequestContext, input: AutomationInput & { graph?: Graph | undefined; publish?: boolean | undefined; componentId?: string | undefined; deferSettings?: boolean }, graphPath?: string) {
    const org = orgOf(ctx)
    const slug = input.slug ? slugify(input.slug) : await uniqueSlug(tx, automations, eq(automations.organizationId, org), input.name)
    const by = actorLabel(ctx.actor)
    const [a] = await tx
      .insert(automations)
      .values({ organizationId: org, name: input.name.trim(), slug, ...fields(input), componentId: input.componentId ?? null, createdBy: by, modifiedBy: by })
      .returning()
      .catch((err) => slugTaken(err, slug))
    await events.appendEvent(tx, ctx, { type: 'automation.created', entityType: 'automation', entityId: a!.id, data: { name: a!.name, slug, process_type: a!.processType, component_id: a!.componentId } })
    if (a!.retentionDays !== null || a!.retentionCount !== null) await schedulePrune(tx, ctx)
    const live = input.graph ? await writeVersion(tx, ctx, a!, input.graph, { publish: input.publish ?? true, note: 'first version', ...(graphPath ? { path: graphPath } : {}), ...(input.deferSettings ? { deferSettings: true } : {}) }) : null
    return { automation: a!, live }
  }

  return {
    find,
    createIn,
    writeVersion,
    liveOf,
    versionOf,

    /** `graphPath`: where the graph is in the request, for field errors (default /body/graph). */
    async create(ctx: RequestContext, input: AutomationInput & { graph?: Graph | undefined; publish?: boolean | undefined }, graphPath?: string) {
      return database.transaction(async (tx) => {
        const { automation, live } = await createIn(tx, ctx, input, graphPath)
        return toAutomationView(automation, live?.isLive ? live : null)
      })
    },

    async get(ctx: RequestContext, ref: string) {
      const a = await find(db, ctx, ref)
      return toAutomationView(a, await liveOf(db, a.id))
    },

    async list(ctx: RequestContext, f: { limit: number; cursor?: string | undefined; enabled?: boolean | undefined; process_type?: string | undefined }) {
      const page = await listNewestFirst(db, automations, [inOrg(automations, ctx), f.enabled === undefined ? undefined : eq(automations.enabled, f.enabled), f.process_type ? eq(automations.processType, f.process_type) : undefined], f)
      const ids = page.data.map((a) => a.id)
      const lives = ids.length ? await db.select().from(workflowVersions).where(and(sql`${workflowVersions.automationId} = any(${`{${ids.join(',')}}`}::uuid[])`, eq(workflowVersions.isLive, true))) : []
      const byAutomation = new Map(lives.map((v) => [v.automationId, v]))
      return { data: page.data.map((a) => toAutomationView(a, byAutomation.get(a.id) ?? null)), next_cursor: page.next_cursor }
    },

    async update(ctx: RequestContext, ref: string, patch: Partial<AutomationInput>) {
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        const slug = patch.slug ? slugify(patch.slug) : undefined
        const [row] = await tx
          .update(automations)
          .set({ ...(patch.name ? { name: patch.name.trim() } : {}), ...(slug ? { slug } : {}), ...fields(patch), modifiedBy: actorLabel(ctx.actor) })
          .where(eq(automations.id, a.id))
          .returning()
          .catch((err) => slugTaken(err, slug ?? a.slug))
        if (row && (row.retentionDays !== null || row.retentionCount !== null)) await schedulePrune(tx, ctx)
        const changed = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined)
        await events.appendEvent(tx, ctx, { type: 'automation.updated', entityType: 'automation', entityId: a.id, data: { changed } })
        return toAutomationView(row!, await liveOf(tx, a.id))
      })
    },

    /** Prunes one automation's run history now, as a job (its retention_days and retention_count). */
    async prune(ctx: RequestContext, ref: string) {
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref)
        if (a.retentionDays === null && a.retentionCount === null) throw new ValidationError(`automation ${a.slug} keeps its whole run history: set retention_days or retention_count first`, [{ path: '/body/retention_days', message: 'is not set (nor retention_count)' }])
        return toJobView(await enqueueJob(tx, ctx, { type: PRUNE_JOB, params: { automation_id: a.id }, maxAttempts: 5 }))
      })
    },

    async remove(ctx: RequestContext, ref: string) {
      await database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        await tx.delete(automations).where(eq(automations.id, a.id))
        await events.appendEvent(tx, ctx, { type: 'automation.deleted', entityType: 'automation', entityId: a.id, data: { name: a.name, slug: a.slug } })
      })
    },

    async addVersion(ctx: RequestContext, ref: string, input: { graph: Graph; note?: string | undefined; publish?: boolean | undefined }) {
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        return toVersionView(await writeVersion(tx, ctx, a, input.graph, { note: input.note, publish: input.publish ?? false }))
      })
    },

    async listVersions(ctx: RequestContext, ref: string, page: { limit: number; cursor?: string | undefined }) {
      const a = await find(db, ctx, ref)
      const before = page.cursor ? Number(decodeCursor(page.cursor, ['number'])[0]) : null
      const found = await db
        .select()
        .from(workflowVersions)
        .where(and(eq(workflowVersions.automationId, a.id), before === null ? undefined : sql`${workflowVersions.version} < ${before}`))
        .orderBy(desc(workflowVersions.version))
        .limit(page.limit + 1)
      const more = found.length > page.limit
      const data = found.slice(0, page.limit)
      return { data: data.map(toVersionView), next_cursor: more ? encodeCursor([data[data.length - 1]!.version]) : null }
    },

    async getVersion(ctx: RequestContext, ref: string, version: number) {
      const a = await find(db, ctx, ref)
      return toVersionView(await versionOf(db, ctx, a.id, version))
    },

    async publish(ctx: RequestContext, ref: string, version: number) {
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        return toVersionView(await publishLocked(tx, ctx, a, await versionOf(tx, ctx, a.id, version)))
      })
    },

    /** The graph of `version`, published again as the next version. */
    async revert(ctx: RequestContext, ref: string, version: number) {
      return database.transaction(async (tx) => {
        const a = await find(tx, ctx, ref, true)
        const from = await versionOf(tx, ctx, a.id, version)
        return toVersionView(await writeVersion(tx, ctx, a, from.graph as unknown as Graph, { note: `revert to version ${version}`, publish: true }))
      })
    },

    /** What changed from `against` to `version`: steps added, removed or changed (with the fields), edges added or removed. */
    async diff(ctx: RequestContext, ref: string, version: number, against: number) {
      const a = await find(db, ctx, ref)
      const [to, from] = [await versionOf(db, ctx, a.id, version), await versionOf(db, ctx, a.id, against)]
      return { automation_id: a.id, from: against, to: version, ...diffGraphs(from.graph as unknown as Graph, to.graph as unknown as Graph) }
    },
  }
}

export type Automations = ReturnType<typeof createAutomations>

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x))

export function diffGraphs(from: Graph, to: Graph) {
  const before = new Map(from.steps.map((s) => [s.id, s]))
  const after = new Map(to.steps.map((s) => [s.id, s]))
  const edgeKey = (e: NonNullable<Graph['edges']>[number]) => stable({ from: e.from, to: e.to, condition: e.condition ?? null, branch: e.branch ?? null })
  const edgesBefore = new Set((from.edges ?? []).map(edgeKey))
  const edgesAfter = new Set((to.edges ?? []).map(edgeKey))
  return {
    steps_added: to.steps.filter((s) => !before.has(s.id)).map((s) => s.id),
    steps_removed: from.steps.filter((s) => !after.has(s.id)).map((s) => s.id),
    steps_changed: to.steps
      .filter((s) => before.has(s.id))
      .map((s) => {
        const b = before.get(s.id)! as unknown as Record<string, unknown>
        const fields = [...new Set([...Object.keys(b), ...Object.keys(s)])].filter((k) => stable(b[k]) !== stable((s as unknown as Record<string, unknown>)[k])).sort()
        return { id: s.id, fields, before: fields.length ? Object.fromEntries(fields.map((f) => [f, b[f] ?? null])) : undefined, after: fields.length ? Object.fromEntries(fields.map((f) => [f, (s as unknown as Record<string, unknown>)[f] ?? null])) : undefined }
      })
      .filter((c) => c.fields.length > 0),
    edges_added: [...edgesAfter].filter((e) => !edgesBefore.has(e)).map((e) => JSON.parse(e)),
    edges_removed: [...edgesBefore].filter((e) => !edgesAfter.has(e)).map((e) => JSON.parse(e)),
  }
}
