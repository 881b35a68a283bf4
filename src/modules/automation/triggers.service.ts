// Triggers (seed 003 Trigger, seed 000 WorkflowScheduler): what starts an automation.
//  - cron: croner in an IANA time zone; the scheduler (a background task in every worker
//    process) takes due triggers with SKIP LOCKED, so each fire happens once however many
//    workers run. Overlap policy: skip, queue or allow. Missed fires (the server was down):
//    skip, run_once or catch_up (up to a limit). Every fire, skip and error is a schedule log.
//  - event: an event type pattern (`alert.*`) and filters on the event; a durable consumer of
//    the event log starts executions in the same transaction that moves its cursor, so no
//    event is missed or started twice across restarts.
//  - webhook: a unique URL per trigger; with a secret, Standard Webhooks signatures are checked.
import { randomBytes } from 'node:crypto'
import { and, asc, eq, sql, inArray } from 'drizzle-orm'
import { Cron } from 'croner'
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import { newId, UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, systemContext, type RequestContext } from '../../core/context.ts'
import type { Database, Executor } from '../../core/db/database.ts'
import { NotFoundError, UnauthorizedError, ValidationError, type FieldError } from '../../core/errors.ts'
import type { EventLog, EventView } from '../../core/events/events.service.ts'
import { decodeCursor, encodeCursor, listNewestFirst, timestampKey } from '../../core/http/pagination.ts'
import { groupCommit } from '../../core/db/groupCommit.ts'
import { isStale } from '../../core/db/violations.ts'
import { LRUCache } from 'lru-cache'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import { automations, executions, scheduleLogs, triggers, workflowVersions, type AutomationRow, type ScheduleLogStatus, type TriggerRow, type TriggerType, type VersionRow } from './automation.schema.ts'
import type { Automations } from './automations.service.ts'
import type { Executions, StartItem, StartOptions } from './executions.service.ts'

type StartExtra = { eventId?: number; idempotencyKey?: string; trigger?: Record<string, unknown>; deferred?: boolean; claimedBy?: StartOptions['claimedBy']; live?: VersionRow | null }
import { evaluate, expressionProblem } from './expressions.ts'

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export const OVERLAP = ['skip', 'queue', 'allow'] as const
export const MISSED = ['skip', 'run_once', 'catch_up'] as const
/** A fire later than this after its time counts as missed (the scheduler was not running). */
export const MISFIRE_MS = 60_000

export interface CronConfig {
  expression: string
  time_zone?: string
  overlap?: (typeof OVERLAP)[number]
  missed?: (typeof MISSED)[number]
  catch_up_limit?: number
  input?: unknown
}

export const toTriggerView = (t: TriggerRow, opts: { showSecret?: boolean; baseUrl?: string } = {}) => ({
  id: t.id,
  automation_id: t.automationId,
  type: t.type,
  name: t.name,
  enabled: t.enabled,
  config: t.config,
  filters: t.filters,
  webhook_url: t.webhookToken ? `/api/v1/hooks/${t.webhookToken}` : null,
  /** Shown once, when the trigger is made (or its secret rotated). */
  secret: t.secret ? (opts.showSecret ? t.secret : `${t.secret.slice(0, 10)}...`) : null,
  next_run_at: iso(t.nextRunAt),
  last_run_at: iso(t.lastRunAt),
  created_by: t.createdBy,
  created_at: t.createdAt.toISOString(),
  updated_at: t.updatedAt.toISOString(),
})

const toLogView = (l: typeof scheduleLogs.$inferSelect) => ({
  id: l.id,
  trigger_id: l.triggerId,
  ts: l.ts.toISOString(),
  scheduled_for: l.scheduledFor.toISOString(),
  delay_ms: l.ts.getTime() - l.scheduledFor.getTime(),
  status: l.status,
  message: l.message,
  execution_id: l.executionId,
})

export interface TriggerInput {
  type: TriggerType
  name?: string | null | undefined
  enabled?: boolean | undefined
  config?: Record<string, unknown> | undefined
  filters?: Record<string, unknown> | undefined
  /** Webhook triggers: true to sign with a generated Standard Webhooks secret. */
  signed?: boolean | undefined
}

/** A cron schedule in its time zone (croner), or the field errors that stop it. */
export function cronOf(config: Record<string, unknown>, base = '/body/config'): Cron {
  const errors: FieldError[] = []
  const c = config as Partial<CronConfig>
  if (typeof c.expression !== 'string' || c.expression.trim() === '') errors.push({ path: `${base}/expression`, message: 'is required: a cron expression such as "0 6 * * *" (5 fields, or 6 with seconds first)' })
  const tz = c.time_zone ?? 'UTC'
  if (typeof tz !== 'string' || !validZone(tz)) errors.push({ path: `${base}/time_zone`, message: `${JSON.stringify(tz)} is not an IANA time zone (such as Europe/Oslo)` })
  if (c.overlap !== undefined && !OVERLAP.includes(c.overlap)) errors.push({ path: `${base}/overlap`, message: `must be one of ${OVERLAP.join(', ')}` })
  if (c.missed !== undefined && !MISSED.includes(c.missed)) errors.push({ path: `${base}/missed`, message: `must be one of ${MISSED.join(', ')}` })
  if (c.catch_up_limit !== undefined && !(Number.isInteger(c.catch_up_limit) && c.catch_up_limit >= 1 && c.catch_up_limit <= 1000)) errors.push({ path: `${base}/catch_up_limit`, message: 'must be a whole number from 1 to 1000' })
  const known = new Set(['expression', 'time_zone', 'overlap', 'missed', 'catch_up_limit', 'input'])
  for (const k of Object.keys(config)) if (!known.has(k)) errors.push({ path: `${base}/${k}`, message: `is not a cron trigger setting (known: ${[...known].join(', ')})` })
  let cron: Cron | null = null
  if (errors.length === 0) {
    try {
      cron = new Cron(c.expression!, { timezone: tz, paused: true })
    } catch (err) {
      errors.push({ path: `${base}/expression`, message: `does not parse: ${(err as Error).message}` })
    }
  }
  if (errors.length || !cron) throw new ValidationError(`the cron trigger is not valid: ${errors[0]!.path} ${errors[0]!.message}`, errors)
  return cron
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Whether an event type matches a pattern: exact, `*`, or a prefix ending in `.*` (`alert.*`). */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1))
  return false
}

/** The value at a dotted path of an event (`data.severity`, `entity_type`). */
const at = (obj: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj)

/**
 * Seed 003 Trigger.matches(event): the type pattern, every filter (dotted path equal to a value,
 * or to one of a list), and the optional JSONata `condition` over the event.
 */
export async function matches(t: Pick<TriggerRow, 'config' | 'filters' | 'automationId' | 'organizationId'>, event: EventView): Promise<boolean> {
  if (event.organization_id !== t.organizationId) return false
  // An automation's own events never start it again (no loops through emit_event or execution.*).
  if ((event.event_metadata as { automation_id?: unknown }).automation_id === t.automationId) return false
  if (event.entity_type === 'execution' && (event.data as { automation_id?: unknown }).automation_id === t.automationId) return false
  const c = t.config as { event_type?: string; condition?: string }
  if (!typeMatches(c.event_type ?? '*', event.type)) return false
  for (const [path, want] of Object.entries(t.filters)) {
    const have = at(event, path)
    if (Array.isArray(want) ? !want.some((w) => w === have) : have !== want) return false
  }
  if (c.condition && !(await evaluate(c.condition, event))) return false
  return true
}

/** Seed 003 Trigger.extract_payload(event): the `payload` JSONata over the event, or its data. */
export async function extractPayload(t: Pick<TriggerRow, 'config'>, event: EventView): Promise<unknown> {
  const p = (t.config as { payload?: string }).payload
  return p ? evaluate(p, event) : event.data
}

const notFound = (id: string) => new NotFoundError(`trigger ${id} not found`)

export function createTriggers({ database, events, automations: automationService, executions: executionService, clock }: { database: Database; events: EventLog; automations: Automations; executions: Executions; clock: () => Date }) {
  const db = database.db

  function check(type: TriggerType, config: Record<string, unknown>, filters: Record<string, unknown>) {
    if (type === 'cron') return cronOf(config)
    const errors: FieldError[] = []
    if (type === 'event') {
      const c = config as { event_type?: unknown; condition?: unknown; payload?: unknown }
      if (typeof c.event_type !== 'string' || !/^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$/.test(c.event_type)) errors.push({ path: '/body/config/event_type', message: 'is required: an event type (alert.raised), a prefix pattern (alert.*) or *' })
      for (const f of ['condition', 'payload'] as const) {
        if (c[f] === undefined) continue
        const p = typeof c[f] === 'string' ? expressionProblem(c[f] as string) : 'must be a JSONata expression'
        if (p) errors.push({ path: `/body/config/${f}`, message: p })
      }
      for (const k of Object.keys(config)) if (!['event_type', 'condition', 'payload'].includes(k)) errors.push({ path: `/body/config/${k}`, message: 'is not an event trigger setting (known: event_type, condition, payload)' })
      for (const k of Object.keys(filters)) if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(k)) errors.push({ path: `/body/filters/${k}`, message: 'must be a dotted path into the event (data.severity)' })
    } else if (Object.keys(filters).length) errors.push({ path: '/body/filters', message: `only event triggers take filters, not ${type} triggers` })
    if (type === 'webhook') for (const k of Object.keys(config)) if (k !== 'input') errors.push({ path: `/body/config/${k}`, message: 'is not a webhook trigger setting' })
    if (errors.length) throw new ValidationError(`the ${type} trigger is not valid: ${errors[0]!.path} ${errors[0]!.message}`, errors)
    return null
  }

  async function find(exec: Executor, ctx: RequestContext, id: string, lock = false): Promise<TriggerRow> {
    if (!UUID.test(id)) throw notFound(id)
    const q = exec.select().from(triggers).where(and(inOrg(triggers, ctx), eq(triggers.id, id)))
    const [row] = lock ? await q.for('update') : await q
    if (!row) throw notFound(id)
    return row
  }

  /** Automations with their live version (null where none is live), in one read. */
  function withLive(tx: Executor, ids: string[]) {
    return tx
      .select({ a: automations, live: workflowVersions })
      .from(automations)
      .leftJoin(workflowVersions, and(eq(workflowVersions.automationId, automations.id), eq(workflowVersions.isLive, true)))
      .where(inArray(automations.id, ids))
  }

  /** Starts the automation for a trigger in `tx`; the trigger's settings go into the execution context. */
  async function startFor(tx: Executor, ctx: RequestContext, t: TriggerRow, a: AutomationRow, input: unknown, extra: StartExtra) {
    const [live] = extra.live !== undefined ? [extra.live] : await tx.select().from(workflowVersions).where(and(eq(workflowVersions.automationId, a.id), eq(workflowVersions.isLive, true)))
    return executionService.startMany(tx, ctx, [itemFor(t, a, live, input, extra)]).then((r) => r[0]!)
  }

  /** Webhook triggers by token, with their automations and live versions: the tokens asked for together read at once. */
  // Prepared once (built by drizzle once, parsed by PostgreSQL once per connection): it runs for every delivery.
  const webhooksByToken = db
    .select({ t: triggers, a: automations, live: workflowVersions, stamp: sql<string>`concat_ws(':', ${triggers}.xmin, ${automations}.xmin, ${workflowVersions}.xmin)` })
    .from(triggers)
    .innerJoin(automations, eq(automations.id, triggers.automationId))
    .leftJoin(workflowVersions, and(eq(workflowVersions.automationId, automations.id), eq(workflowVersions.isLive, true)))
    .where(and(sql`${triggers.webhookToken} = any(${sql.placeholder('tokens')}::text[])`, eq(triggers.type, 'webhook')))
    .prepare('stratum_webhooks_by_token')
  type Hook = { t: TriggerRow; a: AutomationRow; live: VersionRow | null; stamp: string }
  const webhookOf = groupCommit<string, Hook | undefined>({}, async (tokens) => {
    const found = await webhooksByToken.execute({ tokens: [...new Set(tokens)] })
    const byToken = new Map(found.map((f) => [f.t.webhookToken, f]))
    return tokens.map((token) => byToken.get(token))
  })
  // Webhooks as last read, by token: a delivery starts from this with no read of its own; the
  // start's insert checks in the same statement that nothing read has changed (`unchanged`),
  // and a refusal or a changed definition is tried again on a fresh read.
  const hooks = new LRUCache<string, Hook>({ max: 10_000, ttl: 300_000 })

  /** What a trigger's start gives startMany: its settings go into the execution context. */
  function itemFor(t: TriggerRow, a: AutomationRow, live: VersionRow | null | undefined, input: unknown, extra: StartExtra): StartItem {
    if (!live) throw new ValidationError(`automation ${a.slug} has no live version`, [{ path: '/automation', message: 'has no live version' }])
    return {
      a,
      v: live,
      input: { input, idempotency_key: extra.idempotencyKey },
      origin: { triggerId: t.id, triggerType: t.type, eventId: extra.eventId ?? null, trigger: { name: t.name, ...(extra.trigger ?? {}) } },
      opts: { deferred: extra.deferred ?? false, claimedBy: extra.claimedBy },
    }
  }

  /**
   * One scheduler round: fires (or skips) up to `limit` due cron triggers in one transaction.
   * Returns how many were due. What every trigger needs is read for all of them at once (the
   * automations with their live versions, the runs still active) and the logs and the next run
   * times are written at once: per trigger only the execution's own rows remain (1,000
   * schedules due in one minute: docs/benchmarks.md section 10).
   */
  async function tick(limit = 100): Promise<number> {
    return database.transaction(async (tx) => {
      const now = clock()
      const due = await tx
        .select()
        .from(triggers)
        .where(and(eq(triggers.type, 'cron'), eq(triggers.enabled, true), sql`${triggers.nextRunAt} <= ${now.toISOString()}::timestamptz`))
        .orderBy(asc(triggers.nextRunAt))
        .limit(limit)
        .for('update', { skipLocked: true })
      if (due.length === 0) return 0
      const logs: (typeof scheduleLogs.$inferInsert)[] = []
      const log = (t: TriggerRow, scheduledFor: Date, status: ScheduleLogStatus, message: string, executionId: string | null = null) =>
        logs.push({ organizationId: t.organizationId, triggerId: t.id, ts: clock(), scheduledFor, status, message, executionId })
      const next: { id: string; next_run_at: string | null; last_run_at: string | null }[] = []
      const automationIds = [...new Set(due.map((t) => t.automationId))]
      const found = await withLive(tx, automationIds)
      const byAutomation = new Map(found.map((r) => [r.a.id, r]))
      const running = await tx
        .select({ id: executions.id, triggerId: executions.triggerId })
        .from(executions)
        .where(and(inArray(executions.automationId, automationIds), inArray(executions.triggerId, due.map((t) => t.id)), sql`${executions.status} in ('queued', 'running', 'waiting')`))
      const activeOf = new Map(running.map((r) => [r.triggerId!, r.id]))
      const toStart: { t: TriggerRow; at: Date; message: string; item: Parameters<Executions['startMany']>[2][number] }[] = []
      for (const t of due) {
        const c = t.config as unknown as CronConfig
        let cron: Cron
        try {
          cron = cronOf(t.config, '/config')
        } catch (err) {
          log(t, t.nextRunAt!, 'error', (err as Error).message)
          next.push({ id: t.id, next_run_at: null, last_run_at: t.lastRunAt?.toISOString() ?? null })
          continue
        }
        // Every due time up to now: the last one is on time unless older than the misfire window.
        const times: Date[] = []
        for (let at: Date | null = t.nextRunAt!; at && at.getTime() <= now.getTime() && times.length <= 1001; at = cron.nextRun(at)) times.push(at)
        const onTime = times.length && now.getTime() - times[times.length - 1]!.getTime() <= MISFIRE_MS ? [times.pop()!] : []
        const missed = times
        const policy = c.missed ?? 'skip'
        let fire: Date[] = [...onTime]
        if (missed.length) {
          if (policy === 'catch_up') {
            const keep = missed.slice(-(c.catch_up_limit ?? 10))
            for (const m of missed.slice(0, missed.length - keep.length)) log(t, m, 'skipped', `missed (catch_up keeps the last ${c.catch_up_limit ?? 10})`)
            fire = [...keep, ...fire]
          } else if (policy === 'run_once' && onTime.length === 0) {
            for (const m of missed.slice(0, -1)) log(t, m, 'skipped', 'missed (run_once fires once for the missed runs)')
            fire = [missed[missed.length - 1]!]
          } else {
            for (const m of missed) log(t, m, 'skipped', `missed: the scheduler was not running at the time (policy ${policy})`)
          }
        }
        const row = byAutomation.get(t.automationId)
        for (const at of fire) {
          if (!row?.a.enabled) {
            log(t, at, 'skipped', 'the automation is disabled')
            continue
          }
          if (!row.live) {
            log(t, at, 'error', `automation ${row.a.slug} has no live version`)
            continue
          }
          const overlap = c.overlap ?? 'skip'
          const active = activeOf.get(t.id)
          if (active && overlap === 'skip') {
            log(t, at, 'skipped', `the previous run (${active}) has not finished (overlap: skip)`)
            continue
          }
          const id = newId()
          toStart.push({
            t,
            at,
            message: active && overlap === 'queue' ? `queued behind ${active}` : 'started',
            item: {
              a: row.a,
              v: row.live,
              input: { input: c.input ?? {}, idempotency_key: `cron:${t.id}:${at.toISOString()}` },
              origin: { triggerId: t.id, triggerType: t.type, trigger: { name: t.name, scheduled_for: at.toISOString(), overlap } },
              opts: { id, deferred: Boolean(active) && overlap === 'queue' },
            },
          })
          activeOf.set(t.id, id)
        }
        next.push({ id: t.id, next_run_at: cron.nextRun(now)?.toISOString() ?? null, last_run_at: (fire.length ? now : t.lastRunAt)?.toISOString() ?? null })
      }
      // The executions, per organisation in a few statements, then their logs.
      const byOrg = new Map<string, typeof toStart>()
      for (const s of toStart) byOrg.set(s.t.organizationId, [...(byOrg.get(s.t.organizationId) ?? []), s])
      for (const [organizationId, starts] of byOrg) {
        const started = await executionService.startMany(tx, systemContext({ organizationId }), starts.map((s) => s.item))
        starts.forEach((s, i) => log(s.t, s.at, 'fired', s.message, started[i]!.execution.id))
      }
      if (logs.length) await tx.insert(scheduleLogs).values(logs)
      await tx.execute(sql`update triggers t set next_run_at = r.next_run_at, last_run_at = r.last_run_at, updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(next)}::jsonb) as r(id uuid, next_run_at timestamptz, last_run_at timestamptz)
        where t.id = r.id`)
      return due.length
    })
  }

  /** The event consumer's handler: starts every matching event trigger's automation, in the consumer's transaction. */
  async function onEvents(batch: EventView[], tx: Executor) {
    const orgs = [...new Set(batch.map((e) => e.organization_id).filter((o): o is string => o !== null))]
    if (orgs.length === 0) return
    const candidates = await tx
      .select({ t: triggers, a: automations })
      .from(triggers)
      .innerJoin(automations, eq(automations.id, triggers.automationId))
      .where(and(eq(triggers.type, 'event'), eq(triggers.enabled, true), eq(automations.enabled, true), sql`${triggers.organizationId} = any(${`{${orgs.join(',')}}`}::uuid[])`))
    if (candidates.length === 0) return
    for (const event of batch) {
      for (const { t, a } of candidates) {
        try {
          if (!(await matches(t, event))) continue
          const ctx = systemContext({ organizationId: t.organizationId, traceId: event.trace_id })
          await startFor(tx, ctx, t, a, await extractPayload(t, event), { eventId: event.id, idempotencyKey: `event:${t.id}:${event.id}`, trigger: { event } })
        } catch (err) {
          // A filter or payload expression that fails on this event: the event is not for it.
          if (err instanceof ValidationError || (err as Error).name === 'ExpressionError') continue
          throw err
        }
      }
    }
  }

  return {
    tick,
    onEvents,

    async create(ctx: RequestContext, ref: string, input: TriggerInput) {
      const config = input.config ?? {}
      const filters = input.filters ?? {}
      const cron = check(input.type, config, filters)
      if (input.signed && input.type !== 'webhook') throw new ValidationError('only webhook triggers are signed', [{ path: '/body/signed', message: 'applies to webhook triggers only' }])
      return database.transaction(async (tx) => {
        const a = await automationService.find(tx, ctx, ref)
        const by = actorLabel(ctx.actor)
        const [t] = await tx
          .insert(triggers)
          .values({
            organizationId: orgOf(ctx),
            automationId: a.id,
            type: input.type,
            name: input.name ?? null,
            enabled: input.enabled ?? true,
            config,
            filters,
            webhookToken: input.type === 'webhook' ? randomBytes(24).toString('base64url') : null,
            secret: input.type === 'webhook' && input.signed ? `whsec_${randomBytes(32).toString('base64')}` : null,
            nextRunAt: cron ? cron.nextRun(clock()) : null,
            createdBy: by,
            modifiedBy: by,
          })
          .returning()
        await events.appendEvent(tx, ctx, { type: 'trigger.created', entityType: 'trigger', entityId: t!.id, data: { automation_id: a.id, type: t!.type } })
        return toTriggerView(t!, { showSecret: true })
      })
    },

    async get(ctx: RequestContext, id: string) {
      return toTriggerView(await find(db, ctx, id))
    },

    async list(ctx: RequestContext, f: { limit: number; cursor?: string | undefined; automation?: string | undefined; type?: TriggerType | undefined }) {
      const automationId = f.automation ? (await automationService.find(db, ctx, f.automation)).id : undefined
      const page = await listNewestFirst(db, triggers, [inOrg(triggers, ctx), automationId ? eq(triggers.automationId, automationId) : undefined, f.type ? eq(triggers.type, f.type) : undefined], f)
      return { data: page.data.map((t) => toTriggerView(t)), next_cursor: page.next_cursor }
    },

    async update(ctx: RequestContext, id: string, patch: { name?: string | null | undefined; enabled?: boolean | undefined; config?: Record<string, unknown> | undefined; filters?: Record<string, unknown> | undefined }) {
      return database.transaction(async (tx) => {
        const t = await find(tx, ctx, id, true)
        const config = patch.config ?? t.config
        const filters = patch.filters ?? t.filters
        const cron = check(t.type, config, filters)
        const enabled = patch.enabled ?? t.enabled
        const [row] = await tx
          .update(triggers)
          .set({
            ...(patch.name !== undefined ? { name: patch.name } : {}),
            enabled,
            config,
            filters,
            // A changed or re-enabled schedule counts from now: no fires for the time it was off.
            ...(cron && (patch.config || (patch.enabled && !t.enabled)) ? { nextRunAt: cron.nextRun(clock()) } : {}),
            modifiedBy: actorLabel(ctx.actor),
          })
          .where(eq(triggers.id, t.id))
          .returning()
        await events.appendEvent(tx, ctx, { type: 'trigger.updated', entityType: 'trigger', entityId: t.id, data: { changed: Object.keys(patch) } })
        return toTriggerView(row!)
      })
    },

    async remove(ctx: RequestContext, id: string) {
      await database.transaction(async (tx) => {
        const t = await find(tx, ctx, id, true)
        await tx.delete(triggers).where(eq(triggers.id, t.id))
        await events.appendEvent(tx, ctx, { type: 'trigger.deleted', entityType: 'trigger', entityId: t.id, data: { automation_id: t.automationId, type: t.type } })
      })
    },

    /** The next fire times of a cron trigger, as its schedule computes them. */
    async upcoming(ctx: RequestContext, id: string, count: number, from?: string) {
      const t = await find(db, ctx, id)
      if (t.type !== 'cron') throw new ValidationError(`trigger ${id} is a ${t.type} trigger, not a cron trigger`, [{ path: '/path/id', message: 'is not a cron trigger' }])
      const cron = cronOf(t.config, '/config')
      const out: string[] = []
      let at: Date | null = from ? new Date(from) : clock()
      while (out.length < count && (at = cron.nextRun(at))) out.push(at.toISOString())
      return { trigger_id: t.id, time_zone: (t.config as { time_zone?: string }).time_zone ?? 'UTC', data: out }
    },

    async logs(ctx: RequestContext, id: string, page: { limit: number; cursor?: string | undefined; status?: ScheduleLogStatus | undefined }) {
      const t = await find(db, ctx, id)
      const where = [eq(scheduleLogs.triggerId, t.id), page.status ? eq(scheduleLogs.status, page.status) : undefined]
      if (page.cursor) {
        const [ts, lid] = decodeCursor(page.cursor, ['timestamp', 'uuid']) as [string, string]
        where.push(sql`(${scheduleLogs.ts}, ${scheduleLogs.id}) < (${ts}::timestamptz, ${lid}::uuid)`)
      }
      const found = await db
        .select({ l: scheduleLogs, key: timestampKey(scheduleLogs.ts) })
        .from(scheduleLogs)
        .where(and(...where))
        .orderBy(sql`${scheduleLogs.ts} desc, ${scheduleLogs.id} desc`)
        .limit(page.limit + 1)
      const more = found.length > page.limit
      const data = found.slice(0, page.limit)
      return { data: data.map((r) => toLogView(r.l)), next_cursor: more ? encodeCursor([data[data.length - 1]!.key, data[data.length - 1]!.l.id]) : null }
    },

    /**
     * A webhook delivery: the trigger by its URL token, the Standard Webhooks signature checked
     * when the trigger has a secret (401, nothing started, on a bad signature or a stale
     * timestamp), then an execution with the body as input. The webhook-id header makes a
     * redelivery return the first execution.
     */
    async receive(token: string, raw: string, headers: Record<string, string | string[] | undefined>, traceId: string | undefined, claimedBy?: StartOptions['claimedBy']) {
      const hit = hooks.get(token)
      if (hit) {
        try {
          return await receiveFrom(hit, raw, headers, traceId, claimedBy)
        } catch (err) {
          // Refused (no such webhook, disabled, a signature for another secret...) or changed since it was read: once more on a fresh read.
          if (!(err instanceof NotFoundError || err instanceof UnauthorizedError || err instanceof ValidationError || isStale(err))) throw err
          hooks.delete(token)
        }
      }
      // The trigger with its automation and live version in one read (deliveries arriving together share it).
      const found = await webhookOf(token)
      if (found) hooks.set(token, found)
      return receiveFrom(found, raw, headers, traceId, claimedBy)
    },
  }

  /** A delivery to the webhook `found`: its start is one statement (startNow). */
  async function receiveFrom(found: Hook | undefined, raw: string, headers: Record<string, string | string[] | undefined>, traceId: string | undefined, claimedBy?: StartOptions['claimedBy']) {
    const t = found?.t
    if (!t || !t.enabled) throw new NotFoundError('no webhook here')
    const flat = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]))
    if (t.secret) {
      try {
        new Webhook(t.secret).verify(raw, flat)
      } catch (err) {
        if (err instanceof WebhookVerificationError) throw new UnauthorizedError(`the webhook signature does not verify: ${err.message}`)
        throw err
      }
    }
    let body: unknown = raw
    if (raw !== '' && /json/i.test(flat['content-type'] ?? '')) {
      try {
        body = JSON.parse(raw)
      } catch {
        throw new ValidationError('the body is not JSON', [{ path: '/body', message: 'is not valid JSON' }])
      }
    }
    const ctx = systemContext({ organizationId: t.organizationId, traceId })
    const a = found.a
    if (!a.enabled) throw new NotFoundError('no webhook here')
    const input = (t.config as { input?: unknown }).input ?? body
    const headersKept = Object.fromEntries(Object.entries(flat).filter(([k]) => !/authorization|cookie|signature/i.test(k)))
    const item = itemFor(t, a, found.live, input === body ? body : { ...(input as object), body }, {
      idempotencyKey: flat['webhook-id'] ? `webhook:${t.id}:${flat['webhook-id']}` : undefined,
      trigger: { headers: headersKept, body },
      claimedBy,
    })
    return executionService.startNow(ctx, { ...item, opts: { ...item.opts, unchanged: { triggerId: t.id, versionId: found.live!.id, stamp: found.stamp } } })
  }
}

export type Triggers = ReturnType<typeof createTriggers>
