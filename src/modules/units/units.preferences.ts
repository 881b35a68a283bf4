// Preferred unit systems, and the helper every module calls to present values in the caller's
// units. An organisation may prefer a system (admin), and each member may prefer their own
// (anyone who reads units: a viewer chooses how they see numbers, not what others see).
// The order `preferredSystem` falls back in: the caller's own preference, the organisation's
// (here), the system named by the organisation's settings (`unit_system`, set at sign-up to SI
// and changed with PATCH /api/v1/organization), then 'Default'.
import { and, eq, isNull } from 'drizzle-orm'
import type { RequestContext } from '../../core/context.ts'
import type { Database } from '../../core/db/database.ts'
import { isUniqueViolation } from '../../core/db/violations.ts'
import { ValidationError } from '../../core/errors.ts'
import type { EventLog } from '../../core/events/events.service.ts'
import { orgOf } from '../../core/tenancy.ts'
import { organizationSettings } from '../identity/index.ts'
import { convertValues } from './units.convert.ts'
import { unitPreferences, unitSystems, type UnitSystemRow } from './units.schema.ts'
import { toUnitSystemView, type Units } from './units.service.ts'

export interface UnitPreferencesDeps {
  database: Database
  events: EventLog
  units: Units
}

/** The system every organisation has: the catalog's Default (each quantity's base unit). */
export const FALLBACK_SYSTEM = 'Default'

/** Where the preferred system came from, most specific first. */
export type PreferenceSource = 'user' | 'organization' | 'default'

export interface PresentRequest {
  /** The unit `values` are in (id, external id, symbol or alias). */
  unit: string
  values: number[]
  /** What to present them in: a unit, or a system's default for a category (else the preferred system's). */
  as?: { unit?: string | undefined; unit_system?: string | undefined; category?: string | undefined } | undefined
}

/** The user a preference of "me" belongs to: the signed-in user, or the user an API key acts for. */
function userOf(ctx: RequestContext): string | null {
  if (ctx.credential) return ctx.credential.userId
  return ctx.actor?.type === 'user' ? ctx.actor.id : null
}

function meOf(ctx: RequestContext): string {
  const user = userOf(ctx)
  if (!user) throw new ValidationError('a personal preference needs a signed-in user or a key acting for one')
  return user
}

const whose = (ctx: RequestContext, userId: string | null) => and(eq(unitPreferences.organizationId, orgOf(ctx)), userId ? eq(unitPreferences.userId, userId) : isNull(unitPreferences.userId))

export function createUnitPreferences({ database, events, units }: UnitPreferencesDeps) {
  const db = database.db

  async function stored(ctx: RequestContext, userId: string | null): Promise<UnitSystemRow | undefined> {
    const [row] = await db.select({ system: unitSystems }).from(unitPreferences).innerJoin(unitSystems, eq(unitSystems.id, unitPreferences.unitSystemId)).where(whose(ctx, userId))
    return row?.system
  }

  /** What applies when nobody chose here: the system the organisation's settings name, else Default. */
  async function fallback(ctx: RequestContext): Promise<UnitSystemRow> {
    const named = (await organizationSettings(database.db, orgOf(ctx)))?.unit_system
    const fromSettings = named ? await units.findUnitSystem(ctx, named) : undefined
    if (fromSettings) return fromSettings
    const system = await units.findUnitSystem(ctx, FALLBACK_SYSTEM)
    if (!system) throw new Error(`the catalog has no '${FALLBACK_SYSTEM}' unit system`)
    return system
  }

  /** The caller's preferred system and where it came from. */
  async function preferred(ctx: RequestContext): Promise<{ system: UnitSystemRow; source: PreferenceSource }> {
    const user = userOf(ctx)
    const own = user ? await stored(ctx, user) : undefined
    if (own) return { system: own, source: 'user' }
    const org = await stored(ctx, null)
    if (org) return { system: org, source: 'organization' }
    const system = await fallback(ctx)
    return { system, source: system.name === FALLBACK_SYSTEM && system.organizationId === null ? 'default' : 'organization' }
  }

  async function set(ctx: RequestContext, userId: string | null, ref: string) {
    const system = await units.findUnitSystem(ctx, ref)
    if (!system) throw new ValidationError(`no unit system is named '${ref}'`, [{ path: '/body/unit_system', message: `no unit system is named '${ref}'` }])
    const organizationId = orgOf(ctx)
    const write = () =>
      database.transaction(async (tx) => {
        const [existing] = await tx.select().from(unitPreferences).where(whose(ctx, userId)).for('update')
        if (existing) await tx.update(unitPreferences).set({ unitSystemId: system.id }).where(eq(unitPreferences.id, existing.id))
        else await tx.insert(unitPreferences).values({ organizationId, userId, unitSystemId: system.id })
        await events.appendEvent(tx, ctx, {
          type: 'unit_preference.set',
          entityType: 'unit_preference',
          entityId: userId ?? organizationId,
          data: { scope: userId ? 'user' : 'organization', user_id: userId, unit_system_id: system.id, unit_system: system.name },
        })
      })
    // Two first writes at once: the loser's insert hits the unique index; it then finds the row.
    await write().catch((err: unknown) => (isUniqueViolation(err, 'unit_preferences_owner_key') ? write() : Promise.reject(err)))
    return system
  }

  async function clear(ctx: RequestContext, userId: string | null) {
    await database.transaction(async (tx) => {
      const removed = await tx.delete(unitPreferences).where(whose(ctx, userId)).returning({ unitSystemId: unitPreferences.unitSystemId })
      if (removed.length === 0) return
      await events.appendEvent(tx, ctx, {
        type: 'unit_preference.cleared',
        entityType: 'unit_preference',
        entityId: userId ?? orgOf(ctx),
        data: { scope: userId ? 'user' : 'organization', user_id: userId, unit_system_id: removed[0]!.unitSystemId },
      })
    })
  }

  const view = (s: UnitSystemRow | undefined) => (s ? toUnitSystemView(s) : null)

  /** The caller's preferred unit system: their own, else the organisation's, else Default. */
  async function preferredSystem(ctx: RequestContext) {
    const { system, source } = await preferred(ctx)
    return { ...toUnitSystemView(system), preference: source }
  }

  return {
    preferredSystem,

    /**
     * `values` (in `unit`) as the caller should see them: in `as.unit` when given, else in the
     * default unit of `as.category` (or of the category named like the unit's type) in
     * `as.unit_system` or the caller's preferred system. When that system has no default for the
     * category, the values stay in their unit. Throws ValidationError naming /unit, /as/unit,
     * /as/unit_system or /as/category.
     */
    async presentValues(ctx: RequestContext, req: PresentRequest) {
      const from = await units.resolveUnit(ctx, req.unit, 'unit')
      let to = from
      if (req.as?.unit) {
        to = await units.resolveUnit(ctx, req.as.unit, 'as/unit')
      } else if (req.as?.unit_system) {
        to = await units.targetInSystem(ctx, from, req.as.unit_system, req.as.category, '/as/unit_system', '/as/category')
      } else {
        const { system } = await preferred(ctx)
        to = (await units.systemDefault(ctx, system, from, req.as?.category, '/as/category')) ?? from
      }
      const values = to.id === from.id ? [...req.values] : convertValues(req.values, from, to)
      return { unit: { id: to.id, external_id: to.row.externalId, symbol: to.row.symbol }, values }
    },

    async getOrganization(ctx: RequestContext) {
      const own = await stored(ctx, null)
      return { unit_system: view(own), effective: toUnitSystemView(own ?? (await fallback(ctx))) }
    },
    async setOrganization(ctx: RequestContext, ref: string) {
      const system = await set(ctx, null, ref)
      return { unit_system: toUnitSystemView(system), effective: toUnitSystemView(system) }
    },

    async getMine(ctx: RequestContext) {
      const own = await stored(ctx, meOf(ctx))
      return { unit_system: view(own), effective: await preferredSystem(ctx) }
    },
    async setMine(ctx: RequestContext, ref: string) {
      const system = await set(ctx, meOf(ctx), ref)
      return { unit_system: toUnitSystemView(system), effective: { ...toUnitSystemView(system), preference: 'user' as PreferenceSource } }
    },
    async clearMine(ctx: RequestContext) {
      await clear(ctx, meOf(ctx))
    },
    /** Not routed (PUT replaces it); for the CLI and tests. */
    async clearOrganization(ctx: RequestContext) {
      await clear(ctx, null)
    },
  }
}

export type UnitPreferences = ReturnType<typeof createUnitPreferences>
