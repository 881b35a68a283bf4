// Runs code steps in a small pool of worker threads, each holding a QuickJS (WASM) instance
// (sandbox.worker.mjs). A run that outlasts its time limit by a grace period has its worker
// terminated and replaced: a native operation inside QuickJS cannot block the engine.
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

export interface SandboxResult {
  ok: boolean
  json?: string
  kind?: 'timeout' | 'memory' | 'threw'
  message?: string
  logs: { ts: string; level: 'debug' | 'info' | 'warning' | 'error'; message: string }[]
}

interface Slot {
  worker: Worker
  ready: Promise<void>
  busy: boolean
}

const WORKER_URL = new URL('./sandbox.worker.mjs', import.meta.url)
/** Time a worker gets beyond the run's own limit before it is terminated. */
const GRACE_MS = 250

export function createSandbox(size = Math.max(1, Math.min(4, availableParallelism()))) {
  const slots: Slot[] = []
  const waiting: ((s: Slot) => void)[] = []
  let seq = 0

  function spawn(): Slot {
    // A V8 heap cap for the thread itself; QuickJS's own memory lives in its WASM memory and is capped per run.
    const worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 256 } })
    worker.unref()
    const slot: Slot = {
      worker,
      busy: false,
      ready: new Promise<void>((resolve, reject) => {
        const onMessage = (m: { ready?: boolean }) => {
          if (m.ready) {
            worker.off('message', onMessage)
            resolve()
          }
        }
        worker.on('message', onMessage)
        worker.once('error', reject)
      }),
    }
    slot.ready.catch(() => undefined)
    return slot
  }

  async function acquire(): Promise<Slot> {
    const idle = slots.find((s) => !s.busy)
    if (idle) {
      idle.busy = true
      return idle
    }
    if (slots.length < size) {
      const s = spawn()
      s.busy = true
      slots.push(s)
      return s
    }
    const s = await new Promise<Slot>((resolve) => waiting.push(resolve))
    return s
  }

  function release(slot: Slot) {
    const next = waiting.shift()
    if (next) next(slot)
    else slot.busy = false
  }

  function replace(slot: Slot): Slot {
    void slot.worker.terminate()
    const fresh = spawn()
    fresh.busy = true
    slots[slots.indexOf(slot)] = fresh
    return fresh
  }

  return {
    async run(input: { source: string; context: unknown; timeoutMs: number; memoryMb: number; signal?: AbortSignal }): Promise<SandboxResult> {
      let slot = await acquire()
      try {
        await slot.ready
      } catch {
        slot = replace(slot)
        await slot.ready
      }
      const id = ++seq
      const worker = slot.worker
      return new Promise<SandboxResult>((resolve, reject) => {
        const finish = (fn: () => void) => {
          clearTimeout(timer)
          worker.off('message', onMessage)
          worker.off('error', onError)
          input.signal?.removeEventListener('abort', onAbort)
          fn()
        }
        const onMessage = (m: SandboxResult & { id: number }) => {
          if (m.id !== id) return
          finish(() => {
            release(slot)
            resolve(m)
          })
        }
        const onError = (err: Error) =>
          finish(() => {
            release(replace(slot))
            reject(err)
          })
        const kill = (result: SandboxResult | Error) =>
          finish(() => {
            release(replace(slot))
            if (result instanceof Error) reject(result)
            else resolve(result)
          })
        const onAbort = () => kill(input.signal!.reason instanceof Error ? input.signal!.reason : new Error('aborted'))
        const timer = setTimeout(() => kill({ ok: false, kind: 'timeout', logs: [] }), input.timeoutMs + GRACE_MS)
        worker.on('message', onMessage)
        worker.once('error', onError)
        input.signal?.addEventListener('abort', onAbort, { once: true })
        worker.postMessage({ id, source: input.source, contextJson: JSON.stringify(input.context ?? null), timeoutMs: input.timeoutMs, memoryMb: input.memoryMb })
      })
    },
    async close() {
      await Promise.all(slots.map((s) => s.worker.terminate()))
      slots.length = 0
    },
  }
}

export type Sandbox = ReturnType<typeof createSandbox>
