// Notebook cells in one real python3 process: shared variables, output per cell, the first
// failure stopping the rest, and the time, output and abort limits really ending the process.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runPython, type PythonCell } from './python.ts'

const hasPython = spawnSync('python3', ['--version']).status === 0
const noPython = 'python3 is not on PATH on this machine'

const limits = { timeoutMs: 20_000, maxOutputBytes: 1_000_000 }

/** Running: not gone, and not a zombie waiting for a parent (init, once python died) to reap it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** A killed process can take a moment to be reaped by its parent. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20))
  return !alive(pid)
}

describe.skipIf(!hasPython)(`runPython (${hasPython ? 'python3 found' : `skipped: ${noPython}`})`, () => {
  it('runs the cells in order in one namespace, with stdout and stderr per cell and for the run', async () => {
    const cells: PythonCell[] = [
      { id: 'load', source: 'import sys\nx = 20\nprint("loaded")\nprint("careful", file=sys.stderr)' },
      { id: 'calc', source: 'def twice(v):\n    return v * 2\nprint(twice(x) + 2)' },
      { id: 'quiet', source: 'y = twice(x)' },
    ]
    const r = await runPython({ cells, ...limits })
    expect(r).toMatchObject({ ok: true, stdout: 'loaded\n42\n', stderr: 'careful\n' })
    expect(r.kind).toBeUndefined()
    expect(r.cells.map((c) => [c.id, c.status, c.stdout, c.stderr])).toEqual([
      ['load', 'ok', 'loaded\n', 'careful\n'],
      ['calc', 'ok', '42\n', ''],
      ['quiet', 'ok', '', ''],
    ])
    expect(r.output).toBeUndefined()
  })

  it('passes context in and returns the variable output', async () => {
    const r = await runPython({ cells: [{ id: 'a', source: 'n = context["n"]' }, { id: 'b', source: 'output = {"doubled": n * 2, "tags": context["tags"]}' }], ...limits, input: { n: 21, tags: ['x', 'é'] } })
    expect(r.ok).toBe(true)
    expect(r.output).toEqual({ doubled: 42, tags: ['x', 'é'] })

    const bad = await runPython({ cells: [{ id: 'a', source: 'output = object()' }], ...limits })
    expect(bad).toMatchObject({ ok: false, kind: 'error' })
    expect(bad.message).toContain('output is not JSON-serialisable')
  })

  it('stops at the first failing cell with its exception and traceback; later cells are skipped', async () => {
    const r = await runPython({ cells: [{ id: 'a', source: 'print("before")' }, { id: 'boom', source: 'x = 1\nx / 0' }, { id: 'never', source: 'print("after")' }], ...limits })
    expect(r).toMatchObject({ ok: false, kind: 'error', message: 'cell boom raised ZeroDivisionError: division by zero', stdout: 'before\n' })
    const boom = r.cells[1]!
    expect(boom).toMatchObject({ status: 'error', error: { ename: 'ZeroDivisionError', evalue: 'division by zero' } })
    // The cell's own frame and line, none of the driver's.
    expect(boom.error!.traceback).toContain('File "<cell boom>", line 2')
    expect(boom.error!.traceback).toContain('x / 0')
    expect(boom.error!.traceback).not.toContain('exec(')
    expect(r.cells[2]).toMatchObject({ id: 'never', status: 'skipped', stdout: '' })

    const syntax = await runPython({ cells: [{ id: 's', source: 'def (' }], ...limits })
    expect(syntax.cells[0]).toMatchObject({ status: 'error', error: { ename: 'SyntaxError' } })
  })

  it('kills python and what it started at the time limit', async () => {
    const cells = [{ id: 'spin', source: 'import os, subprocess\np = subprocess.Popen(["sleep", "60"])\nprint(os.getpid(), p.pid)\nwhile True: pass' }, { id: 'next', source: 'pass' }]
    const t0 = Date.now()
    const r = await runPython({ cells, timeoutMs: 1500, maxOutputBytes: 10_000 })
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(r).toMatchObject({ ok: false, kind: 'timeout' })
    expect(r.message).toContain('1500 ms')
    expect(r.cells.map((c) => c.status)).toEqual(['error', 'skipped'])
    expect(r.cells[0]!.error!.ename).toBe('Stopped')
    const [pid, sleepPid] = r.stdout.trim().split(' ').map(Number)
    expect(pid).toBeGreaterThan(0)
    expect(await gone(pid!)).toBe(true)
    expect(await gone(sleepPid!)).toBe(true)
  })

  it('kills python at the output limit and keeps the output up to it', async () => {
    const r = await runPython({ cells: [{ id: 'flood', source: 'import os\nprint(os.getpid())\nwhile True:\n    print("x" * 99)' }], timeoutMs: 20_000, maxOutputBytes: 10_000 })
    expect(r).toMatchObject({ ok: false, kind: 'output_limit' })
    expect(Buffer.byteLength(r.stdout)).toBe(10_000)
    expect(r.cells[0]!.stdout).toBe(r.stdout)
    expect(await gone(Number(r.stdout.split('\n')[0]))).toBe(true)

    // One huge write is cut as well.
    const big = await runPython({ cells: [{ id: 'big', source: 'print("y" * 5_000_000)' }], timeoutMs: 20_000, maxOutputBytes: 10_000 })
    expect(big.kind).toBe('output_limit')
    expect(Buffer.byteLength(big.stdout)).toBeLessThanOrEqual(10_000)
  })

  it('stops when the signal aborts', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const r = await runPython({ cells: [{ id: 'nap', source: 'import time\ntime.sleep(30)' }], ...limits, signal: controller.signal })
    expect(r).toMatchObject({ ok: false, kind: 'aborted' })
    expect(r.duration_ms).toBeLessThan(10_000)
  })

  it('a cell printing what looks like the framing cannot forge results', async () => {
    const forged = [
      '{"t": "end", "id": "liar", "ms": 1, "error": null}',
      '{"t": "output", "v": "forged"}',
      '{"t": "done"}',
    ].join('\n')
    const source = `import sys, os\nprint(${JSON.stringify(forged)})\nsys.stderr.write(${JSON.stringify(forged)} + "\\n")\nos.write(1, ${JSON.stringify(forged + '\n')}.encode())\nraise ValueError("really failed")`
    const r = await runPython({ cells: [{ id: 'liar', source }, { id: 'after', source: 'output = "after ran"' }], ...limits })
    expect(r).toMatchObject({ ok: false, kind: 'error' })
    expect(r.output).toBeUndefined()
    expect(r.cells.map((c) => c.status)).toEqual(['error', 'skipped'])
    expect(r.cells[0]!.error!.evalue).toBe('really failed')
    expect(r.cells[0]!.stdout).toBe(`${forged}\n${forged}\n`)
    expect(r.cells[0]!.stderr).toBe(`${forged}\n`)
  })

  it('gives python a minimal environment and a temporary working directory that is removed after', async () => {
    process.env.STRATUM_TEST_SECRET = 'do-not-leak'
    try {
      const r = await runPython({ cells: [{ id: 'env', source: 'import os, json\noutput = {"env": sorted(os.environ), "cwd": os.getcwd(), "home": os.environ["HOME"]}' }], ...limits })
      const out = r.output as { env: string[]; cwd: string; home: string }
      expect(out.env).not.toContain('STRATUM_TEST_SECRET')
      expect(out.home).toBe(out.cwd)
      expect(out.cwd).toContain('stratum-python-')
      expect(existsSync(out.cwd)).toBe(false)
    } finally {
      delete process.env.STRATUM_TEST_SECRET
    }
  })
})

describe('runPython without python', () => {
  it('reports a missing interpreter instead of throwing', async () => {
    const r = await runPython({ cells: [{ id: 'a', source: 'print(1)' }], ...limits, python: '/nonexistent/python3' })
    expect(r).toMatchObject({ ok: false, kind: 'missing_python', cells: [{ id: 'a', status: 'skipped' }] })
    expect(r.message).toContain('was not found')
    expect(r.message).toContain('install Python 3')

    const plain = await runPython({ cells: [{ id: 'a', source: 'print(1)' }], ...limits, env: { PATH: '/nonexistent' } })
    expect(plain).toMatchObject({ ok: false, kind: 'missing_python', message: expect.stringContaining("python3 was not found on this server's PATH; install Python 3") })
  })
})
