// Tenant isolation, probed on every API route in the OpenAPI document: another organisation
// never reads, lists or acts on a row it does not own, and no route answers without a caller.
// New modules are covered by adding their resources to `seedOrganisation`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enqueueJob } from '../src/core/jobs/jobs.service.ts'
import { testApp, tenant } from './app.ts'

let t: Awaited<ReturnType<typeof testApp>>
const a = tenant()
const b = tenant()
const ownedByA: string[] = []

interface Operation {
  method: string
  path: string
}

async function seedOrganisation() {
  const job = await t.rt.database.transaction((tx) => enqueueJob(tx, a.ctx, { type: 'test.isolation' }))
  const running = await t.rt.database.transaction((tx) => enqueueJob(tx, a.ctx, { type: 'test.isolation.cancel' }))
  await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${running.id}/cancel`, headers: a.headers })
  const file = (await t.app.inject({ method: 'POST', url: '/api/v1/files?name=a.txt', payload: 'owned by a', headers: { ...a.headers, 'content-type': 'text/plain' } })).json()
  ownedByA.push(job.id, running.id, file.id)
}

let operations: Operation[] = []

beforeAll(async () => {
  t = await testApp()
  await seedOrganisation()
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> }
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/'))
    .flatMap(([path, item]) => Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })))
})
afterAll(() => t.close())

const fill = (path: string, id: string) => path.replace(/\{[^}]+\}/g, id)
const inject = (op: Operation, url: string, headers: Record<string, string>) =>
  t.app.inject({
    method: op.method as 'GET',
    url,
    headers: { ...headers, ...(op.method === 'GET' ? {} : { 'content-type': 'application/json' }) },
    ...(op.method === 'GET' ? {} : { payload: '{}' }),
  })

describe('tenant isolation on every route', () => {
  it('finds the API routes to probe', () => {
    expect(operations.length).toBeGreaterThanOrEqual(7)
  })

  it('answers 401 to a request without a caller, on every route', async () => {
    for (const op of operations) {
      const res = await inject(op, fill(op.path, ownedByA[0]!), {})
      expect(res.statusCode, `${op.method} ${op.path}`).toBe(401)
    }
  })

  it("never lets organisation B reach organisation A's rows by id", async () => {
    let reachableByA = 0
    for (const op of operations.filter((o) => o.path.includes('{'))) {
      for (const id of ownedByA) {
        const res = await inject(op, fill(op.path, id), b.headers)
        expect(res.statusCode, `${op.method} ${op.path} as B`).toBeGreaterThanOrEqual(400)
        expect(res.body, `${op.method} ${op.path} as B`).not.toContain('owned by a')
        if (op.method === 'GET' && (await inject(op, fill(op.path, id), a.headers)).statusCode === 200) reachableByA++
      }
    }
    expect(reachableByA).toBeGreaterThan(0) // the probe used ids that do exist
  })

  it("never shows organisation A's rows in organisation B's lists", async () => {
    const lists = operations.filter((o) => o.method === 'GET' && !o.path.includes('{'))
    expect(lists.length).toBeGreaterThan(0)
    for (const op of lists) {
      const asB = await inject(op, `${op.path}?limit=1000`, b.headers)
      expect(asB.statusCode, `${op.method} ${op.path}`).toBe(200)
      for (const id of ownedByA) expect(asB.body, `${op.method} ${op.path} leaks ${id}`).not.toContain(id)
      expect(asB.body).not.toContain(a.organizationId)
    }
  })
})
