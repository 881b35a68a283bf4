// Operator commands for identity, for when nobody can use the API yet (or any more):
// `stratum admin create-user`, `stratum admin reset-password`, `stratum api-keys create`.
import { systemContext } from '../core/context.ts'
import type { Runtime } from '../core/runtime.ts'
import { ROLES, type Role } from '../modules/identity/identity.schema.ts'
import { createIdentity } from '../modules/identity/index.ts'
import type { Command } from './main.ts'
import { USAGE, withRuntime } from './withRuntime.ts'

async function withIdentity(run: Parameters<Command['run']>[0], fn: (identity: ReturnType<typeof createIdentity>, rt: Runtime) => Promise<number>): Promise<number> {
  return withRuntime(run, async (rt) => {
    const identity = createIdentity(rt)
    try {
      return await fn(identity, rt)
    } finally {
      await identity.authenticator.close?.()
    }
  })
}

function required(values: Record<string, unknown>, ...names: string[]): string | null {
  const missing = names.filter((n) => typeof values[n] !== 'string' || values[n] === '')
  return missing.length ? `missing ${missing.map((m) => `--${m}`).join(', ')}` : null
}

async function readStdin(): Promise<string> {
  let data = ''
  for await (const chunk of process.stdin) data += chunk
  return data.replace(/\r?\n$/, '')
}

export const identityCommands: Record<string, Command> = {
  'admin create-user': {
    summary: 'Create a user (or take an existing one) and make them a member of an organisation',
    usage: 'stratum admin create-user --email E (--organization SLUG | --new-organization NAME) [--role owner|admin|editor|viewer] [--username U] [--password-stdin]',
    options: {
      email: { type: 'string', help: "The user's e-mail" },
      organization: { type: 'string', help: 'Slug of an existing organisation' },
      'new-organization': { type: 'string', help: 'Name of an organisation to create' },
      role: { type: 'string', help: 'owner (default), admin, editor or viewer' },
      username: { type: 'string', help: 'Username (default: from the e-mail)' },
      'password-stdin': { type: 'boolean', help: 'Read the password from standard input (otherwise one is generated and printed once)' },
    },
    async run(args) {
      const problem = required(args.values, 'email') ?? (!args.values.organization === !args.values['new-organization'] ? 'give --organization SLUG or --new-organization NAME (one of them)' : null)
      const role = (args.values.role ?? 'owner') as Role
      if (problem || !ROLES.includes(role)) {
        process.stderr.write(`${problem ?? `--role must be one of ${ROLES.join(', ')}`}\n`)
        return USAGE
      }
      const password = args.values['password-stdin'] ? await readStdin() : undefined
      return withIdentity(args, async (identity) => {
        const made = await identity.operators.createUser({
          email: args.values.email as string,
          organization: args.values.organization as string | undefined,
          newOrganization: args.values['new-organization'] as string | undefined,
          role,
          password,
          username: args.values.username as string | undefined,
        })
        process.stdout.write(
          `${made.created ? 'created' : 'added'} user ${made.user.email} (${made.user.id}) as ${made.role} of ${made.organization.slug} (${made.organization.id})\n` +
            (made.password ? `password (shown once): ${made.password}\n` : ''),
        )
        return 0
      })
    },
  },
  'admin reset-password': {
    summary: 'Make a single-use password reset token (valid 1 hour) for a user',
    usage: 'stratum admin reset-password --email E',
    options: { email: { type: 'string', help: "The user's e-mail" } },
    async run(args) {
      const problem = required(args.values, 'email')
      if (problem) {
        process.stderr.write(`${problem}\n`)
        return USAGE
      }
      return withIdentity(args, async (identity) => {
        const reset = await identity.accounts.createPasswordReset(systemContext(), args.values.email as string)
        process.stdout.write(`${reset.token}\n`)
        process.stderr.write(`reset token for ${reset.user.email}, valid until ${reset.expires_at}: POST /api/v1/auth/password-reset {"token", "new_password"}\n`)
        return 0
      })
    },
  },
  'api-keys create': {
    summary: 'Create an API key for a member of an organisation; prints the key once',
    usage: 'stratum api-keys create --email E --organization SLUG --name N --scopes a:read,b:write [--rate-limit N] [--expires-at ISO] [--device-id UUID]',
    options: {
      email: { type: 'string', help: 'The member the key acts for' },
      organization: { type: 'string', help: 'Slug or id of the organisation' },
      name: { type: 'string', help: 'A name to recognise the key by' },
      scopes: { type: 'string', help: "Comma-separated scopes, within the member's role" },
      'rate-limit': { type: 'string', help: 'Requests a minute (default API_KEY_DEFAULT_RATE_LIMIT)' },
      'expires-at': { type: 'string', help: 'ISO 8601 time the key stops working' },
      'device-id': { type: 'string', help: 'Makes a device key for this device entity' },
    },
    async run(args) {
      const problem = required(args.values, 'email', 'organization', 'name', ...(args.values['device-id'] ? [] : ['scopes']))
      const rate = args.values['rate-limit'] === undefined ? undefined : Number(args.values['rate-limit'])
      if (problem || (rate !== undefined && !(Number.isInteger(rate) && rate > 0))) {
        process.stderr.write(`${problem ?? '--rate-limit must be a positive integer'}\n`)
        return USAGE
      }
      return withIdentity(args, async (identity) => {
        const ctx = await identity.operators.actAs(args.values.email as string, args.values.organization as string)
        const scopes = String(args.values.scopes ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
        const created = await identity.apiKeys.create(ctx, {
          name: args.values.name as string,
          scopes,
          rate_limit_per_minute: rate,
          expires_at: args.values['expires-at'] as string | undefined,
          device_id: args.values['device-id'] as string | undefined,
        })
        process.stdout.write(`${created.key}\n`)
        process.stderr.write(`API key ${created.id} (${created.prefix}...) with scopes ${created.scopes.join(', ')}: shown once, store it now\n`)
        return 0
      })
    },
  },
}
