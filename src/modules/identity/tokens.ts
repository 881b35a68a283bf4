// The secrets identity hands out: session tokens, API keys, backup codes, invitation and reset
// tokens. All come from the CSPRNG; only their SHA-256 is stored (they carry >= 128 random bits,
// so a fast hash is enough: nobody can guess their way back from it).
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { crc32 } from 'node:zlib'

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function randomBase62(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)]
  return out
}

function base62Fixed(n: number, width: number): string {
  let out = ''
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out
    n = Math.floor(n / 62)
  }
  return out
}

export const API_KEY_PREFIX = 'stratum_'
const API_KEY_BODY = 32 // 32 base62 characters: 190 random bits
const CHECKSUM = 6 // CRC32 (< 62^6) as 6 base62 characters
const API_KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${API_KEY_BODY + CHECKSUM}}$`)

const checksumOf = (body: string) => base62Fixed(crc32(`${API_KEY_PREFIX}${body}`), CHECKSUM)

/** A new API key: `stratum_` + 32 random base62 + a 6-character CRC32 checksum. */
export function newApiKey(): { key: string; hash: string; prefix: string } {
  const body = randomBase62(API_KEY_BODY)
  const key = `${API_KEY_PREFIX}${body}${checksumOf(body)}`
  return { key, hash: sha256(key), prefix: key.slice(0, API_KEY_PREFIX.length + 8) }
}

export const looksLikeApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX)

/** Whether an API key is well formed and its checksum matches: decided without any lookup. */
export function apiKeyChecksumValid(key: string): boolean {
  if (!API_KEY_PATTERN.test(key)) return false
  const body = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_BODY)
  return key.slice(API_KEY_PREFIX.length + API_KEY_BODY) === checksumOf(body)
}

/** An opaque token (sessions, invitations, password resets): 256 random bits, base64url. */
export function newOpaqueToken(kind: 'sess' | 'inv' | 'reset'): { token: string; hash: string } {
  const token = `${kind}_${randomBytes(32).toString('base64url')}`
  return { token, hash: sha256(token) }
}

export const SESSION_TOKEN = /^sess_[A-Za-z0-9_-]{43}$/

const BASE32 = 'abcdefghijkmnpqrstuvwxyz23456789' // no 0/o, 1/l: easy to read off paper

/** A backup code: 16 characters from a 32-letter alphabet (80 bits), shown as xxxx-xxxx-xxxx-xxxx. */
export function newBackupCode(): string {
  let raw = ''
  for (let i = 0; i < 16; i++) raw += BASE32[randomInt(32)]
  return raw.match(/.{4}/g)!.join('-')
}

/** Backup codes are compared without dashes, spaces or case. */
export const normaliseBackupCode = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '')
