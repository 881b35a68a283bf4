// What operators do from the command line, without the API: create a user in an organisation
// (creating the organisation when no slug matches), and act as a member to create API keys.
import { randomBytes } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import { systemContext, type RequestContext } from '../../core/context.ts'
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts'
import { uniqueSlug } from '../../core/behaviours/slug.ts'
import { ROLE_SCOPES } from '../../core/scopes.ts'
import { memberships, organizations, users, type Role } from './identity.schema.ts'
import { checkPassword, hashPassword } from './passwords.ts'
import type { Accounts } from './accounts.service.ts'
import { normaliseEmail } from './accounts.service.ts'
import { toOrganizationView, toUserView, type IdentityDeps } from './shared.ts'

export const DEMO_ORGANIZATIONS = ['Acme Research Labs', 'BioTech Innovations'] as const
export const DEMO_EMAIL = 'demo@stratum.example'

export function createOperators(deps: IdentityDeps & { accounts: Accounts }) {
  const { database } = deps

  return {
    /**
     * Creates the user (or finds them by e-mail) and makes them a member of an existing
     * organisation (`organization`: its slug) or of a new one (`newOrganization`: its name).
     * Never both: a name that happens to match another tenant's slug must not join it. Returns
     * the password when one was generated.
     */
    async createUser(input: { email: string; organization?: string | undefined; newOrganization?: string | undefined; role: Role; password?: string | undefined; username?: string | undefined }) {
      if (!input.organization === !input.newOrganization) throw new ValidationError('name an existing organisation (its slug) or a new one, not both', [{ path: '--organization', message: 'or --new-organization is required' }])
      const generated = input.password === undefined ? randomBytes(18).toString('base64url') : null
      const password = input.password ?? generated!
      checkPassword(password, '--password-stdin')
      const passwordHash = await hashPassword(password)
      return database.transaction(async (tx) => {
        const ctx = systemContext()
        const [existing] = await tx.select().from(users).where(sql`lower(${users.email}) = ${normaliseEmail(input.email)}`)
        if (existing && input.password !== undefined) throw new ConflictError(`${existing.email} already has an account; its password is not changed here (use admin reset-password)`)
        const user = existing ?? (await deps.accounts.insertUser(tx, input.email, passwordHash, input.username))
        let org: typeof organizations.$inferSelect | undefined
        if (input.organization) {
          ;[org] = await tx.select().from(organizations).where(eq(organizations.slug, input.organization.toLowerCase()))
          if (!org) throw new NotFoundError(`no organisation has the slug ${input.organization} (create one with --new-organization NAME)`)
        } else {
          const name = input.newOrganization!
          const slug = await uniqueSlug(tx, organizations, sql`true`, name, undefined, 50)
          ;[org] = await tx.insert(organizations).values({ name, slug, settings: { unit_system: 'SI', time_zone: 'UTC' } }).returning()
          await deps.events.appendEvent(tx, { ...ctx, organizationId: org!.id }, { type: 'organization.created', entityType: 'organization', entityId: org!.id, data: { name: org!.name, slug } })
        }
        const [member] = await tx.select().from(memberships).where(and(eq(memberships.organizationId, org!.id), eq(memberships.userId, user.id)))
        if (member) throw new ConflictError(`${user.email} is already a member of ${org!.slug} (role ${member.role})`)
        await tx.insert(memberships).values({ organizationId: org!.id, userId: user.id, role: input.role })
        const inOrg: RequestContext = { ...ctx, organizationId: org!.id }
        await deps.events.appendEvents(tx, inOrg, [
          ...(existing ? [] : [{ type: 'user.created', entityType: 'user', entityId: user.id, data: { email: user.email, username: user.username } }]),
          { type: 'membership.added', entityType: 'user', entityId: user.id, data: { role: input.role, via: 'cli', email: user.email, username: user.username } },
        ])
        return { user: toUserView(user), organization: toOrganizationView(org!), role: input.role, created: !existing, password: existing ? null : generated }
      })
    },

    /**
     * The demo organisations of seed 001 (Acme Research Labs, BioTech Innovations) with one
     * owner of both, `demo@stratum.example`, whose generated password is returned once, on the
     * run that creates the account. Organisations that exist (by name) are left alone.
     */
    async seedDemo(): Promise<{ created: number; notes: string[] }> {
      const notes: string[] = []
      let created = 0
      for (const name of DEMO_ORGANIZATIONS) {
        const [exists] = await database.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, name))
        if (exists) continue
        const made = await this.createUser({ email: DEMO_EMAIL, newOrganization: name, role: 'owner', username: 'demo' })
        created += made.created ? 2 : 1
        if (made.password) notes.push(`sign in as ${DEMO_EMAIL} with password ${made.password} (change it: stratum admin reset-password ${DEMO_EMAIL})`)
      }
      return { created, notes }
    },

    /** The id of the organisation with this slug or id (for operator commands acting as Stratum in it). */
    async organizationId(slugOrId: string): Promise<string> {
      const wanted = slugOrId.toLowerCase()
      const [org] = await database.db
        .select({ id: organizations.id })
        .from(organizations)
        .where(sql`${organizations.slug} = ${wanted} or ${organizations.id}::text = ${wanted}`)
      if (!org) throw new NotFoundError(`no organisation "${slugOrId}" (give its slug or id)`)
      return org.id
    },

    /** The context of a member acting through the CLI: their identity and their role's scopes. */
    async actAs(email: string, organization: string): Promise<RequestContext> {
      const [found] = await database.db
        .select({ userId: users.id, organizationId: organizations.id, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
        .where(and(sql`lower(${users.email}) = ${normaliseEmail(email)}`, sql`(${organizations.slug} = ${organization.toLowerCase()} or ${organizations.id}::text = ${organization.toLowerCase()})`))
      if (!found) throw new NotFoundError(`${email} is not a member of an organisation "${organization}"`)
      return {
        ...systemContext(),
        actor: { type: 'user', id: found.userId },
        organizationId: found.organizationId,
        credential: { kind: 'session', id: found.userId, userId: found.userId, deviceId: null, scopes: ROLE_SCOPES[found.role] },
      }
    },
  }
}
