// The frame every operator command runs in: open the runtime (database, migrations), run, say a
// domain error plainly (exit 1) instead of as a crash, and always close the database.
import { DomainError } from '../core/errors.ts'
import { openRuntime, type Runtime } from '../core/runtime.ts'
import type { Command } from './main.ts'

export const USAGE = 2
export const FAILURE = 1

export async function withRuntime(run: Parameters<Command['run']>[0], fn: (rt: Runtime) => Promise<number>): Promise<number> {
  const rt = await openRuntime(run.config, run.log)
  try {
    return await fn(rt)
  } catch (err) {
    // What the operator got wrong (unknown e-mail or unit, a taken slug, a bad scope) is said plainly.
    if (err instanceof DomainError) {
      process.stderr.write(`${err.message}\n`)
      return FAILURE
    }
    throw err
  } finally {
    await rt.database.close()
  }
}
