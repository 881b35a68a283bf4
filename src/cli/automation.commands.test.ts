// `stratum automations create` and `stratum run --wait` as an operator runs them: real processes
// and exit codes, the execution run in the command's own worker with each step printed.
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPostgres, testDatabase } from '../../test/db.ts'

const BIN = fileURLToPath(new URL('../../bin/stratum.js', import.meta.url))
const ORG = ['--organization', 'plant-ops', '--email', 'ops@example.com']
let env: Record<string, string>
let database: Awaited<ReturnType<typeof testDatabase>> | null = null

function run(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

beforeAll(async () => {
  database = onPostgres() ? await testDatabase() : null
  env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-run-')), LOG_LEVEL: 'warn', DATABASE_URL: database?.url ?? '' }
}, 60_000)
afterAll(() => database?.close())

describe('stratum run', () => {
  it('creates an automation from a graph file, runs it with input and waits, printing steps and output; a failing run exits 1', async () => {
    expect((await run(['admin', 'create-user', '--email', 'ops@example.com', '--new-organization', 'Plant Ops', '--password-stdin'], 'an operator password 1\n')).code).toBe(0)
    const dir = env.STRATUM_DATA_DIR!
    writeFileSync(join(dir, 'graph.json'), JSON.stringify({
      steps: [
        { id: 'total', type: 'code', config: { source: 'return context.input.rates.reduce((s, r) => s + r, 0)' } },
        { id: 'pause', type: 'delay', config: { seconds: 0.2 } },
        { id: 'report', type: 'transform', config: { expression: '{ "well": input.well, "total": steps.total.output }' } },
      ],
      edges: [{ from: 'total', to: 'pause' }, { from: 'pause', to: 'report' }],
    }))
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ well: 'Well-12', rates: [100, 250.5] }))
    const created = await run(['automations', 'create', 'Daily total', '--graph', join(dir, 'graph.json'), '--process-type', 'allocation', ...ORG])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^created automation daily-total \(.+\), version 1 live\n$/)
    const ran = await run(['run', 'daily-total', '--input', join(dir, 'input.json'), '--wait', '--batch-id', 'B-1', ...ORG])
    expect(ran.code, ran.stderr).toBe(0)
    expect(JSON.parse(ran.stdout)).toEqual({ well: 'Well-12', total: 350.5 })
    expect(ran.stderr).toMatch(/^started execution .+\n {2}total +succeeded attempt 1, \d+ ms\n {2}pause +waiting +attempt 1, \d+ ms until .+\n {2}pause +succeeded attempt 1, \d+ ms\n {2}report +succeeded attempt 1, \d+ ms\n$/)

    const failed = await run(['run', 'daily-total', '--input', '{"well":"W","rates":"none"}', '--wait', ...ORG])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('execution failed: step total failed: the code threw TypeError')
    const listed = await run(['automations', 'list', ...ORG])
    expect(listed.stdout).toMatch(/daily-total +v1 +yes +allocation +Daily total/)
    const bad = await run(['automations', 'create', 'Broken', '--graph', join(dir, 'input.json'), ...ORG])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('/body/graph')
  }, 180_000)
})
