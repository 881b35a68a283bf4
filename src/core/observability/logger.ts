import pino from 'pino'

export type Logger = pino.Logger

/** JSON lines, or pretty lines when stdout is a terminal. */
/** `fd`: 1 for the server; 2 for commands whose stdout is their answer (an export, JSON output). */
export function createLogger(level: string, options: { pretty?: boolean; fd?: 1 | 2 } = {}): Logger {
  const fd = options.fd ?? 1
  const pretty = options.pretty ?? (fd === 1 ? process.stdout : process.stderr).isTTY === true
  const settings = { level, base: { pid: process.pid } }
  if (pretty) return pino({ ...settings, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', destination: fd } } })
  return fd === 1 ? pino(settings) : pino(settings, pino.destination({ fd: 2, sync: true }))
}
