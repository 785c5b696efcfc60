/**
 * Issue 12.2: a cancel that arrives once publish has begun. Before, the run reported CANCELLED
 * while publish went on to commit every new row (append and replace alike), so a user re-running
 * an "unfinished" append loaded it twice. Publish is one transaction and now runs to its end: the
 * run completes and says the cancel came too late, in `copy --json` and `status --json`.
 * The test holds a lock on the target so publish is deterministically waiting when the cancel
 * arrives, then lets it go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyMode } from '../../src/shared/copy-spec.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { waitForLockWaiters, withClient } from '../support/pg.js';
import {
  createCopyHarness,
  digestOf,
  makeTable,
  parseJson,
  rowsSql,
  stagingTables,
  tableDigestOf,
  waitFor,
  type CopyHarness,
} from '../support/copy-harness.js';

interface CopyJson {
  workflowId: string;
  status: string;
  rows?: number;
  cancelRequestedDuringPublish?: boolean;
}

describe('a cancel that arrives during publish (issue 12.2)', { timeout: 300_000 }, () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({ name: 'cancel-publish' });
  });
  after(async () => {
    await h?.close();
  });

  /** Runs a copy whose publish waits on the test's lock, cancels it there, then releases the lock. */
  async function cancelWhilePublishing(table: TableRef, mode: CopyMode) {
    const workflowId = workflowIdForTarget('target', table);
    return withClient(h.targetUrl, async (locker) => {
      await locker.query('BEGIN');
      // SHARE conflicts with append's ROW EXCLUSIVE and replace's ACCESS EXCLUSIVE; readers pass.
      await locker.query(`LOCK TABLE ${quoteTable(table)} IN SHARE MODE`);
      const copying = h.spawnCli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', quoteTable(table), '--mode', mode],
        ...['--wait', '--json'],
      ]);
      await waitForLockWaiters(h.targetUrl, table, 1);
      const handle = h.client.workflow.getHandle(workflowId);
      assert.equal((await handle.query<{ phase: string }>('progress')).phase, 'publish');
      await handle.cancel();
      await waitFor('the cancel request in history', async () => {
        const history = await handle.fetchHistory();
        return history.events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes)
          ? true
          : undefined;
      });
      await locker.query('COMMIT');
      return { result: await copying.done, workflowId };
    });
  }

  for (const mode of ['append', 'replace'] as const) {
    test(`${mode}: a cancel while publish runs completes the run, says the cancel was too late and leaves the published rows`, async () => {
      const table: TableRef = { schema: 'public', table: `cancel_${mode}` };
      await makeTable(h.sourceUrl, table, { from: 11, to: 2_010 });
      await makeTable(h.targetUrl, table, { to: 10, tag: 'old' });
      const expected =
        mode === 'append'
          ? await digestOf(h.targetUrl, `SELECT * FROM ${quoteTable(table)} UNION ALL ${rowsSql(11, 2_010, 'src')}`)
          : await tableDigestOf(h.sourceUrl, table);

      const { result, workflowId } = await cancelWhilePublishing(table, mode);

      const outcome = parseJson<CopyJson>(result);
      assert.equal(outcome.status, 'COMPLETED', result.stdout);
      assert.equal(outcome.cancelRequestedDuringPublish, true);
      assert.equal(result.exitCode, 0);
      assert.deepEqual(await tableDigestOf(h.targetUrl, table), expected);
      assert.deepEqual(await stagingTables(h.targetUrl), []);
      const status = parseJson<{ status: string; published?: boolean }>(await h.cli(['status', workflowId, '--json']));
      assert.equal(status.status, 'COMPLETED');
      assert.equal(status.published, true);
    });
  }
});
