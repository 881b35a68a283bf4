// What a caller may do. Every API route declares one scope in `config.scope` (or
// `config.public`); roles grant sets of scopes; an API key carries a subset of its creator's.
// Modules add their resources here so that roles and keys know them.
export const RESOURCES = [
  'events',
  'jobs',
  'files',
  'api_keys',
  'assets',
  'units',
  'measurements',
  'sources',
  'scenarios',
  'automations',
  'ai',
  'ml',
] as const

/**
 * `self`: who am I (any credential). `account`: manage one's own password, sessions and
 * second factor (sessions only; never delegated to a key). `admin`: members, invitations, the
 * organisation's settings and every key in it. `owner`: grant or take the owner role.
 * `organization:read`: see the organisation and its members. `device`: what a device key may do (post its readings and events, read its commands).
 * `scenarios:approve`: approve or reject someone else's scenario (seed 000's approval permission).
 */
export const SPECIAL_SCOPES = ['self', 'account', 'organization:read', 'admin', 'owner', 'device', 'scenarios:approve'] as const

export const SCOPES: readonly string[] = [...RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`]), ...SPECIAL_SCOPES]

/** Scopes that do not act inside an organisation, so a request needs none selected. */
export const UNSCOPED_TO_ORGANIZATION: ReadonlySet<string> = new Set(['self', 'account'])

/**
 * Scopes an API key can never carry, whoever creates it. `api_keys:write` among them: a key that
 * could mint keys would outlive its own revocation or expiry through the keys it made.
 */
export const NOT_DELEGABLE: ReadonlySet<string> = new Set(['account', 'owner', 'device', 'api_keys:write'])

const reads = RESOURCES.map((r) => `${r}:read`)
const writes = RESOURCES.map((r) => `${r}:write`)

export const ROLE_SCOPES: Readonly<Record<'owner' | 'admin' | 'editor' | 'viewer', readonly string[]>> = {
  viewer: ['self', 'account', 'organization:read', ...reads, 'api_keys:write'],
  editor: ['self', 'account', 'organization:read', ...reads, ...writes],
  admin: ['self', 'account', 'organization:read', ...reads, ...writes, 'admin', 'scenarios:approve'],
  owner: ['self', 'account', 'organization:read', ...reads, ...writes, 'admin', 'scenarios:approve', 'owner'],
}

/** A device key's fixed scopes. */
export const DEVICE_SCOPES: readonly string[] = ['self', 'device']
