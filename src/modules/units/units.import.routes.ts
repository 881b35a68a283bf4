// POST /units/imports: merge a Cognite or Energistics catalog into the caller's organisation's units.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { StringEnum, Strict, Uuid, problems } from '../../core/http/schemas.ts'
import { IMPORT_FORMATS, type UnitImports } from './units.import.ts'

const ImportBody = Strict({
  format: StringEnum(IMPORT_FORMATS, { description: 'cognite: an array of units {externalId, quantity, symbol, conversion {multiplier, offset}}; energistics: {quantities: [{name, units}], units: [{name, symbol, a, b, c, d}]}' }),
  catalog: Type.Unknown({ description: 'The catalog file, as JSON' }),
})

const ImportReportSchema = Type.Object({
  id: Uuid('The import, as the units.imported event names it'),
  format: StringEnum(IMPORT_FORMATS),
  added: Type.Integer({ description: 'Units added to the organisation' }),
  matched: Type.Integer({ description: 'Units already there: same symbol, same conversion' }),
  types_added: Type.Integer({ description: 'Unit types (quantities) added to the organisation' }),
  skipped: Type.Array(Type.Object({ symbol: Type.String(), quantity: Type.String(), reason: Type.String() })),
})

export const unitImportRoutes: FastifyPluginAsyncTypebox<{ imports: UnitImports }> = async (app, { imports }) => {
  app.post(
    '/units/imports',
    {
      config: { scope: 'units:write' },
      // The Energistics dictionary is about 400 KB; room for larger catalogs.
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        operationId: 'importUnits',
        tags: ['units'],
        summary: "Merge a unit catalog into your organisation's units (all or nothing)",
        description:
          'Quantities match existing unit types by name (ignoring case, and a few Energistics/Cognite synonyms); units match by symbol and equal conversion. New units and types are added to your organisation; the global catalog is never changed. A file that is not a catalog is a 422 and nothing is written.',
        body: ImportBody,
        response: { 200: ImportReportSchema, ...problems(403, 422) },
      },
    },
    (req) => imports.importCatalog(req.ctx, req.body.format, req.body.catalog),
  )
}
