// Scenario data: its facts, and the comparison of scenarios (JSON, or CSV with Accept: text/csv).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pageQuery } from '../../core/http/pagination.ts'
import { IdParams, Nullable, Strict, StringEnum, Timestamp, Uuid, problems } from '../../core/http/schemas.ts'
import { FactSchema } from '../measurements/measurements.routes.ts'
import { comparisonCsv, type ScenarioData } from './scenarioData.ts'

const tags = ['scenarios']
const Value = Type.Union([Type.Number(), Type.String(), Type.Null()])
const Num = Nullable(Type.Number())
const Diff = Nullable(Type.Object({ absolute: Num, relative: Nullable(Type.Number({ description: '(value - baseline) / |baseline|' })) }))
const SeriesRef = Strict({
  object_type: Type.Optional(Type.String({ maxLength: 100 })),
  object_instance: Type.String({ minLength: 1, maxLength: 200 }),
  object_type_property: Type.String({ minLength: 1, maxLength: 100 }),
  data_source: Type.Optional(Type.String({ maxLength: 200, description: 'Needed when a scenario links components of several data sources that carry this series' })),
})
const CompareBody = Strict({
  scenario_ids: Type.Array(Type.String({ maxLength: 100 }), { minItems: 2, maxItems: 10, description: 'The first is the baseline of the differences' }),
  series: Type.Array(SeriesRef, { minItems: 1, maxItems: 50 }),
  start: Type.Optional(Type.String({ maxLength: 40, description: "Default: each scenario's period start" })),
  end: Type.Optional(Type.String({ maxLength: 40, description: "Default: each scenario's period end" })),
  granularity: Type.Optional(Type.String({ maxLength: 10, description: 'Buckets as in /datapoints/query; absent: the points themselves, side by side by time' })),
  aggregate: Type.Optional(StringEnum(['avg', 'min', 'max', 'sum', 'count', 'first', 'last'] as const, { default: 'avg' })),
  unit: Type.Optional(Type.String({ maxLength: 200 })),
  unit_system: Type.Optional(Type.String({ maxLength: 200 })),
  time_zone: Type.Optional(Type.String({ maxLength: 64 })),
})
const Totals = { count: Type.Integer(), sum: Num, avg: Num, min: Num, max: Num }
const Comparison = Type.Object({
  baseline: Uuid(),
  scenarios: Type.Array(Type.Object({ id: Uuid(), name: Type.String(), status: Type.String(), start: Timestamp(), end: Timestamp() })),
  granularity: Nullable(Type.String()),
  aggregate: Nullable(Type.String()),
  series: Type.Array(
    Type.Object({
      object_type: Type.String(),
      object_instance: Type.String(),
      object_type_property: Type.String(),
      sub_data_source: Nullable(Type.String()),
      unit: Nullable(Type.String()),
      sources: Type.Array(Type.Object({ scenario_id: Uuid(), series_id: Nullable(Uuid()), component: Nullable(Type.String()), data_source: Nullable(Type.String()) })),
      rows: Type.Array(Type.Object({ timestamp: Timestamp(), values: Type.Array(Value), differences: Type.Array(Diff) })),
      summary: Type.Array(Type.Object({ scenario_id: Uuid(), ...Totals, differences: Nullable(Type.Object({ avg: Diff, sum: Diff, min: Diff, max: Diff })) })),
    }),
  ),
})

export const scenarioDataRoutes: FastifyPluginAsyncTypebox<{ data: ScenarioData }> = async (app, { data }) => {
  app.get(
    '/scenarios/:id/facts',
    {
      config: { scope: 'scenarios:read' },
      schema: {
        operationId: 'listScenarioFacts',
        tags,
        summary: "The scenario's facts: values of the components it links, within its period, by series then time",
        params: IdParams,
        querystring: Strict({
          ...pageQuery,
          object_instance: Type.Optional(Type.String({ maxLength: 200 })),
          object_type_property: Type.Optional(Type.String({ maxLength: 100 })),
          data_source: Type.Optional(Type.String({ maxLength: 200 })),
          from: Type.Optional(Type.String({ maxLength: 40 })),
          to: Type.Optional(Type.String({ maxLength: 40 })),
        }),
        response: { 200: Type.Object({ scenario_id: Uuid(), data: Type.Array(FactSchema), next_cursor: Nullable(Type.String()) }), ...problems(404) },
      },
    },
    (req) => data.facts(req.ctx, req.params.id, { ...req.query, limit: req.query.limit ?? 1000 }),
  )
  app.post(
    '/scenarios/compare',
    {
      config: { scope: 'scenarios:read' },
      schema: {
        operationId: 'compareScenarios',
        tags,
        summary: 'Scenarios side by side: values per bucket (or point) of each, differences from the first, totals; CSV with Accept: text/csv',
        description: "Each series is named as facts name it and found among the components each scenario links, within that scenario's period.",
        body: { ...CompareBody, examples: [{ scenario_ids: ['0190a000-0000-7000-8000-0000000000a1', '0190a000-0000-7000-8000-0000000000a2'], series: [{ object_instance: 'Well-12', object_type_property: 'oil_rate', data_source: 'Forecast' }], granularity: '1mo', aggregate: 'avg', unit: 'bbl/d' }] },
        response: { 200: Comparison, ...problems(422) },
      },
    },
    async (req, reply) => {
      const result = await data.compare(req.ctx, req.body)
      if (!/text\/csv/.test(req.headers.accept ?? '')) return result
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="comparison.csv"').serializer((x: unknown) => x as string).send(comparisonCsv(result) as never)
    },
  )
}
