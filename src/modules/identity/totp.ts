// TOTP (RFC 6238) through otpauth: SHA-1, 6 digits, 30 s, +-1 step of clock drift. The step a
// code matched is returned so the caller can refuse it a second time (no replay).
import * as OTPAuth from 'otpauth'
import QRCode from 'qrcode'

export const TOTP_PERIOD = 30
const DRIFT_STEPS = 1

export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32
}

const totpFor = (secretBase32: string, label = 'user', issuer = 'Stratum') =>
  new OTPAuth.TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret: OTPAuth.Secret.fromBase32(secretBase32) })

export function totpUri(secretBase32: string, label: string, issuer: string): string {
  return totpFor(secretBase32, label, issuer).toString()
}

export const totpQrSvg = (uri: string): Promise<string> => QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })

/** The time step a code matches (within +-1 step of `now`), or null. */
export function matchTotpStep(secretBase32: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const delta = totpFor(secretBase32).validate({ token: code, timestamp: now, window: DRIFT_STEPS })
  if (delta === null) return null
  return OTPAuth.TOTP.counter({ period: TOTP_PERIOD, timestamp: now }) + delta
}

/** The code for `secret` at `timestamp` (tests, and the RFC 6238 Appendix B vectors). */
export function totpCode(secret: OTPAuth.Secret | string, timestamp: number, options: { algorithm?: 'SHA1' | 'SHA256' | 'SHA512'; digits?: number } = {}): string {
  return OTPAuth.TOTP.generate({
    secret: typeof secret === 'string' ? OTPAuth.Secret.fromBase32(secret) : secret,
    algorithm: options.algorithm ?? 'SHA1',
    digits: options.digits ?? 6,
    period: TOTP_PERIOD,
    timestamp,
  })
}

export { OTPAuth }
