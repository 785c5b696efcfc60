/**
 * node-postgres pools per connection profile, created on first use and closed with the worker.
 * Clients are loaned through `withClient`, which always releases them.
 */
import pg from 'pg';
import { resolveProfile, type ConnectionProfile, type ConnectionProfiles } from '../config/connections.js';
import { PINNED_SETTINGS, sessionOptions, type SessionSettings } from './session-settings.js';
import { poolConnectionConfig } from '../config/libpq-conninfo.js';

/** Session settings pinned for every pooled pgferry connection (docs/design.md invariant 6). */
const PINNED_OPTIONS = sessionOptions(PINNED_SETTINGS);

export class Databases {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(
    readonly profiles: ConnectionProfiles,
    private readonly onPoolError: (profile: string, error: Error) => void = () => undefined,
  ) {}

  /** @throws UnknownConnectionError */
  profile(name: string): ConnectionProfile {
    return resolveProfile(this.profiles, name);
  }

  private pool(name: string): pg.Pool {
    const profile = this.profile(name);
    let pool = this.pools.get(profile.name);
    if (!pool) {
      pool = new pg.Pool({
        connectionTimeoutMillis: 15_000,
        ...poolConnectionConfig(profile.url, PINNED_OPTIONS),
        application_name: 'pgferry',
        max: 4,
        idleTimeoutMillis: 10_000,
      });
      // An idle client that loses its server must not crash the worker.
      pool.on('error', (error) => this.onPoolError(profile.name, error));
      this.pools.set(profile.name, pool);
    }
    return pool;
  }

  /** Runs `fn` with a pooled client of the profile and always releases it. */
  async withClient<T>(name: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool(name).connect();
    let failed = false;
    try {
      return await fn(client);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // A client whose session broke mid-transaction is destroyed, not returned to the pool.
      client.release(failed);
    }
  }

  /**
   * A dedicated client outside the pool, for long transactions such as a held snapshot;
   * `settings` for a session that needs more than the pinned ones (SOURCE_READ_SETTINGS).
   */
  async connect(
    name: string,
    applicationName: string,
    settings: SessionSettings = PINNED_SETTINGS,
  ): Promise<pg.Client> {
    const client = new pg.Client({
      connectionTimeoutMillis: 15_000,
      ...poolConnectionConfig(this.profile(name).url, sessionOptions(settings)),
      application_name: applicationName,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async end(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.end()));
    this.pools.clear();
  }
}

/** Runs `fn` inside BEGIN/COMMIT, rolling back on any error. */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
