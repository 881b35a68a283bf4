// W3C Trace Context: continue the caller's trace when `traceparent` is valid, else start one.
import { randomBytes } from 'node:crypto'

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface Trace {
  traceId: string
  spanId: string
  flags: string
}

export function continueTrace(header: string | string[] | undefined): Trace {
  const spanId = randomBytes(8).toString('hex')
  const m = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) return { traceId: m[2]!, spanId, flags: m[4]! }
  return { traceId: randomBytes(16).toString('hex'), spanId, flags: '01' }
}

export const traceparentOf = (t: Trace) => `00-${t.traceId}-${t.spanId}-${t.flags}`
