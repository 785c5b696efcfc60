/**
 * PGFERRY_SHUTDOWN_GRACE: on SIGTERM a worker stops taking work, lets a running pipe finish
 * within the grace, and cancels it cleanly once the grace is over: both psql are gone, the
 * unfinished attempt committed nothing, and another worker retries the copy. Before, the grace
 * was a fixed 10 s (the compose file gave the container 30 s), whatever the variable said.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import { startCopy } from '../../src/client/start-copy.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';
import {
  createCopyHarness,
  makePacedView,
  makeTable,
  setPace,
  stagingTables,
  tableDigestOf,
  waitFor,
  waitForRowsImported,
  waitUntilGone,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

const ROWS = 50_000;

describe('worker shutdown grace', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  const workers: RunningCli[] = [];
  const startWorker = (grace: string) => {
    const worker = h.spawnCli(['worker'], { PGFERRY_SHUTDOWN_GRACE: grace });
    workers.push(worker);
    return worker;
  };

  /** SIGTERM through process.kill: execa's kill() would follow up with SIGKILL after 5 s. */
  const stopWorker = async (worker: RunningCli) => {
    process.kill(worker.subprocess.pid!, 'SIGTERM');
    return worker.done;
  };

  before(async () => {
    h = await createCopyHarness({ name: 'worker-shutdown', worker: false });
  });
  after(async () => {
    await setPace(h.sourceUrl, 0).catch(() => undefined);
    for (const worker of workers) if (worker.subprocess.exitCode === null) await stopWorker(worker);
    await h?.close();
  });

  /** Starts a paced copy of `table` onto a target holding 500 old rows; resolves once the pipe moves rows. */
  async function startPacedCopy(table: TableRef, worker: RunningCli) {
    await makePacedView(h.sourceUrl, table, ROWS);
    await makeTable(h.targetUrl, table, { to: 500, tag: 'old' });
    await setPace(h.sourceUrl, 50);
    const handle = await startCopy(
      h.client,
      { source: 'source', target: 'target', table, mode: 'replace' },
      { taskQueue: h.taskQueue },
    );
    const psqls = await waitFor('the worker to run the export and import psql', () => {
      const pids = childProcesses(worker.subprocess.pid)
        .filter((child) => child.comm === 'psql')
        .map((child) => child.pid);
      return pids.length === 2 ? pids : undefined;
    });
    await waitForRowsImported(h.targetUrl);
    return { handle, psqls };
  }

  test('SIGTERM past the grace cancels the pipe: the worker exits, no psql survives, the target is untouched, a second worker completes the copy', async () => {
    const table: TableRef = { schema: 'public', table: 'shutdown_cancelled' };
    const first = startWorker('2s');
    const { handle, psqls } = await startPacedCopy(table, first);
    const before = await tableDigestOf(h.targetUrl, table);

    // At this pace the copy needs minutes: the worker exits only because the grace ran out.
    const ended = await stopWorker(first);
    assert.equal(ended.exitCode, 0, ended.stderr.slice(-1500));
    await waitUntilGone(psqls);
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgferry/%'`,
    );
    assert.equal(rows[0]!.n, 0, 'no pgferry session is left on the target');
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), before, 'the target still holds its old rows');
    const staged = await stagingTables(h.targetUrl);
    assert.equal(staged.length, 1, 'the staging of the copy is still there for the retry');
    const { rows: stagedRows } = await query<{ n: number }>(h.targetUrl, `SELECT count(*)::int AS n FROM ${staged[0]}`);
    assert.equal(stagedRows[0]!.n, 0, 'the cancelled attempt committed nothing into staging');

    await setPace(h.sourceUrl, 0);
    const second = startWorker('2s');
    const result = await handle.result();
    assert.equal(result.rows, ROWS);
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));

    // The retry was caused by the shutdown's cancellation, reported as a failed attempt.
    const history = await handle.fetchHistory();
    const retried = history.events?.find(
      (event) =>
        event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        event.activityTaskStartedEventAttributes?.attempt === 2,
    )?.activityTaskStartedEventAttributes;
    assert.ok(retried, 'exportImport was retried');
    assert.match(retried.lastFailure?.message ?? '', /Worker is shutting down/);
    await stopWorker(second);
  });

  test('SIGTERM within the grace lets the running pipe finish: its one attempt completes before the worker exits', async () => {
    const table: TableRef = { schema: 'public', table: 'shutdown_finished' };
    const worker = startWorker('90s');
    const { handle } = await startPacedCopy(table, worker);

    const stopped = stopWorker(worker);
    // Longer than the 10 s grace the worker used to have, well inside this one.
    await sleep(12_000);
    await setPace(h.sourceUrl, 0);
    const ended = await stopped;
    assert.equal(ended.exitCode, 0, ended.stderr.slice(-1500));

    // The stopped worker polls no more workflow tasks: another one takes the copy from there.
    const next = startWorker('2s');
    const result = await handle.result();
    assert.equal(result.rows, ROWS);
    assert.equal(result.attempts, 1, 'the pipe was not cancelled and retried');
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));
    await stopWorker(next);
  });
});
