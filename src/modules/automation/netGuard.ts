// Where an http step may connect: any public address; private, loopback, link-local and other
// special ranges only when HTTP_STEP_ALLOW lists them. Checked on the address actually dialled
// (after DNS), so a public name that resolves to 10.0.0.5 is refused as 10.0.0.5 would be.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'
import { Agent } from 'undici'

export class BlockedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host === address ? `${host} is` : `${host} is ${address},`} a ${range} address: http steps may not reach it unless HTTP_STEP_ALLOW lists it`)
    this.name = 'BlockedAddressError'
  }
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6

export function createNetGuard(allow: readonly string[]) {
  const allowed: [Parsed, number][] = allow.map((a) => (a.includes('/') ? ipaddr.parseCIDR(a) : ((p: Parsed) => [p, p.kind() === 'ipv4' ? 32 : 128] as [Parsed, number])(ipaddr.parse(a))))

  /** Why an address may not be reached, or null. */
  function refusal(address: string): string | null {
    let ip: Parsed = ipaddr.parse(address)
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
    const range = ip.range()
    if (range === 'unicast') return null
    if (allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net as never, bits))) return null
    return range
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return (callback as (e: Error) => void)(err)
      const ok = addresses.filter((a) => refusal(a.address) === null)
      if (ok.length === 0) {
        const first = addresses[0]!
        return (callback as (e: Error) => void)(new BlockedAddressError(hostname, first.address, refusal(first.address)!))
      }
      if ((options as { all?: boolean }).all) return (callback as (e: null, a: LookupAddress[]) => void)(null, ok)
      ;(callback as (e: null, a: string, f: number) => void)(null, ok[0]!.address, ok[0]!.family)
    })
  }

  const dispatcher = new Agent({ connect: { lookup }, keepAliveTimeout: 10_000, connections: 64 })

  return {
    dispatcher,
    /** Refuses a URL whose host is a literal address in a blocked range (no DNS lookup happens for those). */
    checkUrl(url: URL) {
      const host = url.hostname.replace(/^\[|\]$/g, '')
      if (isIP(host)) {
        const range = refusal(host)
        if (range) throw new BlockedAddressError(host, host, range)
      }
    },
    close: () => dispatcher.close(),
  }
}

export type NetGuard = ReturnType<typeof createNetGuard>
