// Threshold alerts (seed 001 `config.alertThresholds`, `alert.triggered`), evaluated on ingest in
// the writing transaction: a value outside [min, max] makes a (rule, series) pending, and active
// once it has stayed outside `for_seconds` (at once when 0); an active alert resolves when a value
// comes back inside by `hysteresis`. The state row per (rule, series) is locked while it moves,
// and a partial unique index allows one active alert per (rule, series): no duplicates, even
// with writers racing. Late points older than the newest evaluated one do not move the state.
import { and, desc, eq, sql } from 'drizzle-orm'
import { UUID } from '../../core/behaviours/columns.ts'
import { actorLabel, type RequestContext } from '../../core/context.ts'
import { rows, type Database, type Executor } from '../../core/db/database.ts'
import { NotFoundError, ValidationError } from '../../core/errors.ts'
import type { EventLog, NewEvent } from '../../core/events/events.service.ts'
import { decodeCursor, pageOfRows, timestampKey } from '../../core/http/pagination.ts'
import { inOrg, orgOf } from '../../core/tenancy.ts'
import type { Assets } from '../assets/index.ts'
import { convert } from '../units/index.ts'
import type { createUnits } from '../units/units.service.ts'
import type { PointBatch } from './insertPoints.ts'
import { alertRules, alerts, type AlertRuleRow, type SeriesRow } from './measurements.schema.ts'
import type { Series } from './series.service.ts'


export interface NewAlertRule {
  name: string
  series_id?: string | undefined
  object_type?: string | undefined
  property?: string | undefined
  min?: number | null | undefined
  max?: number | null | undefined
  /** The unit min and max are in; converted to the property's unit. */
  unit?: string | undefined
  for_seconds?: number | undefined
  hysteresis?: number | undefined
  severity?: 'info' | 'warning' | 'critical' | undefined
}

export const toRuleView = (r: AlertRuleRow) => ({
  id: r.id,
  name: r.name,
  series_id: r.seriesId,
  object_type_id: r.objectTypeId,
  property_id: r.propertyId,
  min: r.min,
  max: r.max,
  for_seconds: r.forSeconds,
  hysteresis: r.hysteresis,
  severity: r.severity,
  is_active: r.isActive,
  created_by: r.createdBy,
  created_at: r.createdAt.toISOString(),
})

const toAlertView = (a: typeof alerts.$inferSelect) => ({
  id: a.id,
  rule_id: a.ruleId,
  series_id: a.seriesId,
  severity: a.severity,
  triggered_at: a.triggeredAt.toISOString(),
  trigger_value: a.triggerValue,
  resolved_at: a.resolvedAt?.toISOString() ?? null,
  resolve_value: a.resolveValue,
  active: a.resolvedAt === null,
})

export function createAlerts({ database, events, assets, series, units }: { database: Database; events: EventLog; assets: Pick<Assets, 'types'>; series: Series; units: ReturnType<typeof createUnits> }) {
  const db = database.db

  return {
    async createRule(ctx: RequestContext, input: NewAlertRule) {
      let target: { seriesId: string | null; objectTypeId: string | null; propertyId: string | null; unitId: string | null }
      if (input.series_id) {
        if (input.object_type || input.property) throw new ValidationError('a rule is on one series, or on a property of a type, not both', [{ path: '/body/object_type', message: 'cannot be given with series_id' }])
        const s = (await series.resolve(db, ctx, [input.series_id])).get(input.series_id)
        if (!s) throw new ValidationError(`series ${input.series_id} is not a series of this organisation`, [{ path: '/body/series_id', message: 'is not a series of this organisation' }])
        if (s.valueType !== 'number') throw new ValidationError('thresholds apply to number series', [{ path: '/body/series_id', message: 'is a text series' }])
        target = { seriesId: s.id, objectTypeId: null, propertyId: null, unitId: s.unitId }
      } else {
        if (!input.object_type || !input.property) throw new ValidationError('name a series, or an object type and its property', [{ path: input.object_type ? '/body/property' : '/body/series_id', message: 'is required' }])
        const type = await assets.types.findType(db, ctx, input.object_type).catch((err) => {
          if (err instanceof NotFoundError) throw new ValidationError(`no object type is named ${input.object_type}`, [{ path: '/body/object_type', message: 'is not an object type of this organisation' }])
          throw err
        })
        const prop = (await assets.types.listProperties(ctx, type.id)).data.find((p) => p.id === input.property || p.name.toLowerCase() === input.property!.toLowerCase())
        if (!prop || !prop.time_varying || (prop.data_type !== 'number' && prop.data_type !== 'integer')) throw new ValidationError(`${type.name} has no time-varying numeric property ${input.property}`, [{ path: '/body/property', message: `is not a time-varying numeric property of ${type.name}` }])
        target = { seriesId: null, objectTypeId: type.id, propertyId: prop.id, unitId: prop.unit_id }
      }
      let { min, max } = input
      if (input.unit !== undefined) {
        if (!target.unitId) throw new ValidationError('the property has no unit', [{ path: '/body/unit', message: 'the property has no unit to convert to' }])
        const from = await units.resolveUnit(ctx, input.unit, 'body/unit')
        const to = await units.resolveUnit(ctx, target.unitId, 'unit')
        if (from.unitTypeId !== to.unitTypeId) throw new ValidationError(`${from.symbol} is not a unit of ${to.unitTypeName}`, [{ path: '/body/unit', message: `is a ${from.unitTypeName} unit; the property is in ${to.symbol}` }])
        if (min != null) min = convert(min, from, to, '/body/min')
        if (max != null) max = convert(max, from, to, '/body/max')
      }
      if (min == null && max == null) throw new ValidationError('a rule needs min, max or both', [{ path: '/body/min', message: 'min or max is required' }])
      if (min != null && max != null && min >= max) throw new ValidationError('min must be below max', [{ path: '/body/min', message: `must be below max (${max})` }])
      return database.transaction(async (tx) => {
        const [row] = await tx
          .insert(alertRules)
          .values({ organizationId: orgOf(ctx), name: input.name, ...target, min: min ?? null, max: max ?? null, forSeconds: input.for_seconds ?? 0, hysteresis: input.hysteresis ?? 0, severity: input.severity ?? 'warning', createdBy: actorLabel(ctx.actor) })
          .returning()
        await events.appendEvent(tx, ctx, { type: 'alert_rule.created', entityType: 'alert_rule', entityId: row!.id, data: { name: row!.name, min: row!.min, max: row!.max } })
        return toRuleView(row!)
      })
    },

    async listRules(ctx: RequestContext) {
      const found = await db.select().from(alertRules).where(inOrg(alertRules, ctx)).orderBy(desc(alertRules.createdAt), desc(alertRules.id))
      return { data: found.map(toRuleView), next_cursor: null }
    },

    async deleteRule(ctx: RequestContext, id: string) {
      if (!UUID.test(id)) throw new NotFoundError(`alert rule ${id} not found`)
      await database.transaction(async (tx) => {
        const [gone] = await tx.delete(alertRules).where(and(inOrg(alertRules, ctx), eq(alertRules.id, id))).returning()
        if (!gone) throw new NotFoundError(`alert rule ${id} not found`)
        await events.appendEvent(tx, ctx, { type: 'alert_rule.deleted', entityType: 'alert_rule', entityId: id, data: { name: gone.name } })
      })
    },

    async listAlerts(ctx: RequestContext, q: { active?: boolean | undefined; limit: number; cursor?: string | undefined }) {
      const conds = [inOrg(alerts, ctx)]
      if (q.active !== undefined) conds.push(q.active ? sql`${alerts.resolvedAt} is null` : sql`${alerts.resolvedAt} is not null`)
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']) as [string, string]
        conds.push(sql`(${alerts.triggeredAt}, ${alerts.id}) < (${ts}::timestamptz, ${id}::uuid)`)
      }
      const found = await db.select({ a: alerts, key: timestampKey(alerts.triggeredAt) }).from(alerts).where(and(...conds)).orderBy(desc(alerts.triggeredAt), desc(alerts.id)).limit(q.limit + 1)
      const page = pageOfRows(found, q.limit, (r) => [r.key, r.a.id])
      return { data: page.data.map((r) => toAlertView(r.a)), next_cursor: page.next_cursor }
    },

    /** Runs the rules of the batch's number series over its points, in the writing transaction. */
    async evaluate(tx: Executor, ctx: RequestContext, batch: PointBatch, seriesByKey: Map<number, SeriesRow>) {
      const numeric = [...seriesByKey.values()].filter((s) => s.valueType === 'number')
      if (numeric.length === 0) return
      const rules = await tx
        .select()
        .from(alertRules)
        .where(
          and(
            inOrg(alertRules, ctx),
            eq(alertRules.isActive, true),
            sql`(${alertRules.seriesId} = any(${`{${numeric.map((s) => s.id).join(',')}}`}::uuid[]) or (${alertRules.objectTypeId}, ${alertRules.propertyId}) in (select * from unnest(${`{${numeric.map((s) => s.objectTypeId).join(',')}}`}::uuid[], ${`{${numeric.map((s) => s.propertyId).join(',')}}`}::uuid[])))`,
          ),
        )
      if (rules.length === 0) return
      const out: NewEvent[] = []
      // Pairs in a fixed order, so two writers lock state rows in the same order.
      const pairs = numeric.flatMap((s) => rules.filter((r) => r.seriesId === s.id || (r.objectTypeId === s.objectTypeId && r.propertyId === s.propertyId)).map((r) => ({ r, s }))).sort((x, y) => (x.r.id + x.s.id).localeCompare(y.r.id + y.s.id))
      for (const { r, s } of pairs) {
        await tx.execute(sql`insert into alert_states (organization_id, rule_id, series_id, state, since, evaluated_ts) values (${orgOf(ctx)}, ${r.id}, ${s.id}, 'ok', 'epoch', 'epoch') on conflict do nothing`)
        const [state] = await rows<{ state: 'ok' | 'pending' | 'active'; since: Date | string; evaluated_ts: Date | string; alert_id: string | null }>(tx, sql`select state, since, evaluated_ts, alert_id from alert_states where rule_id = ${r.id} and series_id = ${s.id} for update`)
        let { state: now, alert_id: alertId } = state!
        let since = new Date(state!.since).getTime()
        let evaluated = new Date(state!.evaluated_ts).getTime()
        for (let k = 0; k < batch.series.length; k++) {
          if (batch.series[k] !== s.key || batch.ts[k]! <= evaluated) continue
          const v = batch.value[k]!
          const ts = batch.ts[k]!
          evaluated = ts
          const outside = (r.min !== null && v < r.min) || (r.max !== null && v > r.max)
          const backInside = (r.min === null || v >= r.min + r.hysteresis) && (r.max === null || v <= r.max - r.hysteresis)
          if (now === 'ok' && outside) {
            now = 'pending'
            since = ts
          } else if (now === 'pending' && !outside) {
            now = 'ok'
            since = ts
          }
          if (now === 'pending' && ts - since >= r.forSeconds * 1000) {
            now = 'active'
            const [alert] = await tx.insert(alerts).values({ organizationId: orgOf(ctx), ruleId: r.id, seriesId: s.id, severity: r.severity, triggeredAt: new Date(ts), triggerValue: v }).returning()
            alertId = alert!.id
            out.push({ type: 'alert.triggered', entityType: 'alert', entityId: alert!.id, data: { rule_id: r.id, rule: r.name, series_id: s.id, severity: r.severity, value: v, at: new Date(ts).toISOString(), min: r.min, max: r.max } })
          } else if (now === 'active' && backInside) {
            now = 'ok'
            since = ts
            if (alertId) {
              await tx.update(alerts).set({ resolvedAt: new Date(ts), resolveValue: v }).where(eq(alerts.id, alertId))
              out.push({ type: 'alert.resolved', entityType: 'alert', entityId: alertId, data: { rule_id: r.id, rule: r.name, series_id: s.id, value: v, at: new Date(ts).toISOString() } })
            }
            alertId = null
          }
        }
        await tx.execute(sql`update alert_states set state = ${now}, since = ${new Date(since).toISOString()}::timestamptz, evaluated_ts = ${new Date(evaluated).toISOString()}::timestamptz, alert_id = ${alertId} where rule_id = ${r.id} and series_id = ${s.id}`)
      }
      await events.appendEvents(tx, ctx, out)
    },
  }
}

export type Alerts = ReturnType<typeof createAlerts>
