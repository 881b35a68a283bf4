// `stratum notebooks import|list|export|runs` and `stratum run NOTEBOOK --wait` as an operator
// runs them: real processes and exit codes, the run in the command's own worker with a real
// python3 when PYTHON_STEPS=true, and a clear failure when it is off (the default).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPostgres, testDatabase } from '../../test/db.ts'

const BIN = fileURLToPath(new URL('../../bin/stratum.js', import.meta.url))
const ORG = ['--organization', 'plant-ops', '--email', 'ops@example.com']
const hasPython = spawnSync('python3', ['--version']).status === 0
let env: Record<string, string>
let database: Awaited<ReturnType<typeof testDatabase>> | null = null

function run(args: string[], input?: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, ...extra }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

const ipynb = (cells: object[]) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells })
const code = (id: string, source: string) => ({ id, cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source })

beforeAll(async () => {
  database = onPostgres() ? await testDatabase() : null
  // PYTHON_STEPS off unless a command turns it on, whatever the shell running the tests says.
  env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-notebooks-')), LOG_LEVEL: 'warn', DATABASE_URL: database?.url ?? '', PYTHON_STEPS: 'false' }
}, 60_000)
afterAll(() => database?.close())

describe('stratum notebooks', () => {
  it('imports an .ipynb onto a component, lists and exports it; a bad file is refused naming the field; running it with python off fails saying how to turn it on', async () => {
    expect((await run(['admin', 'create-user', '--email', 'ops@example.com', '--new-organization', 'Plant Ops', '--password-stdin'], 'an operator password 1\n')).code).toBe(0)
    expect((await run(['sources', 'add', 'Models', '--type', 'PROCESS', ...ORG])).code).toBe(0)
    const component = await run(['components', 'add', 'Models', 'Water cut model', ...ORG])
    expect(component.code, component.stderr).toBe(0)
    const componentId = /\((.+)\)/.exec(component.stdout)![1]!

    const dir = env.STRATUM_DATA_DIR!
    writeFileSync(join(dir, 'water-cut.ipynb'), ipynb([
      { id: 'intro', cell_type: 'markdown', metadata: {}, source: ['# Water cut\n', 'Doubles the input.'] },
      code('load', "n = context['input'].get('n', 21)\nprint('n is', n)"),
      code('calc', "output = {'doubled': n * 2}\nprint(output['doubled'])"),
    ]))
    writeFileSync(join(dir, 'broken.ipynb'), ipynb([{ cell_type: 'code', metadata: {}, source: 'x = 1' }]))
    writeFileSync(join(dir, 'not-json.ipynb'), '{"cells": [')

    const bad = await run(['notebooks', 'import', join(dir, 'broken.ipynb'), '--component', componentId, ...ORG])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('the notebook is not a valid nbformat 4 document')
    expect(bad.stderr).toMatch(/^ {2}\/body\/notebook\/cells\/0\S*: .+$/m)
    expect((await run(['notebooks', 'import', join(dir, 'not-json.ipynb'), '--component', componentId, ...ORG])).code).toBe(2)
    expect((await run(['notebooks', 'import', join(dir, 'missing.ipynb'), '--component', componentId, ...ORG])).code).toBe(2)
    expect((await run(['notebooks', 'import', join(dir, 'water-cut.ipynb'), ...ORG])).code).toBe(2)

    const imported = await run(['notebooks', 'import', join(dir, 'water-cut.ipynb'), '--component', componentId, ...ORG])
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout).toMatch(/^imported notebook water-cut \(.+\)\n$/)
    const again = await run(['notebooks', 'import', join(dir, 'water-cut.ipynb'), '--component', 'Models/Water cut model', '--name', 'Second', ...ORG])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already has a notebook')

    const listed = await run(['notebooks', 'list', ...ORG])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^SLUG\s+COMPONENT\s+LIVE\s+NAME$/), expect.stringMatching(new RegExp(`^water-cut\\s+${componentId}\\s+v1\\s+water-cut$`))])

    const py = await run(['notebooks', 'export', 'water-cut', '--format', 'py', ...ORG])
    expect(py.code, py.stderr).toBe(0)
    expect(py.stdout).toContain('# %% [markdown]\n# # Water cut\n# Doubles the input.\n')
    expect(py.stdout).toContain("# %%\noutput = {'doubled': n * 2}\nprint(output['doubled'])\n")
    const out = join(dir, 'exported.ipynb')
    const nb = await run(['notebooks', 'export', 'water-cut', '--format', 'ipynb', '--out', out, ...ORG])
    expect(nb.code, nb.stderr).toBe(0)
    expect(nb.stdout).toMatch(/^wrote water-cut\.ipynb \(\d+ bytes\) to .+exported\.ipynb\n$/)
    const doc = JSON.parse(readFileSync(out, 'utf8'))
    expect(doc).toMatchObject({ nbformat: 4 })
    expect(doc.cells.map((c: { id: string; cell_type: string }) => [c.id, c.cell_type])).toEqual([['intro', 'markdown'], ['load', 'code'], ['calc', 'code']])
    expect((await run(['notebooks', 'export', 'water-cut', '--format', 'pdf', ...ORG])).code).toBe(2)
    const unknown = await run(['notebooks', 'export', 'no-such-notebook', ...ORG])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('notebook no-such-notebook not found')

    const off = await run(['run', 'water-cut', '--wait', ...ORG])
    expect(off.code).toBe(1)
    expect(off.stderr).toContain('PYTHON_STEPS=true')
    // Fifteen processes, most opening the database: 100 s when the CLI test files run side by side.
  }, 300_000)

  it.skipIf(!hasPython)('with PYTHON_STEPS=true, `stratum run --wait` runs the cells and prints their output; the runs are listed newest first', async () => {
    const ran = await run(['run', 'water-cut', '--input', '{"n": 21}', '--wait', ...ORG], undefined, { PYTHON_STEPS: 'true' })
    expect(ran.code, ran.stderr).toBe(0)
    expect(JSON.parse(ran.stdout)).toMatchObject({ output: { doubled: 42 }, stdout: 'n is 21\n42\n', stderr: '' })
    expect(ran.stderr).toMatch(/^started execution .+\n {2}notebook +succeeded attempt 1, \d+ ms\n$/)
    const executionId = /^started execution (\S+)/.exec(ran.stderr)![1]!

    const runs = await run(['notebooks', 'runs', 'water-cut', ...ORG])
    expect(runs.code, runs.stderr).toBe(0)
    const ISO = '\\d{4}-\\d\\d-\\d\\dT\\S+Z'
    expect(runs.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^ID\s+STATUS\s+STARTED\s+FINISHED\s+SCHEDULER$/),
      expect.stringMatching(new RegExp(`^${executionId}\\s+succeeded\\s+${ISO}\\s+${ISO}\\s+-$`)),
      expect.stringMatching(new RegExp(`^\\S+\\s+failed\\s+${ISO}\\s+${ISO}\\s+-$`)),
    ])
    const latest = await run(['notebooks', 'runs', 'water-cut', '--limit', '1', ...ORG])
    expect(latest.stdout.trim().split('\n')).toHaveLength(2)
    expect((await run(['notebooks', 'runs', 'water-cut', '--limit', 'all', ...ORG])).code).toBe(2)
  }, 180_000)
})
