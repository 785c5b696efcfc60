/**
 * Issue 3: a worker that dies mid-copy (SIGKILL: no cleanup code runs) leaves no psql behind,
 * and the copy still completes on another worker once the heartbeat timeout notices, with the
 * target holding exactly the source rows. The worker runs as a real `pgferry worker` subprocess
 * so the test can kill it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import type { CopyTableResult } from '../../src/shared/copy-spec.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';
import {
  assertExitedOk,
  createCopyHarness,
  makePacedView,
  makeTable,
  parseJson,
  setPace,
  tableDigestOf,
  waitFor,
  waitForRowsImported,
  waitUntilGone,
  type CopyHarness,
} from '../support/copy-harness.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;
const { EventType, TimeoutType } = temporal.api.enums.v1;

const TABLE: TableRef = { schema: 'public', table: 'crash_orders' };
const ROWS = 100_000;

describe('worker killed mid-copy (issue 3)', { timeout: 300_000 }, () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({ name: 'worker-crash', worker: false });
  });
  after(async () => {
    await h?.close();
  });

  test('a SIGKILLed worker leaves no psql, and a second worker completes the copy with the source rows', async () => {
    await makePacedView(h.sourceUrl, TABLE, ROWS);
    await makeTable(h.targetUrl, TABLE, { to: 500, tag: 'old' });
    const workflowId = workflowIdForTarget('target', TABLE);
    await setPace(h.sourceUrl, 20);

    const first = h.spawnWorker();
    const started = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.crash_orders'],
      ...['--heartbeat-timeout', '5s', '--json'],
    ]);
    assertExitedOk(started);
    assert.equal(parseJson<{ workflowId: string }>(started).workflowId, workflowId);

    // The worker's own psql children, named by side through PGAPPNAME.
    const psqls = await waitFor('the worker to run the export and import psql', () => {
      const children = childProcesses(first.subprocess.pid).filter((child) => child.comm === 'psql');
      const exportPid = children.find((child) => child.appName?.endsWith('/export'))?.pid;
      const importPid = children.find((child) => child.appName?.endsWith('/import'))?.pid;
      return exportPid && importPid ? [exportPid, importPid] : undefined;
    });
    await waitForRowsImported(h.targetUrl);

    first.subprocess.kill('SIGKILL');
    assert.equal((await first.done).signal, 'SIGKILL');

    await waitUntilGone(psqls);
    await waitFor('the killed import to leave the target', async () => {
      const { rows } = await query<{ n: number }>(
        h.targetUrl,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgferry/%/import'`,
      );
      return rows[0]!.n === 0 ? true : undefined;
    });

    await setPace(h.sourceUrl, 0);
    h.spawnWorker();
    const handle = h.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as CopyTableResult;

    assert.equal(result.rows, ROWS);
    assert.deepEqual(await tableDigestOf(h.targetUrl, TABLE), await tableDigestOf(h.sourceUrl, TABLE));

    // The second attempt of exportImport started because the first stopped heartbeating.
    const history = await handle.fetchHistory();
    const retried = history.events?.find(
      (event) =>
        event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        event.activityTaskStartedEventAttributes?.attempt === 2,
    )?.activityTaskStartedEventAttributes;
    assert.ok(retried, 'exportImport was retried');
    assert.equal(retried.lastFailure?.timeoutFailureInfo?.timeoutType, TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    // `status` names that attempt's failure as a heartbeat timeout, not "Unknown".
    const status = parseJson<{ attempts: { activity: string; attempt: number; failureType: string }[] }>(
      await h.cli(['status', workflowId, '--json']),
    );
    assert.deepEqual(
      status.attempts.map(({ activity, attempt, failureType }) => ({ activity, attempt, failureType })),
      [{ activity: 'exportImport', attempt: 1, failureType: 'HeartbeatTimeout' }],
    );
  });
});
