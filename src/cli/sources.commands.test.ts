// `stratum sources|components|scenarios ...` as an operator runs them: real processes, real exit
// codes, on the embedded database (or, under DATABASE_URL, on a PostgreSQL database of its own).
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onPostgres, testDatabase } from '../../test/db.ts'

const BIN = fileURLToPath(new URL('../../bin/stratum.js', import.meta.url))
const ORG = ['--organization', 'well-studies', '--email', 'author@example.com']

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
  env = { STRATUM_DATA_DIR: mkdtempSync(join(tmpdir(), 'stratum-cli-sources-')), LOG_LEVEL: 'warn', DATABASE_URL: database?.url ?? '' }
}, 60_000)
afterAll(() => database?.close())

describe('scenarios from the command line', () => {
  it('a component with its file is linked to a new scenario, which is submitted; its author cannot approve it', async () => {
    const user = await run(['admin', 'create-user', '--email', 'author@example.com', '--new-organization', 'Well Studies', '--password-stdin'], 'an author password 1\n')
    expect(user.code, user.stderr).toBe(0)
    expect(await run(['sources', 'add', 'Forecast', '--type', 'OUTPUT', ...ORG])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^created data source Forecast \(.+\), OUTPUT\n$/) })
    const file = join(env.STRATUM_DATA_DIR!, 'run1.csv')
    writeFileSync(file, 'well,oil_rate\nWell-12,1200\n')
    const component = await run(['components', 'add', 'Forecast', 'Model run 1', '--file', file, ...ORG])
    expect(component.code, component.stderr).toBe(0)
    expect(component.stdout).toContain('stored run1.csv (27 bytes, sha256 ')
    expect(component.stdout).toContain('as version 1')

    const created = await run(['scenarios', 'create', 'Base Case', '--from', '2026-01-01', '--to', '2027-01-01', ...ORG])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^created scenario Base Case \(.+\), draft, period 2026-01-01 to 2027-01-01\n$/)
    const linked = await run(['scenarios', 'link', 'base case', 'Forecast/Model run 1', ...ORG])
    expect(linked.code, linked.stderr).toBe(0)
    expect(await run(['scenarios', 'submit', 'Base Case', ...ORG])).toMatchObject({ code: 0, stdout: 'scenario Base Case: draft -> submitted\n' })
    const list = await run(['scenarios', 'list', ...ORG])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^NAME\s+STATUS\s+PERIOD\s+COMPONENTS$/), expect.stringMatching(/^Base Case\s+submitted\s+2026-01-01 to 2027-01-01\s+1$/)])

    const own = await run(['scenarios', 'approve', 'Base Case', ...ORG])
    expect(own.code).toBe(1)
    expect(own.stderr).toContain('you created scenario Base Case, so you cannot approve it')
    expect((await run(['scenarios', 'link', 'Base Case', ...ORG])).code).toBe(2)
  }, 180_000)
})
