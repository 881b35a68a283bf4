// Notebook workflows (seed 000) through the HTTP API with a real worker and a real python3: a
// notebook on a component (one per component), its .py and .ipynb exports (the .ipynb valid by
// the nbformat 4 JSON Schema), saving a new version, import of an .ipynb, runs with stdout and
// stderr per cell, a failing cell, a cron schedule with its logs and runs, and python steps when
// the server has them off.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, tenant, type Tenant } from '../../../test/app.ts'
import { createWorker, type Worker } from '../../core/jobs/worker.ts'
import { allJobHandlers } from '../../core/runtime.ts'
import { validateIpynb } from './notebook.ts'

type Json = Record<string, any>
const hasPython = spawnSync('python3', ['--version']).status === 0

let t: Awaited<ReturnType<typeof testApp>>
let off: Awaited<ReturnType<typeof testApp>>
let worker: Worker
let me: Tenant

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, app = t) {
  const res = await app.app.inject({ method, url: `/api/v1${url}`, headers: me.headers, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: (res.body && /json/.test(String(res.headers['content-type'])) ? res.json() : res.body) as any, headers: res.headers }
}
function ok(res: { status: number; body: any }, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  return res.body
}
async function until(id: string, statuses: string[], seconds = 30) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const e = ok(await api('GET', `/executions/${id}`))
    if (statuses.includes(e.status) || Date.now() > deadline) return e
    await new Promise((r) => setTimeout(r, 25))
  }
}
const task = (name: string) => t.rt.modules.find((m) => m.name === 'automation')!.background!.find((b) => b.name === name)!

let components: Json[] = []
const cells = [
  { id: 'intro', cell_type: 'markdown', source: '# Water cut\nDoubles the input.' },
  { id: 'load', cell_type: 'code', source: "n = context['input'].get('n', 21)\nprint('n is', n)" },
  { id: 'calc', cell_type: 'code', source: "output = {'doubled': n * 2}\nprint(output['doubled'])" },
]

beforeAll(async () => {
  t = await testApp({ PYTHON_STEPS: 'true' })
  off = await testApp()
  worker = createWorker({ database: t.rt.database, handlers: allJobHandlers(t.rt), events: t.rt.events, log: t.rt.log, metrics: t.rt.metrics, concurrency: 2, leaseMs: 60_000, pollMs: 20 })
  await worker.start()
  me = tenant()
  const source = ok(await api('POST', '/data-sources', { name: 'Models', type: 'PROCESS' }), 201)
  components = []
  for (const name of ['Water cut model', 'Decline model', 'Imported model']) components.push(ok(await api('POST', `/data-sources/${source.id}/components`, { name }), 201))
}, 60_000)
afterAll(async () => {
  await worker?.stop(5000)
  await t?.close()
  await off?.close()
})

describe('notebooks', () => {
  let nb: Json

  it('a notebook on a component keeps code and markdown cells and exports .py and .ipynb to the file store; one per component', async () => {
    nb = ok(await api('POST', '/notebooks', { component_id: components[0]!.id, name: 'Water cut', cells }), 201)
    expect(nb).toMatchObject({ component_id: components[0]!.id, version: 1, cells })
    expect(nb.code_file_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(nb.python_code).toContain("# %% [markdown]\n# # Water cut")
    const py = await api('GET', `/notebooks/${nb.id}/export?format=py`)
    expect(py.status).toBe(200)
    expect(py.headers['content-disposition']).toContain('water-cut.py')
    expect(py.body).toBe(nb.python_code)
    const ipynb = await api('GET', `/notebooks/${nb.slug}/export?format=ipynb`)
    const doc = typeof ipynb.body === 'string' ? JSON.parse(ipynb.body) : ipynb.body
    expect(doc).toMatchObject({ nbformat: 4 })
    expect(validateIpynb(doc)).toEqual([])
    expect(doc.cells.map((c: Json) => [c.id, c.cell_type])).toEqual([['intro', 'markdown'], ['load', 'code'], ['calc', 'code']])
    // The exports are files of the organisation, named under the component.
    const file = ok(await api('GET', `/files/${nb.ipynb_file_id}`))
    expect(file.name).toBe(`notebooks/${components[0]!.id}/water-cut.ipynb`)

    const again = await api('POST', '/notebooks', { component_id: components[0]!.id, name: 'Second', cells })
    expect(again.status).toBe(409)
    expect(again.body.detail).toContain('already has a notebook')
    const dup = await api('POST', '/notebooks', { component_id: components[1]!.id, name: 'Dup ids', cells: [cells[1], cells[1]] })
    expect(dup.status).toBe(422)
    expect(dup.body.errors[0].path).toBe('/body/cells/1/id')
  })

  it.skipIf(!hasPython)('runs all code cells in one python process, in order, with stdout per cell and for the run', async () => {
    const run = ok(await api('POST', `/notebooks/${nb.id}/runs`, { input: { n: 21 } }), 201)
    const done = await until(run.id, ['succeeded', 'failed'])
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded')
    expect(done.output.output).toEqual({ doubled: 42 })
    const runs = ok(await api('GET', `/notebooks/${nb.id}/runs`)).data as Json[]
    expect(runs[0]).toMatchObject({ id: run.id, status: 'succeeded', stdout: 'n is 21\n42\n', stderr: '', scheduler_id: null })
    expect(runs[0]!.task_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(runs[0]!.cells.map((c: Json) => [c.id, c.status, c.stdout])).toEqual([['load', 'ok', 'n is 21\n'], ['calc', 'ok', '42\n']])
  })

  it.skipIf(!hasPython)('saving cells makes the next version live and exports it again; a failing cell fails the run with its traceback', async () => {
    const saved = ok(await api('PUT', `/notebooks/${nb.id}/cells`, { cells: [...cells, { id: 'boom', cell_type: 'code', source: "print('before')\n1 / 0" }, { id: 'never', cell_type: 'code', source: "print('after')" }], note: 'adds a check' }))
    expect(saved.version).toBe(2)
    expect(saved.ipynb_file_id).not.toBe(nb.ipynb_file_id)
    expect(ok(await api('GET', `/notebooks/${nb.id}/export?format=py`)).toString()).toContain('1 / 0')
    const run = ok(await api('POST', `/notebooks/${nb.id}/runs`, {}), 201)
    const done = await until(run.id, ['succeeded', 'failed'])
    expect(done.status).toBe('failed')
    expect(done.error.message).toContain('cell boom raised ZeroDivisionError')
    const [latest] = ok(await api('GET', `/notebooks/${nb.id}/runs`)).data as Json[]
    expect(latest!.stdout).toContain('before')
    expect(latest!.stdout).not.toContain('after')
    expect(latest!.cells.find((c: Json) => c.id === 'boom').error.traceback).toContain('ZeroDivisionError')
    expect(latest!.cells.find((c: Json) => c.id === 'never').status).toBe('skipped')
    // The first version is still there.
    expect(ok(await api('GET', `/automations/${nb.id}/versions/1`)).graph.steps[0].config.cells).toHaveLength(3)
  })

  it('imports an .ipynb (its cells as they are), and refuses one that breaks the nbformat schema, naming where', async () => {
    const exported = (await api('GET', `/notebooks/${nb.id}/export?format=ipynb`)).body
    const doc = typeof exported === 'string' ? JSON.parse(exported) : exported
    const imported = ok(await api('POST', '/notebooks/import', { component_id: components[2]!.id, name: 'Imported', notebook: doc }), 201)
    expect(imported.cells.map((c: Json) => c.id)).toEqual(doc.cells.map((c: Json) => c.id))
    expect(imported.cells.map((c: Json) => c.source)).toEqual(doc.cells.map((c: Json) => (Array.isArray(c.source) ? c.source.join('') : c.source)))
    const broken = { ...doc, cells: [{ cell_type: 'code', source: 'x = 1', metadata: {} }] }
    const res = await api('POST', '/notebooks/import', { component_id: components[1]!.id, name: 'Broken', notebook: broken })
    expect(res.status).toBe(422)
    expect(res.body.errors[0].path).toMatch(/^\/body\/notebook\/cells\/0/)
  })

  it.skipIf(!hasPython)('a cron schedule runs it, with a log for the fire and the run naming its schedule', async () => {
    const schedule = ok(await api('POST', `/notebooks/${nb.id}/schedules`, { name: 'every second', config: { expression: '* * * * * *', overlap: 'skip' } }), 201)
    ok(await api('PUT', `/notebooks/${nb.id}/cells`, { cells }))
    await new Promise((r) => setTimeout(r, 1100))
    await task('automation.scheduler').run()
    const logs = ok(await api('GET', `/triggers/${schedule.id}/logs`)).data as Json[]
    const fired = logs.find((l) => l.status === 'fired')
    expect(fired).toBeDefined()
    const done = await until(fired!.execution_id, ['succeeded', 'failed'])
    expect(done.status).toBe('succeeded')
    const runs = ok(await api('GET', `/notebooks/${nb.id}/runs`)).data as Json[]
    expect(runs.find((r) => r.id === fired!.execution_id)).toMatchObject({ scheduler_id: schedule.id, stdout: 'n is 21\n42\n' })
    expect((ok(await api('GET', `/notebooks/${nb.id}/schedules`)).data as Json[]).map((s) => s.id)).toEqual([schedule.id])
  })

  it('a data source whose component holds a notebook cannot be deleted (409 naming it)', async () => {
    const res = await api('DELETE', `/data-sources/${components[0]!.data_source_id}`)
    expect(res.status).toBe(409)
    expect(res.body.detail).toContain('Water cut')
  })
})

describe('python steps when the server has them off (the default)', () => {
  it('a graph with a python step is refused, naming the step', async () => {
    const res = await api('POST', '/automations', { name: 'Py', graph: { steps: [{ id: 'py', type: 'python', config: { source: 'print(1)' } }], edges: [] } }, off)
    expect(res.status).toBe(422)
    expect(res.body.errors[0]).toMatchObject({ path: '/body/graph/steps/0/config', message: expect.stringContaining('PYTHON_STEPS=true') })
  })

  it('a notebook can still be written, saved and exported; running it is refused with the reason', async () => {
    const source = ok(await api('POST', '/data-sources', { name: 'Models off', type: 'PROCESS' }, off), 201)
    const component = ok(await api('POST', `/data-sources/${source.id}/components`, { name: 'Drafted model' }, off), 201)
    const nb = ok(await api('POST', '/notebooks', { component_id: component.id, name: 'Draft', cells }, off), 201)
    ok(await api('PUT', `/notebooks/${nb.id}/cells`, { cells: [...cells, { id: 'more', cell_type: 'code', source: 'print(3)' }] }, off))
    const py = await api('GET', `/notebooks/${nb.id}/export?format=py`, undefined, off)
    expect(py.status).toBe(200)
    const run = await api('POST', `/notebooks/${nb.id}/runs`, {}, off)
    expect(run.status).toBe(409)
    expect(run.body.detail).toContain('PYTHON_STEPS=true')
    expect(ok(await api('GET', `/notebooks/${nb.id}/runs`, undefined, off)).data).toHaveLength(0)
  })
})
