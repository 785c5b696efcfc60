/**
 * Small node-postgres helpers for tests: one-shot queries and a digest of every row of a table,
 * so tests compare contents, not counts.
 */
import pg from 'pg';
import { sessionOptions } from '../../src/db/session-settings.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';

/** The same pinned settings the product uses (TimeZone=UTC among them), so rows render identically. */
const PINNED = sessionOptions();

/** Runs `fn` with a fresh client (pinned settings) and always closes it. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, options: PINNED, connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One statement (or a multi-statement script without parameters) on a fresh connection. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  return withClient(url, (client) => client.query<R>(sql, values));
}

export interface TableDigest {
  rows: number;
  /** md5 over every row's text, sorted; null for an empty table. */
  digest: string | null;
}

/** Row count and an md5 of every row's text form, in a deterministic order. */
export async function tableDigest(url: string, table: TableRef): Promise<TableDigest> {
  const { rows } = await query<{ rows: number; digest: string | null }>(
    url,
    `SELECT count(*)::int AS rows, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM ${quoteTable(table)} t`,
  );
  return rows[0]!;
}

export async function rowCount(url: string, table: TableRef): Promise<number> {
  const { rows } = await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${quoteTable(table)}`);
  return rows[0]!.n;
}

/**
 * Waits until a `COPY ... FROM STDIN` on the server has stored at least one row, i.e. the
 * stream is flowing and the import is mid-COPY. Throws after `timeoutMs` (a hang, not a timing check).
 */
export async function waitForImportProgress(url: string, timeoutMs = 60_000): Promise<number> {
  return withClient(url, async (client) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT tuples_processed::text AS n FROM pg_stat_progress_copy WHERE command = 'COPY FROM' AND tuples_processed > 0`,
      );
      if (rows[0]) return Number(rows[0].n);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no COPY FROM made progress within ${timeoutMs} ms`);
  });
}

/** Waits until `count` sessions wait for a lock on `table`. Throws after `timeoutMs` (a hang, not a timing check). */
export async function waitForLockWaiters(
  url: string,
  table: TableRef,
  count: number,
  timeoutMs = 60_000,
): Promise<void> {
  await withClient(url, async (client) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = $1::regclass',
        [quoteTable(table)],
      );
      if (rows[0]!.n >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`fewer than ${count} sessions waited for a lock on ${quoteTable(table)} within ${timeoutMs} ms`);
  });
}
