// A session's user agent, parsed into what the sessions list shows (seed 004 `session_logs`).
import Bowser from 'bowser'

export function describeUserAgent(ua: string | undefined): { deviceType: string | null; browser: string | null } {
  if (!ua) return { deviceType: null, browser: null }
  try {
    const parsed = Bowser.parse(ua)
    const name = parsed.browser.name ?? null
    const version = parsed.browser.version?.split('.')[0]
    return { deviceType: parsed.platform.type ?? null, browser: name ? (version ? `${name} ${version}` : name) : null }
  } catch {
    return { deviceType: null, browser: null }
  }
}
