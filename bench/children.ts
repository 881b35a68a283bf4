// Child processes of a benchmark: a child exits when its parent goes away (its stdin, a pipe
// from the parent, closes), and the parent kills its children when it exits, even on an error:
// a worker left behind would go on taking jobs from the next measurement.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n')

export function exitWithParent() {
  process.stdin.on('end', () => process.exit(1))
  process.stdin.on('error', () => process.exit(1))
  process.stdin.resume()
}

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/** Kills `child` when this process exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

/**
 * Starts `node <self> ...args` (with this process's loader flags) as a tracked child and resolves
 * with the first JSON line it prints (a server's `{ listening, port, ... }`).
 */
export function startChild<T>(self: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess } & T> {
  const child = spawn(process.execPath, [...process.execArgv, self, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env })
  track(child)
  return new Promise((resolve, reject) => {
    let buf = ''
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)))
    child.stdout!.on('data', (d) => {
      buf += d
      const idx = buf.indexOf('\n')
      if (idx >= 0) resolve({ child, ...(JSON.parse(buf.slice(0, idx)) as T) })
    })
  })
}

/** Stops a child started by startChild and waits for it to exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    child.removeAllListeners('exit')
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/**
 * A benchmark run's record: JSON lines printed and appended to bench/results/<name>-<time>.jsonl
 * (or $OUT), starting with the machine's description; `sh` runs a bench/ script (quiet.sh).
 */
export function benchRecord(benchDir: string, name: string) {
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  const file = process.env.OUT ?? join(benchDir, 'results', `${name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}Z.jsonl`)
  writeFileSync(file, '')
  const log = (o: unknown) => {
    out(o)
    appendFileSync(file, JSON.stringify(o) + '\n')
  }
  const sh = (script: string) => spawnSync('bash', [join(benchDir, script)], { encoding: 'utf8' }).stdout.trim()
  log(JSON.parse(sh('machine.sh')))
  return { file, log, sh }
}
