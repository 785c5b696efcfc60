/**
 * End-to-end harness for the copy tests: one real Temporal dev server, a real source and target
 * cluster, an in-process worker on the file's own task queue, and the real `pgferry` CLI run as
 * a subprocess against them. Created in before(), closed in after().
 *
 * The slow-copy knob is a *paced view* on the source: its rows come from a real table through a
 * function that sleeps every 100 rows for as long as a sequence says. Sequences are not
 * transactional, so `setPace()` reaches an export that is already running (its snapshot does
 * not hide the change): a test holds a copy mid-stream for as long as it needs on any machine,
 * then lets it finish at full speed. Data keeps moving while paced, so the copy is genuinely
 * mid-COPY, never blocked on a lock.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { createPgCluster, type PgCluster } from '../../src/dev/pg-cluster.js';
import { loadConnectionProfiles, type ConnectionProfiles } from '../../src/config/connections.js';
import { createPgferryWorker, type PgferryWorker } from '../../src/worker/create-worker.js';
import { quoteIdent, quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { requirePsql } from './copy-world.js';
import { query, withClient } from './pg.js';
import { waitForPsqlPair } from './processes.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  subprocess: ResultPromise;
  /** Settles when the process has ended, whatever its exit. */
  done: Promise<CliResult>;
}

export interface CopyHarness {
  server: DevServer;
  client: Client;
  source: PgCluster;
  target: PgCluster;
  sourceUrl: string;
  targetUrl: string;
  taskQueue: string;
  profiles: ConnectionProfiles;
  /** Environment for the CLI and subprocess workers: Temporal address, task queue, profiles. */
  cliEnv: Record<string, string>;
  /** Runs `pgferry <args>` to completion; never throws for a non-zero exit. */
  cli(args: string[]): Promise<CliResult>;
  /** Starts `pgferry <args>` in the background (a `copy --wait` to cancel, a worker to kill), with extra `env`. */
  spawnCli(args: string[], env?: Record<string, string>): RunningCli;
  /** Starts a `pgferry worker` subprocess (one a test can kill); close() stops any still running. */
  spawnWorker(env?: Record<string, string>): RunningCli;
  /** Starts the in-process worker (done by default); idempotent. */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface CopyHarnessOptions {
  /** Names the task queue and the clusters' directories. */
  name: string;
  /** Start the in-process worker (default true); false when a test runs the worker as a subprocess. */
  worker?: boolean;
  /** Serve the Temporal web UI (default false). */
  ui?: boolean;
  /** Register pgferry's search attributes on the dev server (default true). */
  searchAttributes?: boolean;
  /** Extra server settings of each cluster (`name=value`), e.g. a different `timezone` per side. */
  sourceSettings?: readonly string[];
  targetSettings?: readonly string[];
}

/** Expected failures would otherwise log a warning with a stack for every retried attempt. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed in this process.
  }
}

/** Creates the dev server and both clusters in parallel; a missing binary or server fails. */
export async function createCopyHarness(options: CopyHarnessOptions): Promise<CopyHarness> {
  requirePsql();
  quietRuntime();
  const taskQueue = `pgferry-test-${options.name}`;
  const created = await Promise.allSettled([
    startDevServer({ ui: options.ui ?? false, searchAttributes: options.searchAttributes }),
    createPgCluster({ name: `${options.name}-src`, settings: options.sourceSettings }),
    createPgCluster({ name: `${options.name}-tgt`, settings: options.targetSettings }),
  ]);
  const cleanups: (() => Promise<unknown>)[] = [];
  for (const result of created) {
    if (result.status !== 'fulfilled') continue;
    const value = result.value;
    cleanups.push('teardown' in value ? () => value.teardown() : () => value.destroy());
  }
  const failed = created.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
    throw failed.reason;
  }
  const [server, source, target] = created.map((result) => (result as PromiseFulfilledResult<unknown>).value) as [
    DevServer,
    PgCluster,
    PgCluster,
  ];

  const cliEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    PGFERRY_TASK_QUEUE: taskQueue,
    PGFERRY_CONN_SOURCE: source.url(),
    PGFERRY_CONN_TARGET: target.url(),
  };
  const profiles = loadConnectionProfiles(cliEnv);
  // Only the harness's profiles: a developer's own PGFERRY_CONN_* must not leak into the CLI.
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('PGFERRY_') && !key.startsWith('TEMPORAL_')),
  );

  const spawnCli = (args: string[], env: Record<string, string> = {}): RunningCli => {
    const subprocess = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...baseEnv, ...cliEnv, ...env },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
    });
    const done = subprocess.then((result) => ({
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    }));
    return { subprocess, done };
  };

  let worker: PgferryWorker | undefined;
  let running: Promise<void> | undefined;
  const workerProcesses: RunningCli[] = [];
  const harness: CopyHarness = {
    server,
    client: server.env.client,
    source,
    target,
    sourceUrl: source.url(),
    targetUrl: target.url(),
    taskQueue,
    profiles,
    cliEnv,
    cli: (args) => spawnCli(args).done,
    spawnCli,
    spawnWorker(env) {
      const subprocess = spawnCli(['worker'], env);
      workerProcesses.push(subprocess);
      return subprocess;
    },
    async startWorker() {
      if (worker) return;
      worker = await createPgferryWorker({
        connection: server.env.nativeConnection,
        settings: { address: server.address, namespace: server.namespace, taskQueue },
        profiles,
      });
      running = worker.run();
    },
    async stopWorker() {
      if (!worker) return;
      worker.shutdown();
      await running?.catch(() => undefined);
      worker = undefined;
      running = undefined;
    },
    async close() {
      for (const { subprocess } of workerProcesses) subprocess.kill('SIGTERM');
      await Promise.all(workerProcesses.map(({ done }) => done));
      await harness.stopWorker();
      await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
    },
  };
  if (options.worker ?? true) {
    try {
      await harness.startWorker();
    } catch (error) {
      await harness.close();
      throw error;
    }
  }
  return harness;
}

/**
 * Asserts a CLI run exited 0. On failure the message carries both streams: a `--json` run
 * reports its failure on stdout, and stderr alone would leave an empty message.
 */
export function assertExitedOk(result: CliResult, what = 'the command'): void {
  assert.equal(
    result.exitCode,
    0,
    `${what} exited ${result.exitCode ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

/** Result of a CLI run whose stdout is one JSON object. */
export function parseJson<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `expected JSON on stdout (exit ${result.exitCode}):\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Data: narrow rows from generate_series, the same SQL for filling a table and for the rows a
// test expects, so expected contents are a query and compared by digest.

/** Columns of every generated table: the rows `rowsSql` yields, with their exact types. */
export const ROW_COLUMNS = 'id bigint NOT NULL, label text NOT NULL, amount numeric(12,2)';

/**
 * `SELECT id, label, amount` for ids `from..to` with labels `<tag>-<id>`; every seventh amount is
 * NULL and labels carry a tab, quote and Hangul so text rendering matters.
 */
export function rowsSql(from: number, to: number, tag: string): string {
  const prefix = tag.replace(/'/g, "''");
  return `SELECT i::bigint AS id,
            ('${prefix}-' || i || CASE WHEN i % 5 = 0 THEN E'\\t"한글"' ELSE '' END)::text AS label,
            (CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 1.25) END)::numeric(12,2) AS amount
       FROM generate_series(${from}, ${to}) AS i`;
}

export interface MakeTableOptions {
  /** Rows `from..to` (inclusive); `to < from` makes an empty table. */
  from?: number;
  to: number;
  tag?: string;
  /** Primary key on id (default true). */
  primaryKey?: boolean;
}

/** Creates (replacing) `table` with generated rows, creating its schema when needed. */
export async function makeTable(url: string, table: TableRef, options: MakeTableOptions): Promise<void> {
  const { from = 1, to, tag = 'src', primaryKey = true } = options;
  await query(
    url,
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)};
     DROP TABLE IF EXISTS ${quoteTable(table)};
     CREATE TABLE ${quoteTable(table)} (${ROW_COLUMNS}${primaryKey ? ', PRIMARY KEY (id)' : ''});
     INSERT INTO ${quoteTable(table)} ${rowsSql(from, to, tag)};
     ANALYZE ${quoteTable(table)};`,
  );
}

export interface RowsDigest {
  rows: number;
  /** md5 over every row's text form, sorted; null when there are no rows. */
  digest: string | null;
}

/** Digest of the rows of any query, computed the same way as {@link tableDigestOf}. */
export async function digestOf(url: string, sql: string): Promise<RowsDigest> {
  const { rows } = await query<{ rows: number; digest: string | null }>(
    url,
    `SELECT count(*)::int AS rows, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM (${sql}) AS t`,
  );
  return rows[0]!;
}

/** Digest of every row of a table (or view). */
export function tableDigestOf(url: string, table: TableRef): Promise<RowsDigest> {
  return digestOf(url, `SELECT * FROM ${quoteTable(table)}`);
}

// ---------------------------------------------------------------------------------------------
// The slow-copy knob.

const PACE_SEQUENCE = 'public.pgferry_test_pace_ms';

/**
 * Creates `view` on the source: `rows` generated rows (a real table `<view>_rows` underneath)
 * that stream at the pace {@link setPace} sets. The view's columns are {@link ROW_COLUMNS}, so
 * a target created from it has the same types as a generated table.
 */
export async function makePacedView(url: string, view: TableRef, rows: number): Promise<TableRef> {
  const base: TableRef = { schema: view.schema, table: `${view.table}_rows` };
  await makeTable(url, base, { to: rows, tag: 'paced' });
  await query(
    url,
    `CREATE SEQUENCE IF NOT EXISTS ${PACE_SEQUENCE} MINVALUE 0 START 0;
     CREATE OR REPLACE FUNCTION public.pgferry_test_pace(i bigint) RETURNS boolean
       LANGUAGE plpgsql VOLATILE AS $$
       DECLARE ms bigint;
       BEGIN
         IF i % 100 = 0 THEN
           SELECT last_value INTO ms FROM ${PACE_SEQUENCE};
           IF ms > 0 THEN PERFORM pg_sleep(ms / 1000.0); END IF;
         END IF;
         RETURN true;
       END $$;
     CREATE OR REPLACE VIEW ${quoteTable(view)} AS
       SELECT id, label, amount FROM ${quoteTable(base)} WHERE public.pgferry_test_pace(id);`,
  );
  return base;
}

/**
 * Milliseconds the paced views sleep every 100 rows; 0 streams at full speed. Takes effect at
 * once, also in a running export.
 */
export async function setPace(url: string, msPer100Rows: number): Promise<void> {
  await query(url, `SELECT setval('${PACE_SEQUENCE}', $1::bigint, true)`, [msPer100Rows]);
}

// ---------------------------------------------------------------------------------------------
// Waiting for states of the world (bounded: a hang fails, nothing asserts on durations).

/** Polls `check` until it returns a value other than undefined; throws `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Rows a running `COPY ... FROM STDIN` on the target has stored, once it has stored at least `min`. */
export function waitForRowsImported(url: string, min = 1, timeoutMs = 60_000): Promise<number> {
  return withClient(url, (client) =>
    waitFor(
      `a COPY FROM with ${min}+ rows`,
      async () => {
        const { rows } = await client.query<{ n: string }>(
          `SELECT max(tuples_processed)::text AS n FROM pg_stat_progress_copy WHERE command = 'COPY FROM'`,
        );
        const n = Number(rows[0]?.n ?? 0);
        return n >= min ? n : undefined;
      },
      timeoutMs,
    ),
  );
}

/** Staging tables left on a database. */
export async function stagingTables(url: string): Promise<string[]> {
  const { rows } = await query<{ name: string }>(
    url,
    `SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relname LIKE 'pgferry\\_stg\\_%'`,
  );
  return rows.map((row) => row.name);
}

/** Whether a process is running (a zombie, killed but not yet reaped, counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs; throws naming the survivors after `timeoutMs`. */
export async function waitUntilGone(pids: readonly number[], timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `processes ${pids.join(', ')} to end`,
    () => (pids.some(isRunning) ? undefined : true),
    timeoutMs,
  ).catch(() => {
    throw new Error(`still running: ${pids.filter(isRunning).join(', ')}`);
  });
}

/**
 * Runs `copy --wait --json` of a paced source (see makePacedView) and SIGKILLs its export psql
 * once rows are arriving; the retry then copies at full speed. Resolves with the CLI's result.
 */
export async function copyWithExportKilledOnce(h: CopyHarness, tableArg: string, paceMs: number): Promise<CliResult> {
  await setPace(h.sourceUrl, paceMs);
  let copying: RunningCli;
  try {
    copying = h.spawnCli(['copy', '--source', 'source', '--target', 'target', '--table', tableArg, '--wait', '--json']);
    const { exportPid } = await waitForPsqlPair();
    await waitForRowsImported(h.targetUrl);
    process.kill(exportPid, 'SIGKILL');
  } finally {
    await setPace(h.sourceUrl, 0);
  }
  return copying.done;
}
