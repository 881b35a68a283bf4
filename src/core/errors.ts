// One family of domain errors. Services throw these; src/core/http/problem.ts maps them to
// RFC 9457 problem responses in one place. Services never know about HTTP.
export interface FieldError {
  /** JSON Pointer into the request (`/body/name`, `/query/limit`). */
  path: string
  message: string
}

export abstract class DomainError extends Error {
  abstract readonly status: number
  abstract readonly type: string
  abstract readonly title: string
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
    this.name = new.target.name
  }
}

export class BadRequestError extends DomainError {
  readonly status = 400
  readonly type = '/problems/bad-request'
  readonly title = 'Request is malformed'
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message)
  }
}

export class ValidationError extends DomainError {
  readonly status = 422
  readonly type = '/problems/validation'
  readonly title = 'Request is not valid'
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message)
  }
}

export class UnauthorizedError extends DomainError {
  readonly status = 401
  readonly type = '/problems/unauthorized'
  readonly title = 'Authentication required'
}

export class ForbiddenError extends DomainError {
  readonly status = 403
  readonly type = '/problems/forbidden'
  readonly title = 'Not allowed'
}

export class NotFoundError extends DomainError {
  readonly status = 404
  readonly type = '/problems/not-found'
  readonly title = 'Not found'
}

export class ConflictError extends DomainError {
  readonly status = 409
  readonly type = '/problems/conflict'
  readonly title = 'Conflict'
}

/** A status machine refused a move; the message names both states. */
export class IllegalTransitionError extends DomainError {
  readonly status = 409
  readonly type = '/problems/illegal-transition'
  readonly title = 'Illegal status transition'
  constructor(
    readonly entity: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${entity} cannot move from ${from} to ${to}`, { from, to })
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413
  readonly type = '/problems/too-large'
  readonly title = 'Payload too large'
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly status = 415
  readonly type = '/problems/unsupported-media-type'
  readonly title = 'Unsupported content type'
}

export class NotReadyError extends DomainError {
  readonly status = 503
  readonly type = '/problems/not-ready'
  readonly title = 'Not ready'
}

/** Too many requests: the answer carries Retry-After (seconds). */
export class TooManyRequestsError extends DomainError {
  readonly status = 429
  readonly type = '/problems/rate-limited'
  readonly title = 'Too many requests'
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retry_after: retryAfterSeconds })
  }
}
