// /organization, /members, /invitations: the organisation a request acts in and who belongs to it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { ROLES } from './identity.schema.ts'
import type { Organizations } from './organizations.service.ts'
import { OrganizationSchema } from './auth.routes.ts'

const Role = StringEnum(ROLES)
const MemberSchema = Type.Object({ user_id: Uuid(), email: Type.String(), username: Type.String(), role: Role, is_active: Type.Boolean(), joined_at: Timestamp() })
const InvitationSchema = Type.Object({
  id: Uuid(),
  organization_id: Uuid(),
  email: Type.String(),
  role: Role,
  status: StringEnum(['pending', 'accepted', 'revoked', 'expired'] as const),
  invited_by: Nullable(Uuid()),
  expires_at: Timestamp(),
  accepted_at: Nullable(Timestamp()),
  created_at: Timestamp(),
})
const UserIdParams = Strict({ user_id: Uuid() })

export const organizationRoutes: FastifyPluginAsyncTypebox<{ organizations: Organizations }> = async (app, { organizations }) => {
  app.get(
    '/organization',
    { config: { scope: 'organization:read' }, schema: { operationId: 'getOrganization', tags: ['organization'], summary: 'The organisation this request acts in', response: { 200: OrganizationSchema, ...problems() } } },
    (req) => organizations.get(req.ctx),
  )
  app.patch(
    '/organization',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'updateOrganization',
        tags: ['organization'],
        summary: "Rename the organisation or change its settings (unit system, time zone)",
        body: Strict({
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          settings: Type.Optional(Strict({ unit_system: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })), time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) })),
        }),
        response: { 200: OrganizationSchema, ...problems(403, 422) },
      },
    },
    (req) => organizations.update(req.ctx, req.body),
  )
  app.get(
    '/members',
    { config: { scope: 'organization:read' }, schema: { operationId: 'listMembers', tags: ['organization'], summary: "The organisation's members and their roles", response: { 200: pageOf(MemberSchema), ...problems() } } },
    (req) => organizations.listMembers(req.ctx),
  )
  app.get(
    '/members/:user_id',
    { config: { scope: 'organization:read' }, schema: { operationId: 'getMember', tags: ['organization'], summary: 'One member', params: UserIdParams, response: { 200: MemberSchema, ...problems(404) } } },
    (req) => organizations.getMember(req.ctx, req.params.user_id),
  )
  app.patch(
    '/members/:user_id',
    {
      config: { scope: 'admin' },
      schema: { operationId: 'changeMemberRole', tags: ['organization'], summary: "Change a member's role (owner role: owners only)", params: UserIdParams, body: Strict({ role: Role }), response: { 200: MemberSchema, ...problems(403, 404, 409) } },
    },
    (req) => organizations.changeRole(req.ctx, req.params.user_id, req.body.role),
  )
  app.delete(
    '/members/:user_id',
    { config: { scope: 'admin' }, schema: { operationId: 'removeMember', tags: ['organization'], summary: 'Remove a member from the organisation', params: UserIdParams, response: { 204: Type.Null(), ...problems(403, 404, 409) } } },
    async (req, reply) => {
      await organizations.removeMember(req.ctx, req.params.user_id)
      return reply.code(204).send(null)
    },
  )
  app.post(
    '/invitations',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'createInvitation',
        tags: ['organization'],
        summary: 'Invite an e-mail with a role; the answer carries the token to accept it (shown once)',
        body: Strict({ email: Type.String({ format: 'email', maxLength: 320 }), role: Role }),
        response: { 201: Type.Object({ ...InvitationSchema.properties, token: Type.String() }), ...problems(403, 409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await organizations.invite(req.ctx, req.body)),
  )
  app.get(
    '/invitations',
    { config: { scope: 'admin' }, schema: { operationId: 'listInvitations', tags: ['organization'], summary: 'Invitations, newest first', querystring: Strict(pageQuery), response: { 200: pageOf(InvitationSchema), ...problems() } } },
    (req) => organizations.listInvitations(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/invitations/:id',
    { config: { scope: 'admin' }, schema: { operationId: 'getInvitation', tags: ['organization'], summary: 'One invitation', params: IdParams, response: { 200: InvitationSchema, ...problems(404) } } },
    (req) => organizations.getInvitation(req.ctx, req.params.id),
  )
  app.delete(
    '/invitations/:id',
    { config: { scope: 'admin' }, schema: { operationId: 'revokeInvitation', tags: ['organization'], summary: 'Revoke a pending invitation', params: IdParams, response: { 200: InvitationSchema, ...problems(404, 409) } } },
    (req) => organizations.revokeInvitation(req.ctx, req.params.id),
  )
}
