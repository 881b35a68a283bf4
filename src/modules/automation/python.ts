// Runs notebook cells in one python3 subprocess, in order, in one shared namespace (as a
// Jupyter kernel would), with a wall-clock limit, an output limit and an abort signal.
//
// The driver below reads the cells and `context` as JSON on stdin and reports on fd 3, one
// JSON record a line: a cell starts, a cell wrote to stdout or stderr, a cell ended (with its
// exception), the `output` variable. sys.stdout and sys.stderr are replaced by writers that send
// what a cell prints as such records, so text a cell prints can never be read as a record, and
// what it printed stays in order with the records that say which cell printed it. Bytes that
// bypass sys.stdout (os.write(1), a subprocess) come on fd 1 and 2, which are not ordered with
// fd 3: after each cell the driver writes a random sync marker to fd 1 and 2, and the text
// between markers n-1 and n belongs to the n-th cell, however late it arrives. This is no sandbox: the code runs with the server user's rights (hence
// PYTHON_STEPS, off by default).
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'

export interface PythonCell {
  id: string
  source: string
}

export interface PythonCellResult {
  id: string
  stdout: string
  stderr: string
  status: 'ok' | 'error' | 'skipped'
  error?: { ename: string; evalue: string; traceback: string }
  duration_ms: number
}

export interface PythonRunResult {
  ok: boolean
  cells: PythonCellResult[]
  stdout: string
  stderr: string
  /** The cells' variable `output` after the last cell, when set (JSON-serialisable). */
  output?: unknown
  kind?: 'timeout' | 'output_limit' | 'missing_python' | 'error' | 'aborted'
  message?: string
  duration_ms: number
}

export interface RunPythonOptions {
  cells: PythonCell[]
  timeoutMs: number
  /** Bytes of stdout and stderr together, over all cells. */
  maxOutputBytes: number
  signal?: AbortSignal | undefined
  /** The interpreter; default `python3` from PATH. */
  python?: string | undefined
  /** The whole environment of the process; default PATH, HOME (the working directory) and LANG. */
  env?: Record<string, string> | undefined
  /** Working directory; default a fresh temporary directory, removed afterwards. */
  cwd?: string | undefined
  /** Made available to the cells, parsed, as the variable `context`. */
  input?: unknown
}

const DRIVER = String.raw`
import builtins, io, json, linecache, os, sys, time, traceback

def _send(record):
    data = (json.dumps(record) + "\n").encode("ascii")
    while data:
        data = data[os.write(3, data):]

class _Writer(io.TextIOBase):
    def __init__(self, name):
        self._name = name
    @property
    def encoding(self):
        return "utf-8"
    def writable(self):
        return True
    def isatty(self):
        return False
    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        if text:
            _send({"t": "out", "s": self._name, "d": text})
        return len(text)
    def flush(self):
        pass

def _main():
    payload = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    out, err = _Writer("stdout"), _Writer("stderr")
    sync = payload["sync"].encode("ascii")
    ns = {"__name__": "__main__", "__builtins__": builtins, "context": payload["input"]}
    for cell in payload["cells"]:
        cid, source = cell["id"], cell["source"]
        filename = "<cell " + cid + ">"
        # So tracebacks show the cell's lines, as Jupyter's do.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        sys.stdout, sys.stderr = out, err
        _send({"t": "start", "id": cid})
        started = time.monotonic()
        error = None
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as e:
            error = {"ename": type(e).__name__, "evalue": str(e), "traceback": "".join(traceback.format_exception_only(type(e), e))}
        else:
            try:
                exec(code, ns)
            except BaseException as e:
                # The first frame is this driver's exec(); the user's own start after it.
                error = {"ename": type(e).__name__, "evalue": str(e), "traceback": "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))}
        ms = int((time.monotonic() - started) * 1000)
        for fd in (1, 2):
            try:
                data = sync
                while data:
                    data = data[os.write(fd, data):]
            except OSError:
                pass
        _send({"t": "end", "id": cid, "ms": ms, "error": error})
        if error is not None:
            return
    if "output" in ns:
        try:
            _send({"t": "output", "v": json.loads(json.dumps(ns["output"], allow_nan=False))})
        except (TypeError, ValueError) as e:
            _send({"t": "output_error", "m": type(e).__name__ + ": " + str(e)})
    _send({"t": "done"})

_main()
`

// Marks the end of a cell's text on fd 1 and 2; random per process so that code cannot forge it
// by accident, and two NULs that text printed through sys.stdout never reaches fd 1 anyway.
const SYNC = `\u0000stratum-cell-end-${randomBytes(12).toString('hex')}\u0000`

const MISSING_PYTHON = "python3 was not found on this server's PATH; install Python 3 or set the python executable this server runs"

type DriverRecord =
  | { t: 'start'; id: string }
  | { t: 'out'; s: 'stdout' | 'stderr'; d: string }
  | { t: 'end'; id: string; ms: number; error: PythonCellResult['error'] | null }
  | { t: 'output'; v: unknown }
  | { t: 'output_error'; m: string }
  | { t: 'done' }

function skipped(cells: PythonCell[]): PythonCellResult[] {
  return cells.map((c) => ({ id: c.id, stdout: '', stderr: '', status: 'skipped', duration_ms: 0 }))
}

/** The first `bytes` bytes of `text` (never splitting a character). */
function headBytes(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= bytes) return text
  return buf.subarray(0, bytes).toString('utf8').replace(/\uFFFD$/, '')
}

export async function runPython(opts: RunPythonOptions): Promise<PythonRunResult> {
  const started = Date.now()
  const elapsed = () => Date.now() - started
  const cells = skipped(opts.cells)
  if (opts.signal?.aborted) return { ok: false, cells, stdout: '', stderr: '', kind: 'aborted', message: 'the run was cancelled before python started', duration_ms: 0 }

  let payload: string
  try {
    payload = JSON.stringify({ cells: opts.cells.map((c) => ({ id: c.id, source: c.source })), input: opts.input ?? null, sync: SYNC })
  } catch (err) {
    return { ok: false, cells, stdout: '', stderr: '', kind: 'error', message: `the input cannot be passed to python as JSON: ${(err as Error).message}`, duration_ms: elapsed() }
  }

  if (opts.cwd) {
    const isDir = await stat(opts.cwd).then((s) => s.isDirectory(), () => false)
    if (!isDir) return { ok: false, cells, stdout: '', stderr: '', kind: 'error', message: `the working directory ${opts.cwd} does not exist`, duration_ms: elapsed() }
  }
  const tmp = opts.cwd ? undefined : await mkdtemp(join(tmpdir(), 'stratum-python-'))
  const cwd = opts.cwd ?? tmp!
  try {
    return await run(opts, payload, cwd, cells, started)
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
  }
}

function run(opts: RunPythonOptions, payload: string, cwd: string, cells: PythonCellResult[], started: number): Promise<PythonRunResult> {
  const env = opts.env ?? { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: cwd, LANG: 'C.UTF-8' }
  const byId = new Map(cells.map((c) => [c.id, c]))
  const runOut: string[] = []
  const runErr: string[] = []
  let current: PythonCellResult | undefined
  let currentStarted = 0
  let used = 0
  let stop: { kind: NonNullable<PythonRunResult['kind']>; message: string } | undefined
  let done = false
  let output: { value: unknown } | undefined
  let outputError: string | undefined
  let spawnError: NodeJS.ErrnoException | undefined

  return new Promise<PythonRunResult>((resolve) => {
    // detached: python leads its own process group, so a kill reaches whatever it started too.
    const child = spawn(opts.python ?? 'python3', ['-I', '-u', '-c', DRIVER], { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })

    const killGroup = () => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // The group is already gone.
      }
    }
    const halt = (kind: NonNullable<PythonRunResult['kind']>, message: string) => {
      if (stop) return
      stop = { kind, message }
      killGroup()
    }

    const write = (stream: 'stdout' | 'stderr', text: string, cell = current) => {
      if (stop) return
      const bytes = Buffer.byteLength(text, 'utf8')
      if (used + bytes > opts.maxOutputBytes) {
        text = headBytes(text, opts.maxOutputBytes - used)
        halt('output_limit', `the python code wrote more than its ${opts.maxOutputBytes} bytes of output and was stopped`)
      }
      used += Buffer.byteLength(text, 'utf8')
      if (!text) return
      ;(stream === 'stdout' ? runOut : runErr).push(text)
      if (cell) cell[stream] += text
    }
    // fd 1 and 2: split at the sync markers; segment n goes to the n-th cell that ran.
    const raw = { stdout: { buf: '', segment: 0 }, stderr: { buf: '', segment: 0 } }
    const fromFd = (stream: 'stdout' | 'stderr', chunk: string, final = false) => {
      const r = raw[stream]
      r.buf += chunk
      let at: number
      while ((at = r.buf.indexOf(SYNC)) >= 0) {
        if (at > 0) write(stream, r.buf.slice(0, at), cells[r.segment])
        r.buf = r.buf.slice(at + SYNC.length)
        r.segment++
      }
      // Keep what could be the start of a marker split across chunks.
      const keep = final ? 0 : Math.min(r.buf.length, SYNC.length - 1)
      if (r.buf.length > keep) {
        write(stream, r.buf.slice(0, r.buf.length - keep), cells[r.segment])
        r.buf = r.buf.slice(r.buf.length - keep)
      }
    }

    const onRecord = (r: DriverRecord) => {
      if (stop) return
      if (r.t === 'start') {
        current = byId.get(r.id)
        currentStarted = Date.now()
      } else if (r.t === 'out') write(r.s, r.d)
      else if (r.t === 'end') {
        const cell = byId.get(r.id)
        if (cell) {
          cell.duration_ms = r.ms
          cell.status = r.error ? 'error' : 'ok'
          if (r.error) cell.error = r.error
        }
        current = undefined
      } else if (r.t === 'output') output = { value: r.v }
      else if (r.t === 'output_error') outputError = r.m
      else if (r.t === 'done') done = true
    }

    const records = child.stdio[3] as Readable
    let pending = ''
    records.setEncoding('utf8')
    records.on('data', (chunk: string) => {
      pending += chunk
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        try {
          onRecord(JSON.parse(line) as DriverRecord)
        } catch {
          // Not the driver's: code that wrote to fd 3 itself. Ignored.
        }
      }
      // One write of a huge string arrives as one record; do not hold more of it than the limit allows.
      if (pending.length > 2 * opts.maxOutputBytes + 65_536) {
        halt('output_limit', `the python code wrote more than its ${opts.maxOutputBytes} bytes of output and was stopped`)
        pending = ''
      }
    })
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => fromFd('stdout', d))
    child.stdout!.on('end', () => fromFd('stdout', '', true))
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => fromFd('stderr', d))
    child.stderr!.on('end', () => fromFd('stderr', '', true))
    child.stdin!.on('error', () => undefined)
    child.stdin!.end(payload)

    const timer = setTimeout(() => halt('timeout', `the python code ran longer than its ${opts.timeoutMs} ms limit and was stopped`), opts.timeoutMs)
    const onAbort = () => halt('aborted', 'the run was cancelled')
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err
    })
    // Whatever the cells started and left running would hold the pipes open; it goes with python.
    child.on('exit', killGroup)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      const duration_ms = Date.now() - started
      const base = { cells, stdout: runOut.join(''), stderr: runErr.join(''), duration_ms }
      if (spawnError) {
        if (spawnError.code === 'ENOENT') return resolve({ ...base, ok: false, kind: 'missing_python', message: opts.python && opts.python !== 'python3' ? `${opts.python} was not found; install Python 3 or set the python executable this server runs` : MISSING_PYTHON })
        return resolve({ ...base, ok: false, kind: 'error', message: `python could not be started: ${spawnError.message}` })
      }
      if (current) {
        current.status = 'error'
        current.duration_ms = Date.now() - currentStarted
        const evalue = stop?.message ?? `python exited (${signal ? `signal ${signal}` : `code ${code}`}) while the cell ran`
        current.error = { ename: stop ? 'Stopped' : 'ProcessExit', evalue, traceback: '' }
      }
      if (stop) return resolve({ ...base, ok: false, ...stop })
      const failed = cells.find((c) => c.status === 'error')
      if (failed?.error) return resolve({ ...base, ok: false, kind: 'error', message: `cell ${failed.id} raised ${failed.error.ename}: ${failed.error.evalue}` })
      if (outputError) return resolve({ ...base, ok: false, kind: 'error', message: `the variable output is not JSON-serialisable (${outputError})` })
      if (!done) {
        const tail = base.stderr.trim().split('\n').slice(-3).join('\n')
        return resolve({ ...base, ok: false, kind: 'error', message: `python exited (${signal ? `signal ${signal}` : `code ${code}`}) before the cells finished${tail ? `: ${tail}` : ''}` })
      }
      resolve({ ...base, ok: true, ...(output ? { output: output.value } : {}) })
    })
  })
}
