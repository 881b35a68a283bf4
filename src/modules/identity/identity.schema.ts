// Identity tables: organisations (the tenants), users, memberships, sessions, login history,
// backup codes, API keys and their usage, invitations, password resets, throttle buckets.
// Seed 004 names most of them; docs/data-model.md maps each and says where we differ.
import { sql } from 'drizzle-orm'
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { idColumn, newId, timestamps } from '../../core/behaviours/columns.ts'

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const
export type Role = (typeof ROLES)[number]

export interface OrganizationSettings {
  unit_system: string
  time_zone: string
}

export const organizations = pgTable(
  'organizations',
  {
    ...idColumn(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    settings: jsonb('settings').$type<OrganizationSettings>().notNull(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('organizations_slug_key').on(t.slug), check('organizations_slug_format', sql`${t.slug} ~ '^[a-z0-9][a-z0-9-]{0,62}$'`)],
)

export const users = pgTable(
  'users',
  {
    ...idColumn(),
    email: text('email').notNull(),
    username: text('username').notNull(),
    passwordHash: text('password_hash').notNull(),
    isActive: boolean('is_active').notNull().default(true),
    totpSecret: text('totp_secret'),
    totpEnabled: boolean('totp_enabled').notNull().default(false),
    /** The last TOTP time step accepted: a code for this step or an earlier one is a replay. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    passwordChangedAt: tstz('password_changed_at').notNull().defaultNow(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('users_email_key').on(sql`lower(${t.email})`), uniqueIndex('users_username_key').on(sql`lower(${t.username})`)],
)

export const memberships = pgTable(
  'memberships',
  {
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role').$type<Role>().notNull(),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ columns: [t.organizationId, t.userId] }),
    index('memberships_user_idx').on(t.userId),
    check('memberships_role_check', sql`${t.role} in ('owner', 'admin', 'editor', 'viewer')`),
  ],
)

export const invitations = pgTable(
  'invitations',
  {
    ...idColumn(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    role: text('role').$type<Role>().notNull(),
    tokenHash: text('token_hash').notNull(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: tstz('expires_at').notNull(),
    acceptedAt: tstz('accepted_at'),
    acceptedBy: uuid('accepted_by').references(() => users.id, { onDelete: 'set null' }),
    revokedAt: tstz('revoked_at'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('invitations_token_key').on(t.tokenHash),
    index('invitations_org_idx').on(t.organizationId, t.createdAt, t.id),
    check('invitations_role_check', sql`${t.role} in ('owner', 'admin', 'editor', 'viewer')`),
  ],
)

/** Seed 004 `session_logs`: one row per signed-in session; the token itself is never stored. */
export const sessions = pgTable(
  'sessions',
  {
    ...idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    deviceType: text('device_type'),
    browser: text('browser'),
    location: text('location'),
    lastActive: tstz('last_active').notNull().defaultNow(),
    expiresAt: tstz('expires_at').notNull(),
    isActive: boolean('is_active').notNull().default(true),
    loggedOutAt: tstz('logged_out_at'),
    ...timestamps(),
  },
  (t) => [uniqueIndex('sessions_token_key').on(t.tokenHash), index('sessions_user_idx').on(t.userId, t.createdAt, t.id)],
)

/** Seed 004 `login_history`: every attempt, including those for e-mails nobody has. */
export const loginHistory = pgTable(
  'login_history',
  {
    id: uuid('id').primaryKey().$defaultFn(newId),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    location: text('location'),
    loginMethod: text('login_method').notNull(),
    success: boolean('success').notNull(),
    failureReason: text('failure_reason'),
    timestamp: tstz('timestamp').notNull().defaultNow(),
  },
  (t) => [index('login_history_user_idx').on(t.userId, t.timestamp, t.id)],
)

export const backupCodes = pgTable(
  'backup_codes',
  {
    ...idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    isUsed: boolean('is_used').notNull().default(false),
    usedAt: tstz('used_at'),
    ipAddress: text('ip_address'),
    ...timestamps(),
  },
  (t) => [uniqueIndex('backup_codes_code_key').on(t.codeHash), index('backup_codes_user_unused_idx').on(t.userId, t.isUsed)],
)

export const passwordResets = pgTable(
  'password_resets',
  {
    ...idColumn(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    usedAt: tstz('used_at'),
    createdAt: tstz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('password_resets_token_key').on(t.tokenHash)],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    ...idColumn(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    scopes: text('scopes').array().notNull(),
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    /** A device key may act only for this device entity (assets issue). */
    deviceId: uuid('device_id'),
    lastUsedAt: tstz('last_used_at'),
    isActive: boolean('is_active').notNull().default(true),
    revokedAt: tstz('revoked_at'),
    expiresAt: tstz('expires_at'),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('api_keys_hash_key').on(t.keyHash),
    index('api_keys_org_idx').on(t.organizationId, t.createdAt, t.id),
    index('api_keys_prefix_idx').on(t.prefix),
    check('api_keys_rate_limit_check', sql`${t.rateLimitPerMinute} is null or ${t.rateLimitPerMinute} > 0`),
  ],
)

/** Upper bounds (ms) of the response-time histogram buckets; the last bucket is everything slower. */
export const USAGE_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const

/**
 * Seed 004 `api_usage`, rolled up: one row per key, minute, method, endpoint and status with the
 * request count, total and largest response time and a histogram (USAGE_BUCKETS_MS + overflow),
 * rather than one row per request (docs/data-model.md gives the measured reason).
 */
export const apiUsage = pgTable(
  'api_usage',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    apiKeyId: uuid('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    organizationId: uuid('organization_id').notNull(),
    minute: tstz('minute').notNull(),
    endpoint: text('endpoint').notNull(),
    method: text('method').notNull(),
    statusCode: integer('status_code').notNull(),
    requestCount: integer('request_count').notNull(),
    responseTimeMsTotal: bigint('response_time_ms_total', { mode: 'number' }).notNull(),
    responseTimeMsMax: integer('response_time_ms_max').notNull(),
    responseTimeHistogram: integer('response_time_histogram').array().notNull(),
  },
  (t) => [uniqueIndex('api_usage_rollup_key').on(t.apiKeyId, t.minute, t.method, t.endpoint, t.statusCode)],
)

/** Seed 003 `ThrottleBucket`: failed-login counters shared by every server process. */
export const throttleBuckets = pgTable('throttle_buckets', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  windowStart: tstz('window_start').notNull(),
  lastFailureAt: tstz('last_failure_at').notNull(),
  lockedUntil: tstz('locked_until'),
})
