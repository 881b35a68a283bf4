import { describe, expect, it } from 'vitest'
import { linkSignals } from './abort.ts'

describe('linkSignals', () => {
  it('aborts with the first source reason, by hand, or at once for an aborted source; dispose stops following', () => {
    const a = new AbortController()
    const b = new AbortController()
    const one = linkSignals(a.signal, undefined, b.signal)
    expect(one.signal.aborted).toBe(false)
    b.abort('b went')
    expect(one.signal.aborted).toBe(true)
    expect(one.signal.reason).toBe('b went')
    a.abort('a went')
    expect(one.signal.reason).toBe('b went')

    const c = new AbortController()
    const two = linkSignals(c.signal)
    two.abort('by hand')
    expect(two.signal.reason).toBe('by hand')
    expect(linkSignals(a.signal).signal.reason).toBe('a went')

    const d = new AbortController()
    const three = linkSignals(d.signal)
    three.dispose()
    d.abort('late')
    expect(three.signal.aborted).toBe(false)
  })
})
