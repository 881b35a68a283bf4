// A loop's pause that ends early when poked: used by the job worker and event consumers, which
// sleep until NOTIFY (or a finished job) says there is work, with a poll as the fallback.
export function createWakeup() {
  let wake: (() => void) | null = null
  let dirty = false
  return {
    /** Something changed; a sleeping loop wakes now, a busy one sees `dirty` before sleeping. */
    poke() {
      dirty = true
      wake?.()
    },
    /** True once since the last `take()`: the loop should look again before sleeping. */
    take(): boolean {
      const was = dirty
      dirty = false
      return was
    },
    get dirty() {
      return dirty
    },
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const t = setTimeout(done, ms)
        function done() {
          clearTimeout(t)
          wake = null
          resolve()
        }
        wake = done
      })
    },
  }
}
