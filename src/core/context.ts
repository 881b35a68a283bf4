import { randomBytes } from 'node:crypto'

// Who is calling, for which organisation, under which trace: built once per request (or per
// job run) and passed explicitly to every service call.
export interface Actor {
  type: 'user' | 'api_key' | 'system'
  id: string
}

/** How the caller proved who they are, and what that proof allows. */
export interface Credential {
  kind: 'session' | 'api_key'
  /** The session or API key id. */
  id: string
  userId: string
  /** Set for a device key: the one device entity it may act for. */
  deviceId: string | null
  scopes: readonly string[]
}

export interface RequestContext {
  requestId: string
  traceId: string
  actor: Actor | null
  organizationId: string | null
  credential?: Credential
}

export const hasScope = (ctx: RequestContext, scope: string): boolean => ctx.actor?.type === 'system' || (ctx.credential?.scopes.includes(scope) ?? false)

export function actorLabel(actor: Actor | null): string | null {
  return actor ? `${actor.type}:${actor.id}` : null
}

/** The context of work Stratum does itself (jobs, upkeep): a system actor, a trace to join or a new one. */
export function systemContext(options: { traceId?: string | null; organizationId?: string | null; requestId?: string } = {}): RequestContext {
  const traceId = options.traceId && /^[0-9a-f]{32}$/.test(options.traceId) ? options.traceId : randomBytes(16).toString('hex')
  return { requestId: options.requestId ?? traceId, traceId, actor: { type: 'system', id: 'stratum' }, organizationId: options.organizationId ?? null }
}
