// Schema pieces every route uses, so that each module's API looks the same.
import { Type, type TProperties } from 'typebox'
import { ProblemSchema } from './problem.ts'

/** A request or response object: unknown fields are rejected. */
export const Strict = <P extends TProperties>(properties: P, options: { description?: string } = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options })

export const Uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) })
export const Timestamp = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) })
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const IdParams = Strict({ id: Uuid() })

/** The problem answers a route can give, for the OpenAPI document. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries([400, 401, ...statuses].map((s) => [s, ProblemSchema])) as Record<number, typeof ProblemSchema>

/** One of a fixed set of strings (`{ type: string, enum }` in the schema). */
export const StringEnum = <const V extends readonly string[]>(values: V, options: { description?: string; default?: V[number] } = {}) =>
  Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options })
