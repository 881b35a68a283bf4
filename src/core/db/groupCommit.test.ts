import { describe, expect, it } from 'vitest'
import { groupCommit } from './groupCommit.ts'

/** A send whose statements the test answers by hand, recording what each carried. */
function manualSend() {
  const sent: { items: number[]; answer: (fail?: boolean) => void }[] = []
  const send = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      sent.push({ items, answer: (fail) => (fail || items.includes(13) ? reject(new Error(`bad batch ${items.join(',')}`)) : resolve(items.map((i) => i * 10))) })
    })
  return { sent, send }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('groupCommit', () => {
  it('sends a lone item at once, by itself', async () => {
    const { sent, send } = manualSend()
    const put = groupCommit({ maxInFlight: 1 }, send)
    const p = put(1)
    expect(sent.map((s) => s.items)).toEqual([[1]])
    sent[0]!.answer()
    expect(await p).toBe(10)
  })

  it('puts the items that arrive while every slot is busy into the next statement, in order', async () => {
    const { sent, send } = manualSend()
    const put = groupCommit({ maxInFlight: 2 }, send)
    const ps = [1, 2, 3, 4, 5].map(put)
    expect(sent.map((s) => s.items)).toEqual([[1], [2]])
    sent[0]!.answer()
    await tick()
    expect(sent.map((s) => s.items)).toEqual([[1], [2], [3, 4, 5]])
    sent[1]!.answer()
    sent[2]!.answer()
    expect(await Promise.all(ps)).toEqual([10, 20, 30, 40, 50])
  })

  it('caps a statement at maxBatch items', async () => {
    const { sent, send } = manualSend()
    const put = groupCommit({ maxInFlight: 1, maxBatch: 2 }, send)
    const ps = [1, 2, 3, 4].map(put)
    sent[0]!.answer()
    await tick()
    sent[1]!.answer()
    await tick()
    sent[2]!.answer()
    expect(sent.map((s) => s.items)).toEqual([[1], [2, 3], [4]])
    expect(await Promise.all(ps)).toEqual([10, 20, 30, 40])
  })

  it('when a statement of several fails, sends each alone: only the bad item fails', async () => {
    const { sent, send } = manualSend()
    const put = groupCommit({ maxInFlight: 1 }, send)
    const first = put(1)
    const rest = [2, 13, 4].map((i) => put(i).then((v) => ({ ok: v }), (err: Error) => ({ err: err.message })))
    sent[0]!.answer()
    await first
    await tick()
    expect(sent[1]!.items).toEqual([2, 13, 4])
    sent[1]!.answer()
    await tick()
    expect(sent.slice(2).map((s) => s.items)).toEqual([[2], [13], [4]])
    for (const s of sent.slice(2)) s.answer()
    expect(await Promise.all(rest)).toEqual([{ ok: 20 }, { err: 'bad batch 13' }, { ok: 40 }])
  })
})
