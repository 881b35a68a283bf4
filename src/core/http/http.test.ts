// What a client meets at the HTTP edge: problem+json for every kind of bad input, request ids,
// trace context, health, readiness and the OpenAPI document.
import { Type } from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'drizzle-orm'
import { Validator } from '@seriousme/openapi-schema-validator'
import { testApp, testAuthenticator, tenant } from '../../../test/app.ts'
import { createApp } from '../runtime.ts'
import { Strict, Uuid, problems } from './schemas.ts'

let t: Awaited<ReturnType<typeof testApp>>
const org = tenant()

beforeAll(async () => {
  t = await testApp({ BODY_LIMIT_BYTES: '2048' })
})
afterAll(() => t.close())

// The foundation has no JSON-body route of its own yet; this one exercises the shared
// machinery (validation, content types, body limit) exactly as module routes will.
async function withEcho() {
  const app = await createApp(t.rt, testAuthenticator)
  app.post(
    '/api/v1/echo/:id',
    {
      config: { scope: 'self' },
      schema: {
        params: Strict({ id: Uuid() }),
        body: Strict({ name: Type.String({ minLength: 1 }), count: Type.Integer({ minimum: 0 }), tags: Type.Optional(Type.Array(Type.String())) }),
        response: { 200: Type.Object({ name: Type.String(), count: Type.Integer() }), ...problems(422) },
      },
    },
    async (req) => req.body,
  )
  await app.ready()
  return app
}

const isProblem = (res: { headers: Record<string, unknown>; json(): any }, status: number) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json()
  expect(body.status).toBe(status)
  expect(typeof body.type).toBe('string')
  expect(typeof body.title).toBe('string')
  expect(typeof body.detail).toBe('string')
  expect(body.request_id).toBe(res.headers['x-request-id'])
  return body
}

describe('bad input is a 4xx problem, never a 500', () => {
  const id = '0192f1a4-7b1c-7cc3-9a55-3b8f0f6e2a11'
  let app: Awaited<ReturnType<typeof withEcho>>
  beforeAll(async () => {
    app = await withEcho()
  })
  afterAll(() => app.close())
  const post = (payload: string, headers: Record<string, string> = {}, path = `/api/v1/echo/${id}`) =>
    app.inject({ method: 'POST', url: path, payload, headers: { 'content-type': 'application/json', ...org.headers, ...headers } })

  it('accepts a valid body', async () => {
    const res = await post(JSON.stringify({ name: 'pump', count: 2 }))
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ name: 'pump', count: 2 })
  })
  it('malformed JSON: 400', async () => {
    const body = isProblem(await post('{"name": "pump", '), 400)
    expect(body.detail).toMatch(/JSON/i)
  })
  it('empty JSON body: 400', async () => {
    isProblem(await post(''), 400)
  })
  it('wrong types: 422 naming each field, no coercion of "2" into 2', async () => {
    const body = isProblem(await post(JSON.stringify({ name: 5, count: '2' })), 422)
    expect(body.errors).toEqual(
      expect.arrayContaining([
        { path: '/body/name', message: 'must be string' },
        { path: '/body/count', message: 'must be integer' },
      ]),
    )
  })
  it('missing field: 422 "is required"', async () => {
    const body = isProblem(await post(JSON.stringify({ name: 'x' })), 422)
    expect(body.errors).toEqual([{ path: '/body/count', message: 'is required' }])
  })
  it('unknown fields are rejected, not dropped', async () => {
    const body = isProblem(await post(JSON.stringify({ name: 'x', count: 1, colour: 'red' })), 422)
    expect(body.errors).toEqual([{ path: '/body/colour', message: 'is not a known field' }])
  })
  it('oversize body: 413', async () => {
    isProblem(await post(JSON.stringify({ name: 'x'.repeat(5000), count: 1 })), 413)
  })
  it('wrong content type: 415', async () => {
    isProblem(await post('name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415)
  })
  it('bad UUID in the path: 400 naming the parameter', async () => {
    const body = isProblem(await post(JSON.stringify({ name: 'x', count: 1 }), {}, '/api/v1/echo/not-a-uuid'), 400)
    expect(body.errors).toEqual([{ path: '/path/id', message: 'must match format "uuid"' }])
  })
  it('unknown route: 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: org.headers })
    expect(isProblem(res, 404).detail).toContain('/api/v1/nothing-here')
  })
  it('bad cursor and out-of-range limit: 400', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs?cursor=garbage', headers: org.headers })
    expect(isProblem(res, 400).errors).toEqual([{ path: '/query/cursor', message: 'is not a cursor this list issued' }])
    const forged = Buffer.from(JSON.stringify({ v: 1, k: [1, 2] })).toString('base64url')
    isProblem(await app.inject({ method: 'GET', url: `/api/v1/jobs?cursor=${forged}`, headers: org.headers }), 400)
    const res2 = await app.inject({ method: 'GET', url: '/api/v1/jobs?limit=1001', headers: org.headers })
    expect(isProblem(res2, 400).errors[0].path).toBe('/query/limit')
    isProblem(await app.inject({ method: 'GET', url: '/api/v1/jobs?limit=0', headers: org.headers }), 400)
  })
  it('unknown query parameters: 400', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs?colour=red', headers: org.headers })
    expect(isProblem(res, 400).errors).toEqual([{ path: '/query/colour', message: 'is not a known field' }])
  })
  it('no caller: 401', async () => {
    isProblem(await app.inject({ method: 'GET', url: '/api/v1/jobs' }), 401)
  })
  it('an unexpected error is a 500 without internals', async () => {
    const a2 = await createApp(t.rt)
    a2.get('/boom', async () => {
      throw new Error('secret connection string postgres://u:p@h')
    })
    const res = await a2.inject({ method: 'GET', url: '/boom' })
    const body = isProblem(res, 500)
    expect(JSON.stringify(body)).not.toContain('secret')
    await a2.close()
  })
})

describe('request id and trace context', () => {
  it('gives every response an x-request-id, keeping a sane incoming one', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'client-42' } })
    expect(res.headers['x-request-id']).toBe('client-42')
    const res2 = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id with spaces' } })
    expect(res2.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })
  it('continues a valid traceparent and starts a new trace otherwise', async () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { traceparent: incoming } })
    const out = String(res.headers.traceparent)
    expect(out).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
    expect(out).not.toBe(incoming)
    const res2 = await t.app.inject({ method: 'GET', url: '/healthz', headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } })
    expect(String(res2.headers.traceparent)).not.toContain('00000000000000000000000000000000')
  })
})

describe('health, readiness, metrics and OpenAPI', () => {
  it('/healthz and /readyz answer', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json().status).toBe('ready')
  })
  it('/readyz is 503 when the database is migrated by newer code', async () => {
    const t2 = await testApp()
    await t2.rt.database.db.execute(sql`insert into stratum_migrations (tag, hash, created_at) values ('9999_from_the_future', 'x', 1)`)
    const res = await t2.app.inject({ method: 'GET', url: '/readyz' })
    expect(isProblem(res, 503).detail).toMatch(/newer code/)
    await t2.close()
  })
  it('/metrics exposes request durations by route and status', async () => {
    await t.app.inject({ method: 'GET', url: '/healthz' })
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(text).toMatch(/stratum_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/)
    expect(text).toContain('stratum_jobs_finished_total')
  })
  it('/openapi.json is an OpenAPI 3.1 document covering every API route with an operationId', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    expect(doc.openapi).toBe('3.1.0')
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op })),
    )
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(['get /api/v1/events', 'get /api/v1/jobs', 'get /api/v1/jobs/{id}', 'post /api/v1/jobs/{id}/cancel', 'post /api/v1/files']),
    )
    for (const { path, method, op } of ops) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/)
      const body = op.requestBody?.content?.['application/json']?.schema
      if (body?.type === 'object') expect(body.additionalProperties, `${method} ${path} must reject unknown fields`).toBe(false)
      expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0)
    }
    const result = await new Validator().validate(doc)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })
  it('/docs serves the browsable reference', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('swagger')
  })
})

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then stops accepting', async () => {
    const app = await createApp(t.rt)
    let arrived!: () => void
    const inHandler = new Promise<void>((r) => (arrived = r))
    app.get('/slow', async () => {
      arrived()
      await new Promise((r) => setTimeout(r, 300))
      return { done: true }
    })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const inFlight = fetch(`${address}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }))
    // Close once the request is in the handler (a fixed pause lost the race on a loaded machine: 503).
    await inHandler
    const closing = app.close()
    expect(await inFlight).toEqual({ status: 200, body: { done: true } })
    await closing
    await expect(fetch(`${address}/healthz`)).rejects.toThrow()
  })
})
