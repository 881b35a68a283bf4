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

  it('on the demo: compare two scenarios as a table and as CSV, clone one; Stratum itself cannot approve', async () => {
    const seeded = await run(['seed', '--demo'])
    expect(seeded.code, seeded.stderr).toBe(0)
    const DEMO = ['--organization', 'acme-research-labs']
    const WELL = ['--series', 'Well-12.oil_rate@Forecast', '--granularity', '1mo', '--unit', 'bbl/d', '--from', '2026-01-01', '--to', '2026-03-01']

    const shown = await run(['scenarios', 'compare', 'Base Case', 'High Water Cut', ...WELL, ...DEMO])
    expect(shown.code, shown.stderr).toBe(0)
    const lines = shown.stdout.trim().split('\n')
    expect(lines[0]).toBe('Well-12.oil_rate [bbl/day], avg per 1mo')
    expect(lines[1]).toMatch(/^TIME\s+Base Case\s+High Water Cut\s+High Water Cut vs Base Case$/)
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/)[0])).toEqual(['2026-01-01', '2026-02-01', 'avg'])
    // The two forecast runs differ, so every row shows a difference with its sign and percentage.
    for (const l of lines.slice(2)) expect(l).toMatch(/-?\d+(\.\d+)? \([+-]\d+\.\d%\)$/)

    const csv = await run(['scenarios', 'compare', 'Base Case', 'High Water Cut', ...WELL, '--csv', ...DEMO])
    expect(csv.code, csv.stderr).toBe(0)
    const rows = csv.stdout.trim().split('\n').map((l) => l.split(','))
    expect(rows[0]).toEqual(['object_type', 'object_instance', 'object_type_property', 'unit', 'timestamp', 'Base Case', 'High Water Cut', 'High Water Cut - Base Case', 'High Water Cut vs Base Case (relative)'])
    expect(rows).toHaveLength(3)
    for (const r of rows.slice(1)) {
      const [base, high, diff, rel] = r.slice(5).map(Number) as [number, number, number, number]
      expect(diff).toBeCloseTo(high - base, 6)
      expect(rel).toBeCloseTo((high - base) / Math.abs(base), 6)
      expect(diff).not.toBe(0)
    }
    const missing = await run(['scenarios', 'compare', 'Base Case', 'High Water Cut', '--series', 'Well-99.oil_rate', ...DEMO])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('series/0: no scenario compared has a Well-99.oil_rate series')

    const cloned = await run(['scenarios', 'clone', 'High Water Cut', 'High Water Cut v2', ...DEMO, '--email', 'demo@stratum.example'])
    expect(cloned.code, cloned.stderr).toBe(0)
    expect(cloned.stdout).toMatch(/^cloned scenario High Water Cut as High Water Cut v2 \(.+\), draft, [1-9]\d* components? linked\n$/)
    expect(await run(['scenarios', 'submit', 'High Water Cut v2', ...DEMO])).toMatchObject({ code: 0 })
    // Four eyes are two people: without --email the command acts as Stratum, which may not decide.
    const bySystem = await run(['scenarios', 'approve', 'High Water Cut v2', ...DEMO])
    expect(bySystem.code).toBe(1)
    expect(bySystem.stderr).toContain("is a person's decision")
    expect(await run(['scenarios', 'approve', 'High Water Cut v2', ...DEMO, '--email', 'reviewer@stratum.example'])).toMatchObject({ code: 0, stdout: 'scenario High Water Cut v2: submitted -> approved\n' })
  }, 180_000)
})
