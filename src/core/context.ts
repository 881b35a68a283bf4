// Who is calling, for which organisation, under which trace: built once per request (or per
// job run) and passed explicitly to every service call.
export interface Actor {
  type: 'user' | 'api_key' | 'system'
  id: string
}

export interface RequestContext {
  requestId: string
  traceId: string
  actor: Actor | null
  organizationId: string | null
}

export function actorLabel(actor: Actor | null): string | null {
  return actor ? `${actor.type}:${actor.id}` : null
}

export function systemContext(traceId: string, requestId = traceId, organizationId: string | null = null): RequestContext {
  return { requestId, traceId, actor: { type: 'system', id: 'stratum' }, organizationId }
}
