// Password hashing: argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1) passed
// explicitly, so a library default can never weaken them.
import { hash, verify, type Options } from '@node-rs/argon2'
import { ValidationError } from '../../core/errors.ts'

// Algorithm.Argon2id is an ambient const enum (2), which verbatimModuleSyntax cannot import.
const ARGON2ID = 2 as unknown as NonNullable<Options['algorithm']>
const OWASP: Options = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 }

export const PASSWORD_MIN = 8
/** Longer passwords are refused before hashing, so nobody can make us hash megabytes. */
export const PASSWORD_MAX = 256

export function checkPassword(password: string, field: string): void {
  if (password.length < PASSWORD_MIN) throw new ValidationError(`a password needs at least ${PASSWORD_MIN} characters`, [{ path: field, message: `must be at least ${PASSWORD_MIN} characters` }])
  if (password.length > PASSWORD_MAX) throw new ValidationError(`a password may have at most ${PASSWORD_MAX} characters`, [{ path: field, message: `must be at most ${PASSWORD_MAX} characters` }])
}

export const hashPassword = (password: string): Promise<string> => hash(password, OWASP)

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  if (password.length > PASSWORD_MAX) return false
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

// Checked against when the e-mail is unknown, so that answer takes as long as a wrong password.
let dummy: Promise<string> | null = null
export async function verifyAgainstNothing(password: string): Promise<false> {
  dummy ??= hashPassword('stratum-no-such-user')
  await verifyPassword(await dummy, password.slice(0, PASSWORD_MAX))
  return false
}
