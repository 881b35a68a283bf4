// The scoping helpers every tenant-owned query goes through.
import { describe, expect, it } from 'vitest'
import { NotFoundError, UnauthorizedError } from './errors.ts'
import { assertDeviceAccess, orgOf } from './tenancy.ts'
import type { RequestContext } from './context.ts'

const base: RequestContext = { requestId: 'r', traceId: 't', actor: { type: 'api_key', id: 'k' }, organizationId: 'org-a' }
const device = (deviceId: string | null): RequestContext => ({ ...base, credential: { kind: 'api_key', id: 'k', userId: 'u', deviceId, scopes: ['self', 'device'] } })

describe('tenancy', () => {
  it('orgOf needs a caller with an organisation', () => {
    expect(orgOf(base)).toBe('org-a')
    expect(() => orgOf({ ...base, organizationId: null })).toThrow(UnauthorizedError)
    expect(() => orgOf({ ...base, actor: null })).toThrow(UnauthorizedError)
  })

  it('a device key reaches its own device only; other devices are 404 to it', () => {
    expect(() => assertDeviceAccess(device('dev-1'), 'dev-1')).not.toThrow()
    expect(() => assertDeviceAccess(device('dev-1'), 'dev-2')).toThrow(NotFoundError)
    expect(() => assertDeviceAccess(device(null), 'dev-2')).not.toThrow()
    expect(() => assertDeviceAccess(base, 'dev-2')).not.toThrow()
  })
})
