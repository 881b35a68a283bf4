// The one place errors become HTTP answers: RFC 9457 problem+json, never internals on a 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { DomainError, type FieldError } from '../errors.ts'

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
)

interface Problem {
  type: string
  title: string
  status: number
  detail: string
  errors?: FieldError[]
  [extra: string]: unknown
}

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'headers' }

interface AjvLikeError {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

function fieldErrors(context: string, errors: AjvLikeError[]): FieldError[] {
  const base = `/${PART[context] ?? context}`
  return errors.map((e) => {
    if (e.keyword === 'required') return { path: `${base}${e.instancePath}/${String(e.params.missingProperty)}`, message: 'is required' }
    if (e.keyword === 'additionalProperties')
      return { path: `${base}${e.instancePath}/${String(e.params.additionalProperty)}`, message: 'is not a known field' }
    if (e.keyword === 'enum') return { path: `${base}${e.instancePath}`, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` }
    return { path: `${base}${e.instancePath}`, message: e.message ?? 'is not valid' }
  })
}

/** Fastify's own client errors, by code. */
const FASTIFY_CODES: Record<string, Omit<Problem, 'detail'>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { type: '/problems/unsupported-media-type', title: 'Unsupported content type', status: 415 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { type: '/problems/bad-request', title: 'Request is malformed', status: 400 },
  FST_ERR_CTP_BODY_TOO_LARGE: { type: '/problems/too-large', title: 'Payload too large', status: 413 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { type: '/problems/bad-request', title: 'Request is malformed', status: 400 },
  FST_ERR_CTP_INVALID_JSON_BODY: { type: '/problems/bad-request', title: 'Request is malformed', status: 400 },
}

export function toProblem(err: FastifyError | Error, req: FastifyRequest): Problem {
  if (err instanceof DomainError) {
    const errors = (err as DomainError & { errors?: FieldError[] }).errors
    return {
      ...err.details,
      type: err.type,
      title: err.title,
      status: err.status,
      detail: err.message,
      ...(errors && errors.length > 0 ? { errors } : {}),
    }
  }
  const fe = err as FastifyError & { validation?: AjvLikeError[]; validationContext?: string }
  if (fe.validation) {
    const context = fe.validationContext ?? 'body'
    const errors = fieldErrors(context, fe.validation)
    // A body that parses but breaks the schema is 422; a bad path, query or header is 400.
    const status = context === 'body' ? 422 : 400
    return {
      type: status === 422 ? '/problems/validation' : '/problems/bad-request',
      title: status === 422 ? 'Request is not valid' : 'Request is malformed',
      status,
      detail: `${errors.length} ${errors.length === 1 ? 'field does' : 'fields do'} not match the ${PART[context] ?? context} schema`,
      errors,
    }
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined
  if (known) return { ...known, detail: fe.message } as Problem
  if (err instanceof SyntaxError || (fe.statusCode === 400 && fe.code === undefined)) {
    return { type: '/problems/bad-request', title: 'Request is malformed', status: 400, detail: `body is not valid JSON: ${err.message}` }
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { type: '/problems/bad-request', title: 'Request is not acceptable', status: fe.statusCode, detail: fe.message }
  }
  req.log.error({ err }, 'unhandled error')
  return { type: '/problems/internal', title: 'Internal error', status: 500, detail: 'an unexpected error occurred; quote the request id when reporting it' }
}

export function sendProblem(reply: FastifyReply, problem: Problem) {
  if (problem.status === 429 && typeof problem.retry_after === 'number') reply.header('retry-after', String(problem.retry_after))
  return reply
    .code(problem.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send(JSON.stringify({ ...problem, request_id: String(reply.request.id) }))
}
