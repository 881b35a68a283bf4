// The http step's guard on real sockets: names are checked on the addresses they resolve to, so
// `localhost` is refused as 127.0.0.1 is, unless HTTP_STEP_ALLOW lists the address.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNetGuard } from './netGuard.ts'

const server = createServer((_req, res) => res.end('hello'))
let port = 0
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise((r) => server.close(r)))

describe('net guard', () => {
  it('refuses a name that resolves to loopback, and reaches it once the address is allowed', async () => {
    const closed = createNetGuard([])
    const err = await fetch(`http://localhost:${port}/`, { dispatcher: closed.dispatcher }).catch((e: Error) => e)
    expect((err as Error & { cause?: Error }).cause?.name).toBe('BlockedAddressError')
    expect((err as Error & { cause?: Error }).cause?.message).toMatch(/^localhost is (127\.0\.0\.1|::1), a loopback address/)
    expect(() => closed.checkUrl(new URL(`http://127.0.0.1:${port}/`))).toThrow('127.0.0.1 is a loopback address')
    expect(() => closed.checkUrl(new URL('http://[::ffff:10.0.0.1]/'))).toThrow('a private address')
    expect(() => closed.checkUrl(new URL('http://93.184.215.14/'))).not.toThrow()
    await closed.close()

    const open = createNetGuard(['127.0.0.0/8', '::1'])
    const res = await fetch(`http://127.0.0.1:${port}/`, { dispatcher: open.dispatcher })
    expect(await res.text()).toBe('hello')
    expect(await (await fetch(`http://localhost:${port}/`, { dispatcher: open.dispatcher })).text()).toBe('hello')
    await open.close()
  })
})
