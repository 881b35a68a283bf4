// PostgreSQL constraint violations, recognised through drizzle's wrapper on either driver
// (PGlite and node-postgres both carry `code` and `constraint`, sometimes on `cause`).
interface PgErrorLike {
  code?: string
  constraint?: string
  message?: string
  cause?: unknown
}

function violation(err: unknown, code: string, constraint?: string): boolean {
  for (let e = err as PgErrorLike | undefined; e; e = e.cause as PgErrorLike | undefined) {
    if (e.code === code) return !constraint || e.constraint === constraint || (e.message ?? '').includes(constraint)
  }
  return false
}

/** A unique violation (23505), of `constraint` when given. */
export const isUniqueViolation = (err: unknown, constraint?: string): boolean => violation(err, '23505', constraint)

/** A foreign key violation (23503), of `constraint` when given. */
export const isForeignKeyViolation = (err: unknown, constraint?: string): boolean => violation(err, '23503', constraint)

/** A statement's stratum_require(...) check failed (SR001, migration 0010): what it read before has changed. */
export const isStale = (err: unknown): boolean => violation(err, 'SR001')
