/**
 * Regression guard for the bug pgferry exists to fix (issue 3, docs/design.md "The pipe", invariant 1):
 * end of input commits. A naive `export.stdout.pipe(import.stdin)` with a plain
 * `COPY ... FROM STDIN` commits a silently truncated table when the export is killed mid-stream;
 * the supervised pipe commits nothing, and the import command commits only when the supervisor
 * writes the token into its FIFO.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { importCommand, psqlEnvironment, type PsqlCommand } from '../../src/pipe/psql-commands.js';
import { deliverCommitToken } from '../../src/pipe/commit-token.js';
import { createFifos } from '../../src/pipe/pipe-files.js';
import { resolveProfile } from '../../src/config/connections.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, rowCount, waitForImportProgress } from '../support/pg.js';
import { assertNoPsqlLeft, waitForPsqlPair } from '../support/processes.js';
import { activityEnvironment, createStaging, exportImport } from '../support/run-copy.js';

/** One ASCII text column without backslashes: any prefix of the stream is valid COPY text. */
const LINES: TableRef = { schema: 'public', table: 'lines' };
const LINES_ROWS = 500_000;

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Spawns psql with stderr drained; `ended` resolves when it exits. */
function startPsql(
  psqlPath: string,
  command: PsqlCommand,
  stdin: 'pipe' | 'ignore',
): { child: ChildProcess; ended: Promise<Ended> } {
  const child = spawn(psqlPath, command.args, { env: command.env, stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ended = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stderr,
  }));
  return { child, ended };
}

describe('the naive pipe and the fence', { timeout: 300_000 }, () => {
  let world: CopyWorld;
  let workDir: string;
  let seenPids: number[] = [];

  const plainPsql = (profile: string, appName: string, sql: string): PsqlCommand => ({
    args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    env: psqlEnvironment(resolveProfile(world.profiles, profile), appName),
  });

  before(async () => {
    world = await createCopyWorld();
    workDir = await mkdtemp(join(tmpdir(), 'pgferry-naive-'));
    await query(
      world.sourceUrl,
      `CREATE TABLE lines (line text);
       INSERT INTO lines SELECT 'row-' || lpad(g::text, 9, '0') || '-' || repeat('x', 100)
         FROM generate_series(1, ${LINES_ROWS}) g`,
    );
  });

  after(async () => {
    await world?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  afterEach(() => {
    const pids = seenPids;
    seenPids = [];
    assertNoPsqlLeft(pids);
  });

  test('a naive pipe commits a truncated table when the export is SIGKILLed mid-stream', async () => {
    await query(world.targetUrl, 'DROP TABLE IF EXISTS naive_staging; CREATE TABLE naive_staging (line text)');
    const exp = startPsql(world.psqlPath, plainPsql('source', 'naive/export', 'COPY lines TO STDOUT'), 'ignore');
    const imp = startPsql(world.psqlPath, plainPsql('target', 'naive/import', 'COPY naive_staging FROM STDIN'), 'pipe');
    seenPids.push(exp.child.pid!, imp.child.pid!);
    imp.child.stdin!.on('error', () => undefined);
    exp.child.stdout!.pipe(imp.child.stdin!);

    await waitForImportProgress(world.targetUrl);
    exp.child.kill('SIGKILL');
    const [exported, imported] = await Promise.all([exp.ended, imp.ended]);

    assert.equal(exported.signal, 'SIGKILL');
    assert.equal(imported.code, 0, imported.stderr);
    const committed = await rowCount(world.targetUrl, { schema: 'public', table: 'naive_staging' });
    assert.ok(committed > 0, 'the naive import committed nothing; the regression guard no longer shows the bug');
    assert.ok(committed < LINES_ROWS, `the naive import committed all ${committed} rows: the export was not cut`);
  });

  test('the same export SIGKILL through CopyPipe fails as ExportKilled and commits zero rows', async () => {
    const staging = await createStaging(world, LINES);
    const running = exportImport(world, LINES, staging, { format: 'text', env: activityEnvironment() });
    running.catch(() => undefined);
    const pids = await waitForPsqlPair();
    seenPids.push(pids.exportPid, pids.importPid);
    await waitForImportProgress(world.targetUrl);
    process.kill(pids.exportPid, 'SIGKILL');
    await assertFailure(running, FailureType.ExportKilled, false);
    assert.equal(await rowCount(world.targetUrl, staging.staging), 0);
  });

  const tokenStaging: TableRef = { schema: 'public', table: 'token_staging' };
  const partialInput = 'partial-1\npartial-2\npart';

  const tokenAppName = 'pgferry/token-test/import';

  /** Runs the import command on `partialInput` followed by EOF; the caller decides about the token. */
  async function startImportCommand(commitFifo: string) {
    await query(
      world.targetUrl,
      `DROP TABLE IF EXISTS token_staging; CREATE TABLE token_staging (line text);
       INSERT INTO token_staging VALUES ('before-1'), ('before-2')`,
    );
    const command = importCommand({
      profile: resolveProfile(world.profiles, 'target'),
      applicationName: tokenAppName,
      staging: tokenStaging,
      columns: ['line'],
      format: 'text',
      lockTimeoutMs: 10_000,
      commitFifo,
    });
    const imp = startPsql(world.psqlPath, command, 'pipe');
    seenPids.push(imp.child.pid!);
    imp.child.stdin!.on('error', () => undefined);
    imp.child.stdin!.end(partialInput);
    return imp;
  }

  async function stagedLines(): Promise<string[]> {
    const { rows } = await query<{ line: string }>(world.targetUrl, 'SELECT line FROM token_staging ORDER BY line');
    return rows.map((row) => row.line);
  }

  /** The import's session state on the target, once it has loaded the COPY. */
  async function waitForLoadedAndWaiting(): Promise<string> {
    for (const until = Date.now() + 30_000; Date.now() < until;) {
      const { rows } = await query<{ state: string; query: string }>(
        world.targetUrl,
        'SELECT state, query FROM pg_stat_activity WHERE application_name = $1',
        [tokenAppName],
      );
      const row = rows[0];
      if (row?.state === 'idle in transaction' && row.query.startsWith('COPY')) return row.state;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the import never finished its COPY');
  }

  test('the import command given data and EOF waits for the token and, killed there, commits nothing', async () => {
    const fifo = join(workDir, 'never-written.fifo');
    await createFifos(fifo);
    const imp = await startImportCommand(fifo);
    // EOF has ended the COPY, and the transaction is still open: end of input did not commit.
    assert.equal(await waitForLoadedAndWaiting(), 'idle in transaction');
    imp.child.kill('SIGKILL');
    assert.equal((await imp.ended).signal, 'SIGKILL');
    // Neither the rows nor the TRUNCATE before them were committed.
    assert.deepEqual(await stagedLines(), ['before-1', 'before-2']);
  });

  test('the import command whose token FIFO is missing fails and commits nothing', async () => {
    const imp = await startImportCommand(join(workDir, 'no-such.fifo'));
    const ended = await imp.ended;
    assert.notEqual(ended.code, 0, 'psql without its commit token exited 0');
    assert.match(ended.stderr, /no-such\.fifo/);
    assert.deepEqual(await stagedLines(), ['before-1', 'before-2']);
  });

  test('the import command with the commit token commits and replaces the staged rows', async () => {
    const fifo = join(workDir, 'commit.fifo');
    await createFifos(fifo);
    const imp = await startImportCommand(fifo);
    assert.equal(await deliverCommitToken(fifo, () => false), true);
    const ended = await imp.ended;
    assert.equal(ended.code, 0, ended.stderr);
    assert.deepEqual(await stagedLines(), ['part', 'partial-1', 'partial-2']);
  });
});
