// Child processes of a benchmark: a child exits when its parent goes away (its stdin, a pipe
// from the parent, closes), and the parent kills its children when it exits, even on an error:
// a worker left behind would go on taking jobs from the next measurement.
import type { ChildProcess } from 'node:child_process'

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
