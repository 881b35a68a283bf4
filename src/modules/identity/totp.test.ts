// Unit tests of the second-factor and token primitives: RFC 6238 Appendix B vectors through
// totpCode, the +-1 step drift window of matchTotpStep, API key checksums and backup codes.
import { describe, expect, it } from 'vitest'
import { OTPAuth, TOTP_PERIOD, matchTotpStep, newTotpSecret, totpCode } from './totp.ts'
import { API_KEY_PREFIX, apiKeyChecksumValid, looksLikeApiKey, newApiKey, newBackupCode, normaliseBackupCode, sha256 } from './tokens.ts'

const SEEDS = {
  SHA1: '12345678901234567890',
  SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
} as const

// RFC 6238 Appendix B: time (s), T (hex), then the 8-digit TOTP for SHA1, SHA256 and SHA512.
const VECTORS: [number, string, string, string, string][] = [
  [59, '0000000000000001', '94287082', '46119246', '90693936'],
  [1111111109, '00000000023523EC', '07081804', '68084774', '25091201'],
  [1111111111, '00000000023523ED', '14050471', '67062674', '99943326'],
  [1234567890, '000000000273EF07', '89005924', '91819424', '93441116'],
  [2000000000, '0000000003F940AA', '69279037', '90698825', '38618901'],
  [20000000000, '0000000027BC86AA', '65353130', '77737706', '47863826'],
]

describe('totpCode: RFC 6238 Appendix B', () => {
  it('uses the seeds the RFC specifies (20, 32 and 64 bytes)', () => {
    expect(OTPAuth.Secret.fromUTF8(SEEDS.SHA1).bytes.length).toBe(20)
    expect(OTPAuth.Secret.fromUTF8(SEEDS.SHA256).bytes.length).toBe(32)
    expect(OTPAuth.Secret.fromUTF8(SEEDS.SHA512).bytes.length).toBe(64)
  })

  for (const [seconds, t, sha1, sha256Code, sha512] of VECTORS) {
    const ms = seconds * 1000
    it(`at ${seconds} s (T = ${t})`, () => {
      expect(OTPAuth.TOTP.counter({ period: TOTP_PERIOD, timestamp: ms })).toBe(parseInt(t, 16))
      expect(totpCode(OTPAuth.Secret.fromUTF8(SEEDS.SHA1), ms, { algorithm: 'SHA1', digits: 8 })).toBe(sha1)
      expect(totpCode(OTPAuth.Secret.fromUTF8(SEEDS.SHA256), ms, { algorithm: 'SHA256', digits: 8 })).toBe(sha256Code)
      expect(totpCode(OTPAuth.Secret.fromUTF8(SEEDS.SHA512), ms, { algorithm: 'SHA512', digits: 8 })).toBe(sha512)
    })
  }

  it('defaults to SHA-1 and 6 digits (the last 6 digits of the 8-digit value), with a base32 secret', () => {
    const base32 = OTPAuth.Secret.fromUTF8(SEEDS.SHA1).base32
    expect(totpCode(base32, 59_000)).toBe('287082')
    expect(totpCode(base32, 1_111_111_109_000)).toBe('081804')
  })
})

describe('matchTotpStep', () => {
  // A fixed secret and time, so no two codes below can collide by chance.
  const secret = OTPAuth.Secret.fromUTF8(SEEDS.SHA1).base32
  const now = 1_700_000_015_000 // the middle of a step
  const step = Math.floor(now / 1000 / TOTP_PERIOD)
  const at = (offsetSteps: number) => totpCode(secret, now + offsetSteps * TOTP_PERIOD * 1000)

  it('the codes of neighbouring steps differ (the fixture is meaningful)', () => {
    expect(new Set([-2, -1, 0, 1, 2].map(at)).size).toBe(5)
  })

  it('accepts the current code and answers its step', () => {
    expect(matchTotpStep(secret, at(0), now)).toBe(step)
  })

  it('accepts the previous and the next step, answering the step the code belongs to', () => {
    expect(matchTotpStep(secret, at(-1), now)).toBe(step - 1)
    expect(matchTotpStep(secret, at(1), now)).toBe(step + 1)
  })

  it('rejects codes two steps away, either side', () => {
    expect(matchTotpStep(secret, at(-2), now)).toBeNull()
    expect(matchTotpStep(secret, at(2), now)).toBeNull()
  })

  it('rejects anything that is not 6 digits, and a code for another secret', () => {
    for (const bad of ['', '12345', '1234567', 'abcdef', ` ${at(0).slice(1)}`, `${at(0)} `]) expect(matchTotpStep(secret, bad, now)).toBeNull()
    const other = OTPAuth.Secret.fromUTF8('another secret, 20 b').base32
    const foreign = totpCode(other, now)
    expect([-1, 0, 1].map(at)).not.toContain(foreign)
    expect(matchTotpStep(secret, foreign, now)).toBeNull()
  })

  it('new secrets are 160-bit base32 strings that round-trip through a code', () => {
    const s = newTotpSecret()
    expect(s).toMatch(/^[A-Z2-7]{32}$/)
    expect(matchTotpStep(s, totpCode(s, now), now)).toBe(step)
  })
})

describe('API keys', () => {
  const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

  it('newApiKey: stratum_ + 38 base62 characters, a valid checksum, its SHA-256 and a display prefix', () => {
    const { key, hash, prefix } = newApiKey()
    expect(key).toMatch(/^stratum_[0-9A-Za-z]{38}$/)
    expect(looksLikeApiKey(key)).toBe(true)
    expect(apiKeyChecksumValid(key)).toBe(true)
    expect(hash).toBe(sha256(key))
    expect(prefix).toBe(key.slice(0, API_KEY_PREFIX.length + 8))
    expect(newApiKey().key).not.toBe(key)
  })

  it('every key made passes its checksum', () => {
    for (let i = 0; i < 200; i++) expect(apiKeyChecksumValid(newApiKey().key)).toBe(true)
  })

  it('changing any one character (body or checksum) to any other base62 character fails the checksum', () => {
    const { key } = newApiKey()
    let tried = 0
    for (let i = API_KEY_PREFIX.length; i < key.length; i++) {
      for (const c of BASE62) {
        if (c === key[i]) continue
        const changed = key.slice(0, i) + c + key.slice(i + 1)
        tried++
        expect(apiKeyChecksumValid(changed), changed).toBe(false)
      }
    }
    expect(tried).toBe(38 * 61)
  })

  it('refuses malformed keys: wrong prefix, length or alphabet', () => {
    const { key } = newApiKey()
    expect(apiKeyChecksumValid(key.replace('stratum_', 'stratun_'))).toBe(false)
    expect(apiKeyChecksumValid(key.slice(0, -1))).toBe(false)
    expect(apiKeyChecksumValid(`${key}0`)).toBe(false)
    expect(apiKeyChecksumValid(`${key.slice(0, 20)}-${key.slice(21)}`)).toBe(false)
    expect(apiKeyChecksumValid('')).toBe(false)
  })
})

describe('backup codes', () => {
  it('are four groups of four characters from an alphabet without 0, o, 1 and l', () => {
    const codes = Array.from({ length: 200 }, newBackupCode)
    for (const code of codes) expect(code).toMatch(/^[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}$/)
    expect(new Set(codes).size).toBe(codes.length)
  })

  it('are compared without dashes, spaces or case', () => {
    const code = newBackupCode()
    const plain = code.replace(/-/g, '')
    expect(normaliseBackupCode(code)).toBe(plain)
    expect(normaliseBackupCode(code.toUpperCase())).toBe(plain)
    expect(normaliseBackupCode(` ${code.replace(/-/g, ' ')}\t`)).toBe(plain)
    expect(normaliseBackupCode('ABCD-efgh IJKM-npqr')).toBe('abcdefghijkmnpqr')
  })
})
