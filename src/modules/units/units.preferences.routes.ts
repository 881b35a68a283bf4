// /unit-preferences/organization and /unit-preferences/me: the preferred unit system of the
// caller's organisation (admins set it) and of the caller (anyone who reads units sets their own).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Nullable, StringEnum, Strict, problems } from '../../core/http/schemas.ts'
import type { UnitPreferences } from './units.preferences.ts'
import { UnitSystemSchema } from './units.routes.ts'

const tags = ['units']
const PreferenceBody = Strict({ unit_system: Type.String({ minLength: 1, maxLength: 200, description: 'A unit system by id or name (`Oil Field`), the catalog\'s or your organisation\'s' }) })
const OrganizationPreference = Type.Object({
  unit_system: Nullable(UnitSystemSchema),
  effective: UnitSystemSchema,
})
const MyPreference = Type.Object({
  unit_system: Nullable(UnitSystemSchema),
  effective: Type.Object({ ...UnitSystemSchema.properties, preference: StringEnum(['user', 'organization', 'default'] as const, { description: 'Where the effective system comes from' }) }),
})

export const unitPreferenceRoutes: FastifyPluginAsyncTypebox<{ preferences: UnitPreferences }> = async (app, { preferences }) => {
  app.get(
    '/unit-preferences/organization',
    {
      config: { scope: 'units:read' },
      schema: { operationId: 'getOrganizationUnitPreference', tags, summary: "The organisation's preferred unit system (null: none; effective: Default)", response: { 200: OrganizationPreference, ...problems() } },
    },
    (req) => preferences.getOrganization(req.ctx),
  )
  app.put(
    '/unit-preferences/organization',
    {
      config: { scope: 'admin' },
      schema: { operationId: 'setOrganizationUnitPreference', tags, summary: "Set the organisation's preferred unit system", body: { ...PreferenceBody, examples: [{ unit_system: 'Oil Field' }] }, response: { 200: OrganizationPreference, ...problems(422) } },
    },
    (req) => preferences.setOrganization(req.ctx, req.body.unit_system),
  )
  app.get(
    '/unit-preferences/me',
    {
      config: { scope: 'units:read' },
      schema: {
        operationId: 'getMyUnitPreference',
        tags,
        summary: 'Your preferred unit system (null: none) and the one in effect (yours, else the organisation\'s, else Default)',
        response: { 200: MyPreference, ...problems(422) },
      },
    },
    (req) => preferences.getMine(req.ctx),
  )
  app.put(
    '/unit-preferences/me',
    {
      config: { scope: 'units:read' },
      schema: { operationId: 'setMyUnitPreference', tags, summary: 'Set your preferred unit system in this organisation', body: { ...PreferenceBody, examples: [{ unit_system: 'SI' }] }, response: { 200: MyPreference, ...problems(422) } },
    },
    (req) => preferences.setMine(req.ctx, req.body.unit_system),
  )
  app.delete(
    '/unit-preferences/me',
    { config: { scope: 'units:read' }, schema: { operationId: 'clearMyUnitPreference', tags, summary: "Clear your preference: the organisation's applies again", response: { 204: Type.Null(), ...problems(422) } } },
    async (req, reply) => reply.code(204).send(await preferences.clearMine(req.ctx).then(() => null)),
  )
}
