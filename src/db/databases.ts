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

/**
 * A session of its own on loan (Databases.openSession): named for its work while it is out, and
 * returned clean (no transaction, no session state, its name reset) or, when that fails, closed.
 */
export interface Session {
  readonly client: pg.PoolClient;
  /**
   * Gives the session back: `reuse` after work that ended with no query left running (it is then
   * cleaned for the next loan); otherwise, or when cleaning fails, the connection is closed, as
   * a failure may leave a query running that cleaning would wait for.
   */
  close(reuse: boolean): Promise<void>;
}

/** Idle connections are closed after this; a run's steps follow each other well within it. */
const IDLE_MS = 10_000;
/** Short queries at once per profile; more wait for a client. */
const SHORT_QUERY_CLIENTS = 4;
/**
 * Sessions out at once per profile and settings before a caller waits (pg.Pool needs a bound):
 * PostgreSQL's default max_connections, far above what a worker's copies hold at once (one or
 * two per copy step), so a caller does not wait on another copy's session.
 */
const SESSIONS_PER_POOL = 100;

export class Databases {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly sessionPools = new Map<string, pg.Pool>();

  constructor(
    readonly profiles: ConnectionProfiles,
    private readonly onPoolError: (profile: string, error: Error) => void = () => undefined,
  ) {}

  /** @throws UnknownConnectionError */
  profile(name: string): ConnectionProfile {
    return resolveProfile(this.profiles, name);
  }

  /** The short-query pool of a profile: catalog reads, counts, ledger rows, progress samples. */
  private pool(name: string): pg.Pool {
    return this.pooled(this.pools, name, PINNED_OPTIONS, SHORT_QUERY_CLIENTS);
  }

  /** The profile's pool for `options` in `pools`, made on first use. */
  private pooled(pools: Map<string, pg.Pool>, name: string, options: string, max: number): pg.Pool {
    const profile = this.profile(name);
    const key = `${profile.name}\0${options}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = new pg.Pool({
        connectionTimeoutMillis: 15_000,
        ...poolConnectionConfig(profile.url, options),
        application_name: 'pgferry',
        max,
        idleTimeoutMillis: IDLE_MS,
      });
      // An idle client that loses its server must not crash the worker.
      pool.on('error', (error) => this.onPoolError(profile.name, error));
      pools.set(key, pool);
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

  /**
   * A session for work that another attempt must be able to fence (activities/attempt-fence.ts):
   * `applicationName` names it while it is out. Sessions are kept warm between loans: a new
   * backend costs a connection and cold catalog caches (10-25 ms on the first queries here),
   * paid four times by every small incremental run when each step opened its own. On close the
   * session leaves any transaction and runs DISCARD ALL (its name and settings back to the
   * connection's defaults, temporary tables and advisory locks gone); a session after a failure,
   * or one that cannot be cleaned, is closed instead. A fenced (terminated) session fails its
   * next query and is never reused.
   */
  async openSession(
    name: string,
    applicationName: string,
    settings: SessionSettings = PINNED_SETTINGS,
  ): Promise<Session> {
    const client = await this.sessionPool(name, settings).connect();
    // The pool listens for errors only while a client is idle: a session ended between queries
    // (a fence) would otherwise raise an uncaught 'error' and take the worker down. Its next
    // query fails instead.
    const ignoreError = () => undefined;
    client.on('error', ignoreError);
    const release = (destroy: boolean) => {
      client.removeListener('error', ignoreError);
      client.release(destroy);
    };
    try {
      await client.query("SELECT set_config('application_name', $1, false)", [applicationName]);
    } catch (error) {
      release(true);
      throw error;
    }
    let closed = false;
    return {
      client,
      async close(reuse) {
        if (closed) return;
        closed = true;
        // ROLLBACK only in a transaction: outside one it logs a WARNING on the server each time.
        const clean =
          reuse &&
          (await (client.getTransactionStatus() === 'I' ? Promise.resolve() : client.query('ROLLBACK'))
            .then(() => client.query('DISCARD ALL'))
            .then(
              () => true,
              () => false,
            ));
        release(!clean);
      },
    };
  }

  /** Runs `fn` on a session of its own (openSession) and always gives the session back. */
  async withSession<T>(
    name: string,
    applicationName: string,
    fn: (client: pg.PoolClient) => Promise<T>,
    settings: SessionSettings = PINNED_SETTINGS,
  ): Promise<T> {
    const session = await this.openSession(name, applicationName, settings);
    let succeeded = false;
    try {
      const result = await fn(session.client);
      succeeded = true;
      return result;
    } finally {
      await session.close(succeeded);
    }
  }

  private sessionPool(name: string, settings: SessionSettings): pg.Pool {
    return this.pooled(this.sessionPools, name, sessionOptions(settings), SESSIONS_PER_POOL);
  }

  async end(): Promise<void> {
    const pools = [...this.pools.values(), ...this.sessionPools.values()];
    await Promise.all(pools.map((pool) => pool.end()));
    this.pools.clear();
    this.sessionPools.clear();
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
