// A code step's sandbox: QuickJS (WASM) in a worker thread. QuickJS enforces the memory limit
// and, between bytecodes, the time limit; the host thread terminates this worker when a single
// native operation outlasts the time limit, so the engine's own thread is never blocked.
// Plain JavaScript: it runs as a worker thread, outside the TypeScript loader.
import { parentPort } from 'node:worker_threads'
import { getQuickJS } from 'quickjs-emscripten'

const quickjs = await getQuickJS()

parentPort.on('message', (job) => {
  parentPort.postMessage(run(job))
})
parentPort.postMessage({ ready: true })

function run({ id, source, contextJson, timeoutMs, memoryMb }) {
  const runtime = quickjs.newRuntime()
  runtime.setMemoryLimit(memoryMb * 1024 * 1024)
  runtime.setMaxStackSize(1024 * 1024)
  const deadline = Date.now() + timeoutMs
  let timedOut = false
  runtime.setInterruptHandler(() => {
    if (Date.now() > deadline) timedOut = true
    return timedOut
  })
  const vm = runtime.newContext()
  const logs = []
  try {
    const consoleObj = vm.newObject()
    for (const level of ['log', 'info', 'warn', 'error']) {
      const fn = vm.newFunction(level, (...args) => {
        const text = args
          .map((a) => {
            const v = vm.dump(a)
            return typeof v === 'string' ? v : JSON.stringify(v)
          })
          .join(' ')
        if (logs.length < 1000) logs.push({ ts: new Date().toISOString(), level: level === 'warn' ? 'warning' : level === 'error' ? 'error' : 'info', message: text.slice(0, 10_000) })
      })
      vm.setProp(consoleObj, level, fn)
      fn.dispose()
    }
    vm.setProp(vm.global, 'console', consoleObj)
    consoleObj.dispose()
    const ctx = vm.newString(contextJson)
    vm.setProp(vm.global, '__context', ctx)
    ctx.dispose()
    // The source is the body of a function, so `return` works; its value travels back as JSON.
    const wrapped = `JSON.stringify((function (context) {\n${source}\n})(JSON.parse(__context)) ?? null)`
    const result = vm.evalCode(wrapped, 'step.js')
    if (result.error) {
      const err = vm.dump(result.error)
      result.error.dispose()
      if (timedOut) return { id, ok: false, kind: 'timeout', logs }
      const message = typeof err === 'string' ? err : `${err?.name ?? 'Error'}: ${err?.message ?? JSON.stringify(err)}`
      if (/out of memory/i.test(message)) return { id, ok: false, kind: 'memory', logs }
      return { id, ok: false, kind: 'threw', message, logs }
    }
    const json = vm.dump(result.value)
    result.value.dispose()
    return { id, ok: true, json: json ?? 'null', logs }
  } catch (err) {
    // QuickJS itself ran out of memory while building the result, or similar.
    return { id, ok: false, kind: /memory/i.test(String(err)) ? 'memory' : 'threw', message: String(err), logs }
  } finally {
    try {
      vm.dispose()
      runtime.dispose()
    } catch {
      // a runtime that hit its limit may refuse to free cleanly; the worker stays usable
    }
  }
}
