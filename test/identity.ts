// Test helpers that go through the public API the way a user does: sign up, sign in, create keys.
import { randomUUID } from 'node:crypto'
import type { App } from '../src/core/http/app.ts'

export interface SignedUp {
  token: string
  headers: Record<string, string>
  user: { id: string; email: string; username: string }
  organization: { id: string; slug: string; name: string }
}

export const bearer = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra })

export const uniqueEmail = (label = 'user') => `${label}-${randomUUID().slice(0, 8)}@example.com`

export async function signUp(app: App, options: { organization?: string; email?: string; password?: string } = {}): Promise<SignedUp & { password: string }> {
  const password = options.password ?? 'correct horse battery staple'
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { organization_name: options.organization ?? `Org ${randomUUID().slice(0, 6)}`, email: options.email ?? uniqueEmail(), password },
  })
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`)
  const body = res.json() as SignedUp
  return { ...body, password, headers: bearer(body.token) }
}

export async function logIn(app: App, email: string, password: string, extra: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password, ...extra } })
}

export async function createKey(app: App, headers: Record<string, string>, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/api-keys', headers, payload: body })
  if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string; key: string; scopes: string[]; prefix: string }
}
