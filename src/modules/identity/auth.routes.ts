// /auth and /me: sign-up, log-in, log-out, sessions, login history, password, second factor,
// invitations accepted. Each route is a schema and one service call.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { pageOf, pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import type { Accounts } from './accounts.service.ts'
import type { Organizations } from './organizations.service.ts'
import type { createTwoFactor } from './twoFactor.service.ts'
import { PASSWORD_MAX } from './passwords.ts'
import { ROLES } from './identity.schema.ts'
import type { Client } from './shared.ts'

export const UserSchema = Type.Object({
  id: Uuid(),
  email: Type.String(),
  username: Type.String(),
  is_active: Type.Boolean(),
  totp_enabled: Type.Boolean(),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

export const OrganizationSchema = Type.Object({
  id: Uuid(),
  name: Type.String(),
  slug: Type.String(),
  settings: Type.Object({ unit_system: Type.String(), time_zone: Type.String() }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
})

const Email = Type.String({ format: 'email', maxLength: 320 })
const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX, description: `at most ${PASSWORD_MAX} characters` })
const NewPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX, description: `8 to ${PASSWORD_MAX} characters (the service names the field when it is shorter)` })
const Code = Type.String({ pattern: '^[0-9]{6}$', description: 'The 6-digit code the authenticator app shows now' })
const SessionAnswer = Type.Object({ token: Type.String({ description: 'Bearer token; shown only here' }), expires_at: Timestamp() })
const SignedUp = Type.Object({ token: Type.String(), expires_at: Timestamp(), user: UserSchema, organization: OrganizationSchema })

const SessionSchema = Type.Object({
  id: Uuid(),
  current: Type.Boolean(),
  ip_address: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  device_type: Nullable(Type.String()),
  browser: Nullable(Type.String()),
  location: Nullable(Type.String()),
  created_at: Timestamp(),
  last_active: Timestamp(),
  expires_at: Timestamp(),
  is_active: Type.Boolean(),
  logged_out_at: Nullable(Timestamp()),
})

const LoginSchema = Type.Object({
  id: Uuid(),
  timestamp: Timestamp(),
  success: Type.Boolean(),
  failure_reason: Nullable(Type.String()),
  login_method: Type.String(),
  ip_address: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  location: Nullable(Type.String()),
})

export const clientOf = (req: FastifyRequest): Client => ({ ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null })

const tags = ['auth']

export const authRoutes: FastifyPluginAsyncTypebox<{ accounts: Accounts; organizations: Organizations; twoFactor: ReturnType<typeof createTwoFactor> }> = async (app, { accounts, organizations, twoFactor }) => {
  app.post(
    '/auth/signup',
    {
      config: { public: true },
      schema: {
        operationId: 'signup',
        tags,
        summary: 'Create an organisation and its owner; answers with a session',
        body: Strict({ organization_name: Type.String({ minLength: 1, maxLength: 200 }), email: Email, password: Password, username: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{2,40}$' })) }),
        response: { 201: SignedUp, ...problems(403, 409, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await accounts.signup(req.ctx, req.body, clientOf(req))),
  )
  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        operationId: 'login',
        tags,
        summary: 'Sign in with e-mail and password (and a TOTP or backup code when two-factor is on)',
        body: Strict({ email: Type.String({ minLength: 1, maxLength: 320 }), password: Password, totp_code: Type.Optional(Code), backup_code: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })) }),
        response: { 200: SessionAnswer, ...problems(422, 429) },
      },
    },
    (req) => accounts.login(req.ctx, req.body, clientOf(req)),
  )
  app.post(
    '/auth/logout',
    { config: { scope: 'account' }, schema: { operationId: 'logout', tags, summary: 'End the session this request is made with', response: { 204: Type.Null(), ...problems() } } },
    async (req, reply) => {
      await accounts.logout(req.ctx)
      return reply.code(204).send(null)
    },
  )
  app.post(
    '/auth/password',
    {
      config: { scope: 'account' },
      schema: {
        operationId: 'changePassword',
        tags,
        summary: 'Change my password (ends my other sessions)',
        body: Strict({ current_password: Password, new_password: NewPassword }),
        response: { 204: Type.Null(), ...problems(422, 429) },
      },
    },
    async (req, reply) => {
      await accounts.changePassword(req.ctx, req.body)
      return reply.code(204).send(null)
    },
  )
  app.post(
    '/auth/password-reset',
    {
      config: { public: true },
      schema: {
        operationId: 'resetPassword',
        tags,
        summary: 'Set a new password with a single-use reset token (from `stratum admin reset-password`); ends every session',
        body: Strict({ token: Type.String({ minLength: 1, maxLength: 200 }), new_password: NewPassword }),
        response: { 204: Type.Null(), ...problems(422) },
      },
    },
    async (req, reply) => {
      await accounts.resetPassword(req.ctx, req.body)
      return reply.code(204).send(null)
    },
  )
  app.post(
    '/auth/accept-invitation',
    {
      config: { public: true },
      schema: {
        operationId: 'acceptInvitation',
        tags,
        summary: 'Join an organisation with an invitation token: creates the account, or links the existing one (signing in to it: password, and a code when two-factor is on)',
        body: Strict({
          token: Type.String({ minLength: 1, maxLength: 200 }),
          password: Password,
          username: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{2,40}$' })),
          totp_code: Type.Optional(Code),
          backup_code: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
        }),
        response: { 200: SignedUp, ...problems(409, 422, 429) },
      },
    },
    (req) => organizations.accept(req.ctx, req.body, clientOf(req)),
  )
  app.get(
    '/me',
    {
      config: { scope: 'self' },
      schema: {
        operationId: 'me',
        tags,
        summary: 'Who I am, my organisations and roles, and what this credential may do',
        response: {
          200: Type.Object({
            user: Nullable(UserSchema),
            organizations: Type.Array(Type.Object({ ...OrganizationSchema.properties, role: StringEnum(ROLES) })),
            organization_id: Nullable(Uuid('The organisation this request acts in')),
            credential: Type.Object({ kind: StringEnum(['session', 'api_key'] as const), id: Uuid(), scopes: Type.Array(Type.String()), device_id: Nullable(Uuid()) }),
          }),
          ...problems(),
        },
      },
    },
    (req) => accounts.me(req.ctx),
  )
  app.get(
    '/auth/sessions',
    {
      config: { scope: 'account' },
      schema: { operationId: 'listSessions', tags, summary: 'My sessions, newest first', querystring: Strict(pageQuery), response: { 200: pageOf(SessionSchema), ...problems() } },
    },
    (req) => accounts.listSessions(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.delete(
    '/auth/sessions/:id',
    {
      config: { scope: 'account' },
      schema: { operationId: 'revokeSession', tags, summary: 'End one of my sessions', params: IdParams, response: { 204: Type.Null(), ...problems(404) } },
    },
    async (req, reply) => {
      await accounts.revokeSession(req.ctx, req.params.id)
      return reply.code(204).send(null)
    },
  )
  app.get(
    '/auth/login-history',
    {
      config: { scope: 'account' },
      schema: { operationId: 'listLoginHistory', tags, summary: 'Sign-in attempts on my account, newest first', querystring: Strict(pageQuery), response: { 200: pageOf(LoginSchema), ...problems() } },
    },
    (req) => accounts.listLoginHistory(req.ctx, { ...req.query, limit: req.query.limit ?? 100 }),
  )
  app.get(
    '/auth/totp',
    {
      config: { scope: 'account' },
      schema: { operationId: 'totpStatus', tags, summary: 'Whether two-factor is on, and how many backup codes are left', response: { 200: Type.Object({ enabled: Type.Boolean(), backup_codes_left: Type.Integer() }), ...problems() } },
    },
    (req) => twoFactor.status(req.ctx),
  )
  app.post(
    '/auth/totp/enroll',
    {
      config: { scope: 'account' },
      schema: {
        operationId: 'enrollTotp',
        tags,
        summary: 'Start two-factor enrolment: a new secret, its otpauth:// URI and a QR code (SVG)',
        response: { 200: Type.Object({ secret: Type.String(), otpauth_uri: Type.String(), qr_svg: Type.String() }), ...problems(409) },
      },
    },
    (req) => twoFactor.enroll(req.ctx),
  )
  const BackupCodes = Type.Object({ backup_codes: Type.Array(Type.String(), { description: 'Shown only here; each works once' }) })
  app.post(
    '/auth/totp/confirm',
    {
      config: { scope: 'account' },
      schema: { operationId: 'confirmTotp', tags, summary: 'Turn two-factor on with a current code; answers with 10 backup codes', body: Strict({ code: Code }), response: { 200: BackupCodes, ...problems(409, 422) } },
    },
    (req) => twoFactor.confirm(req.ctx, req.body.code),
  )
  app.post(
    '/auth/totp/backup-codes',
    {
      config: { scope: 'account' },
      schema: { operationId: 'regenerateBackupCodes', tags, summary: 'Replace my backup codes (needs a current code)', body: Strict({ code: Code }), response: { 200: BackupCodes, ...problems(409, 422) } },
    },
    (req) => twoFactor.regenerateBackupCodes(req.ctx, req.body.code),
  )
  app.post(
    '/auth/totp/disable',
    {
      config: { scope: 'account' },
      schema: { operationId: 'disableTotp', tags, summary: 'Turn two-factor off (needs a current code)', body: Strict({ code: Code }), response: { 204: Type.Null(), ...problems(409, 422) } },
    },
    async (req, reply) => {
      await twoFactor.disable(req.ctx, req.body.code)
      return reply.code(204).send(null)
    },
  )
}
