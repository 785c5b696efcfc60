/**
 * The copyTable workflow end to end, driven the way a user drives it: the real `pgferry` CLI as
 * a subprocess, a real Temporal dev server, real source and target clusters and real psql
 * (issue 4). Contents are compared by row digests, never by counts alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { psqlChildren, waitForPsqlPair } from '../support/processes.js';
import {
  assertExitedOk,
  copyWithExportKilledOnce,
  createCopyHarness,
  digestOf,
  makePacedView,
  makeTable,
  parseJson,
  rowsSql,
  setPace,
  stagingTables,
  tableDigestOf,
  waitForRowsImported,
  waitUntilGone,
  type CliResult,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';
import type { CopyOutcome } from '../../src/client/outcome.js';

/** What `copy --wait --json` prints: the client's CopyOutcome, as JSON. */
type CopyJson = CopyOutcome;

interface StatusJson {
  workflowId: string;
  status: string;
  attempts: { activity: string; attempt: number; failureType: string; message: string }[];
}

const table = (name: string, schema = 'public'): TableRef => ({ schema, table: name });

/** Rows of the paced views: far more than a paced copy moves before a test lets it go. */
const PACED_ROWS = 200_000;
/** Pace while a test holds a copy mid-stream: 20 ms per 100 rows, i.e. 40 s for the whole view. */
const HOLD = 20;

/** Asserts `copy --wait --json` completed, with exactly the documented keys. */
function assertCompleted(result: CliResult, rows: number): CopyJson {
  assertExitedOk(result, 'copy');
  const outcome = parseJson<CopyJson>(result);
  assert.deepEqual(Object.keys(outcome).sort(), ['bytes', 'durationMs', 'rows', 'runId', 'status', 'workflowId']);
  assert.equal(outcome.status, 'COMPLETED');
  assert.equal(outcome.rows, rows);
  assert.equal(typeof outcome.bytes, 'number');
  assert.equal(typeof outcome.durationMs, 'number');
  assert.match(outcome.runId, /^[0-9a-f-]{36}$/);
  return outcome;
}

/** One line on stderr, nothing on stdout, exit code 2. */
function assertRefused(result: CliResult, pattern: RegExp): void {
  assert.equal(result.exitCode, 2, `expected exit 2, got ${result.exitCode}: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
}

async function columnsOf(url: string, ref: TableRef) {
  const { rows } = await query<{ name: string; type: string; notnull: boolean }>(
    url,
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`"${ref.schema}"."${ref.table}"`],
  );
  return rows;
}

async function primaryKeyOf(url: string, ref: TableRef): Promise<string[]> {
  const { rows } = await query<{ name: string }>(
    url,
    `SELECT a.attname AS name FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY a.attnum`,
    [`"${ref.schema}"."${ref.table}"`],
  );
  return rows.map((row) => row.name);
}

describe('pgferry copy through the CLI (issue 4)', { timeout: 900_000 }, () => {
  let h: CopyHarness;
  const copy = (tableArg: string, ...flags: string[]) =>
    h.cli(['copy', '--source', 'source', '--target', 'target', '--table', tableArg, ...flags, '--wait', '--json']);
  /** Every copyTable run the server knows, as `workflowId/runId`. */
  const knownRuns = async () => {
    const runs: string[] = [];
    for await (const run of h.client.workflow.list({ query: "WorkflowType = 'copyTable'" })) {
      runs.push(`${run.workflowId}/${run.runId}`);
    }
    return runs.sort();
  };
  /** The same, as `pgferry list --json` shows them. */
  const listedIds = async () => {
    const result = await h.cli(['list', '--json', '--limit', '1000']);
    assertExitedOk(result);
    return parseJson<{ workflowId: string; runId: string }[]>(result)
      .map((run) => `${run.workflowId}/${run.runId}`)
      .sort();
  };

  before(async () => {
    h = await createCopyHarness({ name: 'copy-workflow' });
  });
  after(async () => {
    await h?.close();
  });

  test('replace onto an existing target with other rows leaves exactly the source rows', async () => {
    const ref = table('replace_orders');
    await makeTable(h.sourceUrl, ref, { to: 5000, tag: 'src' });
    await makeTable(h.targetUrl, ref, { from: 3001, to: 9000, tag: 'old' });

    const outcome = assertCompleted(await copy('public.replace_orders', '--mode', 'replace'), 5000);

    assert.equal(outcome.workflowId, 'pgferry:target:public.replace_orders');
    assert.ok(outcome.bytes! > 0);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('append leaves the rows the target had plus every source row', async () => {
    const ref = table('append_orders');
    await makeTable(h.sourceUrl, ref, { to: 3000, tag: 'src' });
    await makeTable(h.targetUrl, ref, { from: 10_001, to: 11_000, tag: 'old' });

    assertCompleted(await copy('append_orders', '--mode', 'append'), 3000);

    const expected = await digestOf(
      h.targetUrl,
      `${rowsSql(1, 3000, 'src')} UNION ALL ${rowsSql(10_001, 11_000, 'old')}`,
    );
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), expected);
  });

  test('upsert updates existing keys, inserts new keys and keeps the other target rows', async () => {
    const ref = table('upsert_orders');
    await makeTable(h.sourceUrl, ref, { from: 1001, to: 4000, tag: 'src' });
    await makeTable(h.targetUrl, ref, { from: 1, to: 2000, tag: 'old' });

    assertCompleted(await copy('public.upsert_orders', '--mode', 'upsert'), 3000);

    const expected = await digestOf(h.targetUrl, `${rowsSql(1, 1000, 'old')} UNION ALL ${rowsSql(1001, 4000, 'src')}`);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), expected);
  });

  test('replace from an empty source table leaves the target empty', async () => {
    const ref = table('empty_orders');
    await makeTable(h.sourceUrl, ref, { to: 0 });
    await makeTable(h.targetUrl, ref, { to: 100, tag: 'old' });

    assertCompleted(await copy('public.empty_orders'), 0);

    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), { rows: 0, digest: null });
  });

  test('a target that does not exist is created with the source columns, NOT NULL and primary key', async () => {
    const ref = table('new_orders', 'fresh');
    await makeTable(h.sourceUrl, ref, { to: 2500 });
    assert.deepEqual(await columnsOf(h.targetUrl, ref), []);

    assertCompleted(await copy('fresh.new_orders'), 2500);

    const columns = await columnsOf(h.targetUrl, ref);
    assert.deepEqual(columns, await columnsOf(h.sourceUrl, ref));
    assert.deepEqual(
      columns.map((column) => [column.name, column.notnull]),
      [
        ['id', true],
        ['label', true],
        ['amount', false],
      ],
    );
    assert.deepEqual(await primaryKeyOf(h.targetUrl, ref), ['id']);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('a created target keeps identity and generated columns, and takes an INSERT without the id afterwards', async () => {
    const ref = table('new_identity');
    await query(
      h.sourceUrl,
      `CREATE TABLE new_identity (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text COLLATE "C",
                                  code_length int GENERATED ALWAYS AS (length(code)) STORED);
       INSERT INTO new_identity (code) SELECT 'c' || g FROM generate_series(1, 1500) g;`,
    );

    assertCompleted(await copy('new_identity'), 1500);

    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    const inserted = await query<{ id: string; code_length: number }>(
      h.targetUrl,
      "INSERT INTO new_identity (code) VALUES ('added by the application') RETURNING id, code_length",
    );
    assert.deepEqual(inserted.rows, [{ id: '1501', code_length: 24 }]);
  });

  test('a Korean schema and table name with spaces and quotes copies through --table quoting', async () => {
    const ref = table('고객 "VIP" 주문', '영업 데이터');
    await makeTable(h.sourceUrl, ref, { to: 1234, tag: '고객' });

    const outcome = assertCompleted(await copy('"영업 데이터"."고객 ""VIP"" 주문"'), 1234);

    assert.equal(outcome.workflowId, workflowIdForTarget('target', ref));
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('cancel mid-copy ends the run CANCELLED, keeps the target as it was and leaves no staging or psql', async () => {
    const ref = table('cancel_orders');
    await makePacedView(h.sourceUrl, ref, PACED_ROWS);
    await makeTable(h.targetUrl, ref, { to: 777, tag: 'old' });
    const before = await tableDigestOf(h.targetUrl, ref);
    const workflowId = workflowIdForTarget('target', ref);
    await setPace(h.sourceUrl, HOLD);
    try {
      // A short heartbeat timeout makes the worker report heartbeats (and so learn of the cancel) often.
      const copying = h.spawnCli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.cancel_orders'],
        ...['--heartbeat-timeout', '4s', '--wait', '--json'],
      ]);
      const { exportPid, importPid } = await waitForPsqlPair();
      await waitForRowsImported(h.targetUrl);

      const cancel = await h.cli(['cancel', workflowId]);
      assertExitedOk(cancel);

      const result = await copying.done;
      assert.notEqual(result.exitCode, 0);
      assert.equal(parseJson<CopyJson>(result).status, 'CANCELLED');
      assert.deepEqual(await tableDigestOf(h.targetUrl, ref), before);
      assert.deepEqual(await stagingTables(h.targetUrl), []);
      await waitUntilGone([exportPid, importPid]);
      assert.deepEqual(
        psqlChildren().filter((child) => child.comm === 'psql'),
        [],
      );
    } finally {
      await setPace(h.sourceUrl, 0);
    }
  });

  test('a second copy onto a target being copied is refused naming the running workflow, and the first completes', async () => {
    const ref = table('busy_orders');
    await makePacedView(h.sourceUrl, ref, PACED_ROWS);
    const workflowId = workflowIdForTarget('target', ref);
    await setPace(h.sourceUrl, HOLD);
    let first: RunningCli | undefined;
    try {
      first = h.spawnCli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.busy_orders'],
        ...['--wait', '--json'],
      ]);
      await waitForRowsImported(h.targetUrl);

      const second = await h.cli(['copy', '--source', 'source', '--target', 'target', '--table', 'busy_orders']);

      // DESIGN "One copy per target table": a manual copy is refused at once with exit 1.
      assert.equal(second.exitCode, 1, second.stderr);
      assert.equal(second.stdout, '');
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
      assert.ok(second.stderr.includes(workflowId), second.stderr);
      assert.match(second.stderr, /TargetBusy/);
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    assertCompleted(await first.done, PACED_ROWS);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('a missing source table fails as SourceTableNotFound after one attempt', async () => {
    const result = await copy('public.no_such_table');

    assert.equal(result.exitCode, 1);
    const outcome = parseJson<CopyJson>(result);
    assert.equal(outcome.status, 'FAILED');
    assert.equal(outcome.failure?.type, 'SourceTableNotFound');

    const error = await h.client.workflow
      .getHandle(outcome.workflowId)
      .result()
      .then(
        () => assert.fail('the run completed'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ActivityFailure, String(error.cause));
    assert.ok(error.cause.cause instanceof ApplicationFailure, String(error.cause.cause));
    assert.equal(error.cause.cause.type, 'SourceTableNotFound');
    assert.equal(error.cause.cause.nonRetryable, true);

    const status = await h.cli(['status', outcome.workflowId, '--json']);
    assertExitedOk(status);
    const attempts = parseJson<StatusJson>(status).attempts;
    assert.deepEqual(
      attempts.map(({ activity, attempt, failureType }) => ({ activity, attempt, failureType })),
      [{ activity: 'createStaging', attempt: 1, failureType: 'SourceTableNotFound' }],
    );
  });

  test('an unknown source profile is refused by the CLI in one line and nothing starts', async () => {
    const runsBefore = await listedIds();

    const result = await h.cli(['copy', '--source', 'nosuch', '--target', 'target', '--table', 'public.x', '--wait']);

    assertRefused(result, /nosuch/);
    assert.deepEqual(await listedIds(), runsBefore);
  });

  test('a malformed table name is refused in one line and nothing starts', async () => {
    const runsBefore = await knownRuns();

    assertRefused(await copy('public.orders.extra'), /--table/);
    assertRefused(await copy('"unterminated'), /--table/);

    assert.deepEqual(await knownRuns(), runsBefore);
  });

  test('an unknown mode is refused in one line and nothing starts', async () => {
    const runsBefore = await knownRuns();

    assertRefused(await copy('public.replace_orders', '--mode', 'merge'), /--mode.*merge/);

    assert.deepEqual(await knownRuns(), runsBefore);
  });

  test('a copy whose export psql is killed once completes and status shows the ExportKilled attempt', async () => {
    const ref = table('killed_orders');
    await makePacedView(h.sourceUrl, ref, 50_000);
    const outcome = assertCompleted(await copyWithExportKilledOnce(h, 'public.killed_orders', HOLD), 50_000);

    const status = await h.cli(['status', outcome.workflowId, '--json']);
    assertExitedOk(status);
    const attempts = parseJson<StatusJson>(status).attempts;
    assert.deepEqual(
      attempts.map(({ activity, attempt, failureType }) => ({ activity, attempt, failureType })),
      [{ activity: 'exportImport', attempt: 1, failureType: 'ExportKilled' }],
    );
    assert.match(attempts[0]!.message, /SIGKILL/);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('a batch copies each table as its own child run and names the table that failed', async () => {
    const good = table('batch_good');
    await makeTable(h.sourceUrl, good, { to: 300 });
    const result = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.batch_good'],
      ...['--table', 'public.batch_missing', '--concurrency', '2', '--wait', '--json'],
    ]);
    assert.equal(result.exitCode, 1, result.stderr);
    const batch = parseJson<{
      status: string;
      rows: number;
      results: { workflowId: string; status: string; rows?: number; failure?: { type: string } }[];
    }>(result);
    assert.equal(batch.status, 'COMPLETED');
    assert.equal(batch.rows, 300);
    assert.deepEqual(
      batch.results.map(({ workflowId, status, rows, failure }) => ({ workflowId, status, rows, type: failure?.type })),
      [
        { workflowId: workflowIdForTarget('target', good), status: 'COMPLETED', rows: 300, type: undefined },
        {
          workflowId: workflowIdForTarget('target', table('batch_missing')),
          status: 'FAILED',
          rows: undefined,
          type: 'SourceTableNotFound',
        },
      ],
    );
    assert.deepEqual(await tableDigestOf(h.targetUrl, good), await tableDigestOf(h.sourceUrl, good));
  });
});
