// The frame every operator command runs in: open the runtime (database, migrations), run, say a
// domain error plainly (exit 1) instead of as a crash, and always close the database.
import { DomainError } from '../core/errors.ts'
import { openRuntime, type Runtime } from '../core/runtime.ts'
import { systemContext, type RequestContext } from '../core/context.ts'
import { createIdentity } from '../modules/identity/index.ts'
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

/**
 * The caller an operator command acts as in an organisation. With --email: that member (membership checked, events name
 * them), as `api-keys create` does. Without: Stratum itself in the organisation named by slug or
 * id (an operator at the console, like a job; events name `system:stratum`).
 */
export async function actingAs(rt: Runtime, organization: string, email: string | undefined): Promise<RequestContext> {
  const identity = createIdentity(rt)
  try {
    if (email) return await identity.operators.actAs(email, organization)
    return systemContext({ organizationId: await identity.operators.organizationId(organization) })
  } finally {
    await identity.authenticator.close?.()
  }
}
