/**
 * Issue 12.3: a worker lost during publish stalled the copy for the whole copy timeout (2 h by
 * default): publish had no heartbeat, so Temporal noticed only at start-to-close. Publish now
 * heartbeats on a session named for its attempt, so the loss shows at the heartbeat timeout and
 * the retry fences the earlier attempt's backend. The worker is a real `pgferry worker`
 * subprocess, SIGKILLed while its publish of 2,000,000 rows waits for a lock the test holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import type { CopyTableResult } from '../../src/shared/copy-spec.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { query, waitForLockWaiters, withClient } from '../support/pg.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  stagingTables,
  waitFor,
  type CopyHarness,
} from '../support/copy-harness.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;
const { EventType, TimeoutType } = temporal.api.enums.v1;

const TABLE: TableRef = { schema: 'public', table: 'crash_publish' };
const ROWS = 2_000_000;

describe('worker lost during publish (issue 12.3)', { timeout: 600_000 }, () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({ name: 'publish-crash', worker: false });
  });
  after(async () => {
    await h?.close();
  });

  test('a worker SIGKILLed during publish of 2,000,000 rows: another worker completes the copy after the heartbeat timeout, not the copy timeout', async () => {
    await makeTable(h.sourceUrl, TABLE, { to: ROWS });
    await makeTable(h.targetUrl, TABLE, { from: ROWS + 1, to: ROWS + 10, tag: 'old' });
    const workflowId = workflowIdForTarget('target', TABLE);
    const first = h.spawnWorker();

    await withClient(h.targetUrl, async (locker) => {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${quoteTable(TABLE)} IN SHARE MODE`);
      const started = await h.cli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.crash_publish'],
        ...['--mode', 'append', '--json'],
      ]);
      assertExitedOk(started);
      assert.equal(parseJson<{ workflowId: string }>(started).workflowId, workflowId);
      await waitForLockWaiters(h.targetUrl, TABLE, 1, 300_000);
      const { rows } = await locker.query<{ name: string }>(
        "SELECT application_name AS name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name LIKE 'pgferry/%'",
      );
      assert.match(rows[0]?.name ?? '', /\/a1\/publish$/, 'publish is what waits');

      first.subprocess.kill('SIGKILL');
      assert.equal((await first.done).signal, 'SIGKILL');
      h.spawnWorker();
      await locker.query('COMMIT');
    });

    // Bounded by this test's timeout (10 min), far below the 2 h copy timeout.
    const handle = h.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as CopyTableResult;
    assert.equal(result.rows, ROWS);

    const history = await handle.fetchHistory();
    const scheduled = new Map<string, string>();
    for (const event of history.events ?? []) {
      const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) scheduled.set(String(event.eventId), name);
    }
    const retried = history.events?.find(
      (event) =>
        event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        scheduled.get(String(event.activityTaskStartedEventAttributes?.scheduledEventId)) === 'publish' &&
        event.activityTaskStartedEventAttributes?.attempt === 2,
    )?.activityTaskStartedEventAttributes;
    assert.ok(retried, 'publish was retried');
    assert.equal(retried.lastFailure?.timeoutFailureInfo?.timeoutType, TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    const counts = await query<{ rows: number; old: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS rows, count(*) FILTER (WHERE id > ${ROWS})::int AS old FROM ${quoteTable(TABLE)}`,
    );
    assert.deepEqual(counts.rows[0], { rows: ROWS + 10, old: 10 }, 'published once, on top of the old rows');
    assert.deepEqual(await stagingTables(h.targetUrl), []);
    await waitFor('no pgferry session left on the target', async () => {
      const left = await query<{ n: number }>(
        h.targetUrl,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgferry/%'",
      );
      return left.rows[0]!.n === 0 ? true : undefined;
    });
  });
});
