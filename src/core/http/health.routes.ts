import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'drizzle-orm'
import { Type } from 'typebox'
import type { Database } from '../db/database.ts'
import { pendingMigrations, readMigrations } from '../db/migrate.ts'
import { consumerLag } from '../events/consumeEvents.ts'
import type { Metrics } from '../observability/metrics.ts'
import { NotReadyError } from '../errors.ts'
import { ProblemSchema } from './problem.ts'

export const healthRoutes: FastifyPluginAsync<{ database: Database; metrics: Metrics }> = async (app, { database, metrics }) => {
  const known = readMigrations()
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['system'],
        summary: 'The process is up',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['system'],
        summary: 'The database answers and its migrations are current',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String(), migrations: Type.Integer() }), 503: ProblemSchema },
      },
    },
    async () => {
      let pending: string[]
      try {
        await database.db.execute(sql`select 1`)
        pending = await pendingMigrations(database, undefined, known)
      } catch (err) {
        throw new NotReadyError(`database not reachable or not usable: ${(err as Error).message}`)
      }
      if (pending.length > 0) throw new NotReadyError(`${pending.length} migration(s) not applied: ${pending.join(', ')}`)
      return { status: 'ready' as const, database: database.kind, migrations: known.length }
    },
  )
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    try {
      metrics.consumerLag.reset()
      for (const c of await consumerLag(database.db)) metrics.consumerLag.set({ consumer: c.name }, c.lag)
    } catch {
      // metrics stay up while the database is down; lag is then absent
    }
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
