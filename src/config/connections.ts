/**
 * Connection profiles: `PGFERRY_CONN_<NAME>` holds a libpq URI for the profile `<name>`.
 * Only the worker reads them; workflow input and history carry profile names alone.
 */
import { parse as parseConnectionString } from 'pg-connection-string';

/** A resolved profile. `url` holds the password: never log it, never put it in argv. */
export interface ConnectionProfile {
  name: string;
  url: string;
}

export type ConnectionProfiles = ReadonlyMap<string, ConnectionProfile>;

const PREFIX = 'PGFERRY_CONN_';
const PROFILE_NAME = /^[a-z][a-z0-9_]*$/;

/** Raised when a copy names a profile that is not configured. */
export class UnknownConnectionError extends Error {
  override name = 'UnknownConnectionError';
  constructor(
    readonly profile: string,
    known: string[],
  ) {
    super(
      `unknown connection profile "${profile}": set ${PREFIX}${profile.toUpperCase()} to a postgres:// URI on the worker` +
        (known.length ? ` (configured: ${known.join(', ')})` : ' (no profiles are configured)'),
    );
  }
}

/** Whether a string is acceptable as a profile name (letters, digits, underscore). */
export function isValidProfileName(name: string): boolean {
  return PROFILE_NAME.test(name.toLowerCase());
}

/** Collects every `PGFERRY_CONN_<NAME>` variable into profiles keyed by lower-case name. */
export function loadConnectionProfiles(env: NodeJS.ProcessEnv = process.env): ConnectionProfiles {
  const profiles = new Map<string, ConnectionProfile>();
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(PREFIX) || !value) continue;
    const name = key.slice(PREFIX.length).toLowerCase();
    if (isValidProfileName(name)) profiles.set(name, { name, url: value });
  }
  return profiles;
}

/**
 * Looks a profile up by name (case-insensitive).
 * @throws UnknownConnectionError when it is not configured.
 */
export function resolveProfile(profiles: ConnectionProfiles, name: string): ConnectionProfile {
  const profile = profiles.get(name.toLowerCase());
  if (!profile) throw new UnknownConnectionError(name, [...profiles.keys()]);
  return profile;
}

/** The secrets of a profile, so redaction can remove them from any text. */
export function profileSecrets(profile: ConnectionProfile): string[] {
  const { password } = parseConnectionString(profile.url);
  return password ? [password, encodeURIComponent(password)] : [];
}

/**
 * libpq environment for a child `psql` (PGHOST, PGPASSWORD, ...): the password reaches psql
 * through its own environment, readable only by this user, never through argv.
 */
export function libpqEnvironment(profile: ConnectionProfile): Record<string, string> {
  const parsed = parseConnectionString(profile.url) as Record<string, unknown>;
  const env: Record<string, string> = {};
  const map: Record<string, string> = {
    host: 'PGHOST',
    port: 'PGPORT',
    user: 'PGUSER',
    password: 'PGPASSWORD',
    database: 'PGDATABASE',
    sslmode: 'PGSSLMODE',
    sslrootcert: 'PGSSLROOTCERT',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
    connect_timeout: 'PGCONNECT_TIMEOUT',
  };
  for (const [key, variable] of Object.entries(map)) {
    const value = parsed[key];
    if (typeof value === 'string' && value !== '') env[variable] = value;
    else if (typeof value === 'number') env[variable] = String(value);
  }
  return env;
}
