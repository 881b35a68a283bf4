// Scenarios (seed 000 ScenarioClass, ScenarioLog, ScenarioComponentLink): a draft names the
// components it uses (at most one per data source), is submitted, approved or rejected by
// someone else holding scenarios:approve (four eyes), then runs and writes its logs. Every move
// goes through the status machine below, on the locked row, and writes its event.
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { defineStatusMachine } from '../../core/behaviours/statusMachine.ts'
import { actorLabel, hasScope, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { decodeCursor, listNewestFirst, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import {
  components, scenarioComponents, scenarioLogs, scenarios,
  type ComponentRow, type LogLevel, type ScenarioLogRow, type ScenarioRow, type ScenarioStatus,
} from './sources.schema.ts'
import type { DataSources } from './sources.service.ts'

export const APPROVE_SCOPE = 'scenarios:approve'

export const scenarioStatus = defineStatusMachine<ScenarioStatus>('scenario', 'draft', {
  draft: ['submitted', 'archived'],
  submitted: ['approved', 'rejected', 'archived'],
  rejected: ['draft', 'archived'],
  approved: ['running', 'archived'],
  running: ['completed', 'failed', 'archived'],
  completed: ['archived'],
  failed: ['archived'],
  archived: [],
})

type LinkRow = typeof scenarioComponents.$inferSelect
const iso = (d: Date | null) => d?.toISOString() ?? null

export const toScenarioView = (s: ScenarioRow, links?: LinkRow[]) => ({
  id: s.id,
  name: s.name,
  description: s.description,
  status: s.status,
  status_changed_at: s.statusChangedAt.toISOString(),
  period_start: iso(s.periodStart),
  period_end: iso(s.periodEnd),
  submitted_by: s.submittedBy,
  submitted_at: iso(s.submittedAt),
  approved_by: s.approvedBy,
  approved_at: iso(s.approvedAt),
  rejected_by: s.rejectedBy,
  rejected_at: iso(s.rejectedAt),
  rejection_reason: s.rejectionReason,
  cloned_from: s.clonedFrom,
  created_by: s.createdBy,
  modified_by: s.modifiedBy,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
  ...(links ? { components: links.map((l) => ({ component_id: l.componentId, data_source_id: l.dataSourceId })) } : {}),
})

export const toLinkView = (l: LinkRow) => ({ scenario_id: l.scenarioId, component_id: l.componentId, data_source_id: l.dataSourceId, created_at: l.createdAt.toISOString(), created_by: l.createdBy })

export const toLogView = (l: ScenarioLogRow) => ({ id: l.id, scenario_id: l.scenarioId, ts: l.ts.toISOString(), level: l.level, message: l.message, progress: l.progress, job_id: l.jobId, created_by: l.createdBy })

/**
 * The person behind a request: a session's user, or the user who created the API key. The
 * four-eyes rule compares people, so approving through one's own key is still self-approval.
 */
const userOf = (ctx: RequestContext): string | null => ctx.credential?.userId ?? (ctx.actor?.type === 'user' ? ctx.actor.id : null)

export interface NewScenario {
  name: string
  description?: string | null | undefined
  period_start?: string | null | undefined
  period_end?: string | null | undefined
}
export interface NewLog {
  message: string
  level?: LogLevel | undefined
  progress?: number | null | undefined
  jobId?: string | null | undefined
}

/** What each action route does: the status it moves to, its event, and what it stamps on the row. */
const ACTIONS = {
  submit: { to: 'submitted', event: 'scenario.submitted', stamp: (by: string | null) => ({ submittedBy: by, submittedAt: sql`now()` }) },
  approve: { to: 'approved', event: 'scenario.approved', stamp: (by: string | null) => ({ approvedBy: by, approvedAt: sql`now()` }) },
  reject: { to: 'rejected', event: 'scenario.rejected', stamp: (by: string | null) => ({ rejectedBy: by, rejectedAt: sql`now()` }) },
  // Back to draft for rework; the last rejection stays on the row until the next one, so the
  // author can read why while reworking (every earlier one is in the events).
  rework: { to: 'draft', event: 'scenario.reworked', stamp: () => ({}) },
  start: { to: 'running', event: 'scenario.started', stamp: () => ({}) },
  complete: { to: 'completed', event: 'scenario.completed', stamp: () => ({}) },
  fail: { to: 'failed', event: 'scenario.failed', stamp: () => ({}) },
  archive: { to: 'archived', event: 'scenario.archived', stamp: () => ({}) },
} as const satisfies Record<string, { to: ScenarioStatus; event: string; stamp: (by: string | null) => Record<string, unknown> }>
export type ScenarioAction = keyof typeof ACTIONS

export function createScenarios({ database, events, sources }: { database: Database; events: EventLog; sources: Pick<DataSources, 'getComponent'> }) {
  const db = database.db
  const notFound = (id: string) => new NotFoundError(`scenario ${id} not found`)

  async function find(exec: Executor, ctx: RequestContext, id: string, lock?: 'update' | 'share'): Promise<ScenarioRow> {
    if (!UUID.test(id)) throw notFound(id)
    const q = exec.select().from(scenarios).where(and(inOrg(scenarios, ctx), eq(scenarios.id, id)))
    const [row] = lock ? await q.for(lock) : await q
    if (!row) throw notFound(id)
    return row
  }

  const linksOf = (exec: Executor, ctx: RequestContext, scenarioId: string) =>
    exec.select().from(scenarioComponents).where(and(inOrg(scenarioComponents, ctx), eq(scenarioComponents.scenarioId, scenarioId))).orderBy(asc(scenarioComponents.createdAt), asc(scenarioComponents.componentId))

  /** Only a draft's content and links change: what was submitted is what gets approved and run. */
  function assertDraft(s: ScenarioRow, what: string) {
    if (s.status !== 'draft') throw new ConflictError(`scenario ${s.name} is ${s.status}: ${what} only while it is draft`, { status: s.status })
  }

  /** The period as dates, checked (start before end); `at` is where the request gave them. */
  function period(start: string | null | undefined, end: string | null | undefined, at: string) {
    const s = start ? new Date(start) : null
    const e = end ? new Date(end) : null
    if (s && e && s >= e) throw new ValidationError('the period must start before it ends', [{ path: `${at}/period_end`, message: 'must be after period_start' }])
    return { periodStart: s, periodEnd: e }
  }

  const nameTaken = (err: unknown, name: string) => {
    if (isUniqueViolation(err, 'scenarios_name_key')) throw new ConflictError(`a scenario named ${name} already exists`, { name })
    throw err
  }

  async function insertScenario(tx: Executor, ctx: RequestContext, values: Omit<typeof scenarios.$inferInsert, 'organizationId'>) {
    const by = actorLabel(ctx.actor)
    const [row] = await tx
      .insert(scenarios)
      .values({ ...values, organizationId: orgOf(ctx), creatorId: userOf(ctx), createdBy: by, modifiedBy: by })
      .returning()
      .catch((err) => nameTaken(err, values.name))
    return row!
  }

  /** Who may approve or reject: a holder of scenarios:approve who did not create the scenario. */
  function assertApprover(ctx: RequestContext, s: ScenarioRow, action: string) {
    if (!hasScope(ctx, APPROVE_SCOPE)) throw new ForbiddenError(`to ${action} a scenario needs the scope ${APPROVE_SCOPE}, which your credentials do not carry`, { required_scope: APPROVE_SCOPE })
    const user = userOf(ctx)
    // Four eyes means two people: Stratum itself (a job, an operator command without --email) cannot decide.
    if (!user) throw new ForbiddenError(`to ${action} a scenario is a person's decision: act as a member holding ${APPROVE_SCOPE} (from the CLI: --email)`, { reason: 'no-person' })
    if (user === s.creatorId) {
      throw new ForbiddenError(`you created scenario ${s.name}, so you cannot ${action} it: another member with ${APPROVE_SCOPE} must (four-eyes rule)`, { reason: 'self-approval' })
    }
  }

  /** A component given in a request body, which must exist in this organisation and be active. */
  async function componentOf(tx: Executor, ctx: RequestContext, id: string): Promise<ComponentRow> {
    const c = await sources.getComponent(tx, ctx, id).catch((err) => {
      if (err instanceof NotFoundError) throw new ValidationError(`component ${id} is not a component of this organisation`, [{ path: '/body/component_id', message: 'is not a component of this organisation' }])
      throw err
    })
    if (!c.isActive) throw new ValidationError(`component ${c.name} is not active`, [{ path: '/body/component_id', message: 'is not an active component' }])
    return c
  }

  /**
   * Inserts the link; the database refuses a second link of the component or of its data source.
   * In a savepoint, so after a refusal the transaction can still name the clashing component
   * (PostgreSQL aborts the whole transaction on a failed statement otherwise).
   */
  async function insertLink(tx: Executor, ctx: RequestContext, s: ScenarioRow, c: ComponentRow): Promise<LinkRow> {
    try {
      const [row] = await tx.transaction((sp) =>
        sp.insert(scenarioComponents).values({ organizationId: orgOf(ctx), scenarioId: s.id, componentId: c.id, dataSourceId: c.dataSourceId, createdBy: actorLabel(ctx.actor) }).returning(),
      )
      return row!
    } catch (err) {
      if (isUniqueViolation(err, 'scenario_components_pkey')) throw new ConflictError(`component ${c.name} is already linked to scenario ${s.name}`, { component_id: c.id })
      if (!isUniqueViolation(err, 'scenario_components_one_per_source_key')) throw err
      const [clash] = await tx
        .select({ id: components.id, name: components.name })
        .from(scenarioComponents)
        .innerJoin(components, and(eq(components.organizationId, scenarioComponents.organizationId), eq(components.id, scenarioComponents.componentId)))
        .where(and(inOrg(scenarioComponents, ctx), eq(scenarioComponents.scenarioId, s.id), eq(scenarioComponents.dataSourceId, c.dataSourceId)))
      throw new ConflictError(
        `scenario ${s.name} already links component ${clash?.name ?? '(unknown)'} (${clash?.id ?? '?'}) of the same data source; a scenario takes one component per data source, so unlink it before linking ${c.name}`,
        { data_source_id: c.dataSourceId, linked_component_id: clash?.id ?? null },
      )
    }
  }

  /** Writes one log line. Any status: a log records what happened, and refusing it would lose that. */
  async function log(tx: Executor, ctx: RequestContext, scenarioId: string, input: NewLog) {
    await find(tx, ctx, scenarioId)
    // No event per line: the log is itself an append-only record with its author and time, and a
    // running scenario may write many lines; the status moves around it carry events.
    const [row] = await tx
      .insert(scenarioLogs)
      .values({ organizationId: orgOf(ctx), scenarioId, level: input.level ?? 'info', message: input.message, progress: input.progress ?? null, jobId: input.jobId ?? null, createdBy: actorLabel(ctx.actor) })
      .returning()
    return toLogView(row!)
  }

  return {
    find,
    log,
    /** The scenario row, for other services of this module (404 when not the organisation's). */
    row: (ctx: RequestContext, id: string) => find(database.db, ctx, id),

    async create(ctx: RequestContext, input: NewScenario) {
      const dates = period(input.period_start, input.period_end, '/body')
      return database.transaction(async (tx) => {
        const row = await insertScenario(tx, ctx, { name: input.name.trim(), description: input.description ?? null, ...dates })
        await events.appendEvent(tx, ctx, { type: 'scenario.created', entityType: 'scenario', entityId: row.id, data: { name: row.name } })
        return toScenarioView(row, [])
      })
    },

    async list(ctx: RequestContext, q: { limit: number; cursor?: string | undefined; status?: ScenarioStatus | undefined }) {
      const page = await listNewestFirst(db, scenarios, [inOrg(scenarios, ctx), q.status ? eq(scenarios.status, q.status) : undefined], q)
      return { data: page.data.map((s) => toScenarioView(s)), next_cursor: page.next_cursor }
    },

    async get(ctx: RequestContext, id: string) {
      const row = await find(db, ctx, id)
      return toScenarioView(row, await linksOf(db, ctx, id))
    },

    /** A merge patch of name, description and period; only a draft changes. */
    async update(ctx: RequestContext, id: string, patch: Partial<NewScenario>) {
      return database.transaction(async (tx) => {
        const before = await find(tx, ctx, id, 'update')
        assertDraft(before, 'it can be changed')
        const start = patch.period_start !== undefined ? patch.period_start : iso(before.periodStart)
        const end = patch.period_end !== undefined ? patch.period_end : iso(before.periodEnd)
        const changes: Partial<typeof scenarios.$inferInsert> = { ...period(start, end, '/body') }
        if (patch.name !== undefined) changes.name = patch.name.trim()
        if (patch.description !== undefined) changes.description = patch.description
        const changed = Object.keys(patch).filter((k) => patch[k as keyof NewScenario] !== undefined)
        if (changed.length === 0) return toScenarioView(before, await linksOf(tx, ctx, id))
        const [row] = await tx
          .update(scenarios)
          .set({ ...changes, modifiedBy: actorLabel(ctx.actor) })
          .where(eq(scenarios.id, before.id))
          .returning()
          .catch((err) => nameTaken(err, changes.name ?? before.name))
        await events.appendEvent(tx, ctx, { type: 'scenario.updated', entityType: 'scenario', entityId: id, data: { changed, name: row!.name, previous_name: before.name } })
        return toScenarioView(row!, await linksOf(tx, ctx, id))
      })
    },

    /** One move of the status machine on the locked row: 409 naming both states when not allowed. */
    async act(ctx: RequestContext, id: string, action: ScenarioAction, input: { reason?: string | undefined } = {}) {
      const { to, event, stamp } = ACTIONS[action]
      return database.transaction(async (tx) => {
        const before = await find(tx, ctx, id, 'update')
        if (action === 'approve' || action === 'reject') assertApprover(ctx, before, action)
        scenarioStatus.assert(before.status, to)
        const by = actorLabel(ctx.actor)
        const extra = action === 'reject' ? { rejectionReason: input.reason ?? null } : {}
        const [row] = await tx
          .update(scenarios)
          .set({ status: to, statusChangedAt: sql`now()`, modifiedBy: by, ...stamp(by), ...extra })
          .where(eq(scenarios.id, before.id))
          .returning()
        const data: Record<string, unknown> = { name: row!.name, from: before.status, to, ...(action === 'reject' ? { reason: input.reason ?? null } : {}) }
        await events.appendEvent(tx, ctx, { type: event, entityType: 'scenario', entityId: id, data })
        return toScenarioView(row!)
      })
    },

    /** A new draft with the same description, period and links (not logs); the cloner is its creator. */
    async clone(ctx: RequestContext, id: string, input: { name: string }) {
      return database.transaction(async (tx) => {
        // Shared lock: links cannot change (linking locks the row for update) while they are copied.
        const from = await find(tx, ctx, id, 'share')
        const links = await linksOf(tx, ctx, id)
        const row = await insertScenario(tx, ctx, { name: input.name.trim(), description: from.description, periodStart: from.periodStart, periodEnd: from.periodEnd, clonedFrom: from.id })
        const by = actorLabel(ctx.actor)
        const copied = links.length
          ? await tx.insert(scenarioComponents).values(links.map((l) => ({ organizationId: l.organizationId, scenarioId: row.id, componentId: l.componentId, dataSourceId: l.dataSourceId, createdBy: by }))).returning()
          : []
        // scenario.created for whoever follows creations, scenario.cloned naming the origin and
        // the copied links (one event rather than one component_linked per link).
        await events.appendEvents(tx, ctx, [
          { type: 'scenario.created', entityType: 'scenario', entityId: row.id, data: { name: row.name, cloned_from: from.id } },
          { type: 'scenario.cloned', entityType: 'scenario', entityId: row.id, data: { name: row.name, cloned_from: from.id, component_ids: copied.map((l) => l.componentId) } },
        ])
        return toScenarioView(row, copied)
      })
    },

    async linkComponent(ctx: RequestContext, id: string, componentId: string) {
      return database.transaction(async (tx) => {
        // Locked so that the status check and the insert are one decision, and so that two links
        // to one scenario queue here rather than race to the unique index.
        const s = await find(tx, ctx, id, 'update')
        assertDraft(s, 'components can be linked')
        const c = await componentOf(tx, ctx, componentId)
        const link = await insertLink(tx, ctx, s, c)
        await events.appendEvent(tx, ctx, { type: 'scenario.component_linked', entityType: 'scenario', entityId: s.id, data: { component_id: c.id, component: c.name, data_source_id: c.dataSourceId } })
        return toLinkView(link)
      })
    },

    async unlinkComponent(ctx: RequestContext, id: string, componentId: string) {
      await database.transaction(async (tx) => {
        const s = await find(tx, ctx, id, 'update')
        const missing = new NotFoundError(`component ${componentId} is not linked to scenario ${s.name}`)
        if (!UUID.test(componentId)) throw missing
        assertDraft(s, 'components can be unlinked')
        const [gone] = await tx
          .delete(scenarioComponents)
          .where(and(inOrg(scenarioComponents, ctx), eq(scenarioComponents.scenarioId, s.id), eq(scenarioComponents.componentId, componentId)))
          .returning()
        if (!gone) throw missing
        await events.appendEvent(tx, ctx, { type: 'scenario.component_unlinked', entityType: 'scenario', entityId: s.id, data: { component_id: componentId, data_source_id: gone.dataSourceId } })
      })
    },

    async listLinks(ctx: RequestContext, id: string) {
      await find(db, ctx, id)
      return { data: (await linksOf(db, ctx, id)).map(toLinkView), next_cursor: null }
    },

    async writeLog(ctx: RequestContext, id: string, input: NewLog) {
      return database.transaction((tx) => log(tx, ctx, id, input))
    },

    /** Newest first by (ts, id); ts at full precision in the cursor (see timestampKey). */
    async listLogs(ctx: RequestContext, id: string, q: { limit: number; cursor?: string | undefined; level?: LogLevel | undefined }) {
      await find(db, ctx, id)
      const conds: (SQL | undefined)[] = [inOrg(scenarioLogs, ctx), eq(scenarioLogs.scenarioId, id), q.level ? eq(scenarioLogs.level, q.level) : undefined]
      if (q.cursor) {
        const [ts, logId] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        conds.push(sql`(${scenarioLogs.ts}, ${scenarioLogs.id}) < (${ts}::timestamptz, ${logId}::uuid)`)
      }
      const found = await db.select({ l: scenarioLogs, key: timestampKey(scenarioLogs.ts) }).from(scenarioLogs).where(and(...conds)).orderBy(desc(scenarioLogs.ts), desc(scenarioLogs.id)).limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.l.id])
      return { data: page.data.map((r) => toLogView(r.l)), next_cursor: page.next_cursor }
    },
  }
}

export type Scenarios = ReturnType<typeof createScenarios>
