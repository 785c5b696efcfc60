/**
 * One connection profile, two clients: psql (libpq) and the node-postgres pool. A profile means
 * the same thing to both (DESIGN.md "Operations"):
 *   - psql gets the profile's own libpq URI as its dbname argument, with the password removed (it
 *     travels in PGPASSWORD), so every libpq option a user writes (sslmode, sslrootcert, options,
 *     target_session_attrs, several hosts, keepalives, service) reaches libpq unchanged;
 *   - the pool reads the URI with pg-connection-string's libpq-compatible mode, so `sslmode` keeps
 *     libpq's meaning (`require` encrypts without verifying, `verify-ca` skips the host name).
 * Both apply the user's `options` first and pgferry's pinned session settings last, so a user
 * setting never changes how a value renders.
 *
 * What the pool cannot honour (README): several hosts and `target_session_attrs` (psql fails
 * over, the pool connects to the one host), `service` (no pg_service.conf), `sslmode=prefer` and
 * `allow` (no plaintext fallback: the pool insists on TLS), keyword/value conninfo strings.
 */
import { parse as parseConnectionString } from 'pg-connection-string';
import type pg from 'pg';

const URI = /^(postgres(?:ql)?:\/\/)([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/i;

/**
 * Parameters psql does not get from the URI: the password (PGPASSWORD carries it), `options`
 * (merged below), and what pgferry sets itself: application_name names each backend of a copy
 * (fencing and progress find them by it) and client_encoding is pinned to UTF8.
 */
const DROPPED_FOR_PSQL = new Set([
  'password',
  'options',
  'application_name',
  'fallback_application_name',
  'client_encoding',
]);

/** libpq URIs decode %XX only (no `+` for space). */
function decode(value: string): string {
  return decodeURIComponent(value);
}

/** `-c a=b` settings joined; the pinned ones last, so they win over a user's. */
export function mergeOptions(userOptions: string | undefined, pinned: string): string {
  return userOptions?.trim() ? `${userOptions.trim()} ${pinned}` : pinned;
}

/**
 * The profile's URI for psql's dbname argument: no password (in the user part or as a
 * parameter), no application_name or client_encoding (pgferry's own), `options` merged with the
 * pinned settings, everything else as the user wrote it.
 * @throws Error when the profile is not a postgres:// or postgresql:// URI.
 */
export function psqlConninfo(url: string, pinnedOptions: string): string {
  const match = URI.exec(url);
  if (!match) throw new Error('a connection profile must be a postgres:// or postgresql:// URI');
  const [, scheme, authority = '', path = '', query, fragment = ''] = match;
  const at = authority.lastIndexOf('@');
  const userInfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hosts = at >= 0 ? authority.slice(at + 1) : authority;
  const user = userInfo === undefined ? '' : `${userInfo.split(':')[0]}@`;

  const params = (query ?? '').split('&').filter((param) => param !== '');
  let userOptions: string | undefined;
  const kept = params.filter((param) => {
    const key = decode(param.split('=')[0]!);
    if (key === 'options') userOptions = decode(param.slice(param.indexOf('=') + 1));
    return !DROPPED_FOR_PSQL.has(key);
  });
  kept.push(`options=${encodeURIComponent(mergeOptions(userOptions, pinnedOptions))}`);
  return `${scheme}${user}${hosts}${path}?${kept.join('&')}${fragment}`;
}

/**
 * node-postgres settings for a profile: the URI read in libpq-compatible mode, the user's
 * `options` followed by the pinned settings, and libpq's keepalive and connect_timeout
 * parameters in node-postgres's terms. Pass the result without `connectionString` (node-postgres
 * would re-read it and let the URI's `options` replace the pinned ones).
 */
export function poolConnectionConfig(url: string, pinnedOptions: string): pg.ClientConfig {
  const explicitCompat = /[?&]uselibpqcompat=/i.test(url);
  const parsed = parseConnectionString(url, { useLibpqCompat: !explicitCompat }) as Record<string, unknown>;
  const text = (key: string) => (typeof parsed[key] === 'string' && parsed[key] !== '' ? parsed[key] : undefined);
  const config: pg.ClientConfig = {
    host: text('host'),
    port: text('port') === undefined ? undefined : Number(text('port')),
    user: text('user'),
    password: text('password'),
    database: text('database') ?? undefined,
    ssl: parsed.ssl as pg.ClientConfig['ssl'],
    options: mergeOptions(text('options'), pinnedOptions),
  };
  const keepalives = text('keepalives');
  const idle = text('keepalives_idle');
  if (keepalives === '0') config.keepAlive = false;
  else if (keepalives !== undefined || idle !== undefined) config.keepAlive = true;
  if (idle !== undefined && keepalives !== '0') config.keepAliveInitialDelayMillis = Number(idle) * 1000;
  const connectTimeout = text('connect_timeout');
  if (connectTimeout !== undefined) config.connectionTimeoutMillis = Number(connectTimeout) * 1000;
  return config;
}
