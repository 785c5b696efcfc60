/**
 * Issue 12.1: one copy per target table, whoever starts it. Before leases, a copy started with
 * its own --workflow-id (or by a schedule, whose runs get suffixed ids) while another loaded the
 * same table was accepted, and in append mode the rows landed twice. Now the second is refused as
 * TargetBusy naming the running copy, the running copy lands exactly the source's rows, and a
 * terminated copy's lease is stale: the next copy takes it over and completes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TableRef } from '../../src/shared/table-name.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import { query } from '../support/pg.js';
import {
  assertExitedOk,
  createCopyHarness,
  makePacedView,
  parseJson,
  setPace,
  stagingTables,
  tableDigestOf,
  waitFor,
  waitForRowsImported,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

interface CopyJson {
  workflowId: string;
  runId: string;
  status: string;
  rows?: number;
  failure?: { type: string; message: string };
}

const ROWS = 30_000;
const HOLD_MS = 30;

describe('one copy per target table (issue 12.1)', { timeout: 600_000 }, () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({ name: 'target-lease' });
  });
  after(async () => {
    await setPace(h.sourceUrl, 0).catch(() => undefined);
    await h?.close();
  });

  /** Starts a paced `copy --wait --json` in append mode and waits until its rows are arriving. */
  async function startLoading(table: string): Promise<RunningCli> {
    await setPace(h.sourceUrl, HOLD_MS);
    const running = h.spawnCli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', table, '--mode', 'append'],
      ...['--wait', '--json'],
    ]);
    await waitForRowsImported(h.targetUrl);
    return running;
  }

  test('a manual copy with its own workflow id is refused at once as TargetBusy naming the running copy, which lands the exact source rows', async () => {
    const table: TableRef = { schema: 'public', table: 'lease_manual' };
    await makePacedView(h.sourceUrl, table, ROWS);
    const holder = workflowIdForTarget('target', table);
    const first = await startLoading('public.lease_manual');
    let second;
    try {
      second = await h.cli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.lease_manual', '--mode', 'append'],
        ...['--workflow-id', 'my-own-id', '--json'],
      ]);
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    assert.equal(second.exitCode, 1, second.stderr);
    const refused = parseJson<CopyJson>(second);
    assert.equal(refused.workflowId, 'my-own-id');
    assert.equal(refused.status, 'FAILED');
    assert.equal(refused.failure?.type, 'TargetBusy');
    assert.ok(refused.failure?.message.includes(holder), refused.failure?.message);

    const done = parseJson<CopyJson>(await first.done);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.equal(done.rows, ROWS);
    // Appended once: exactly the source's rows, not twice.
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });

  test('a scheduled run started while a copy loads the same table fails createStaging as TargetBusy naming the running copy', async () => {
    const table: TableRef = { schema: 'public', table: 'lease_sched' };
    await makePacedView(h.sourceUrl, table, ROWS);
    const holder = workflowIdForTarget('target', table);
    const first = await startLoading('public.lease_sched');
    try {
      const created = await h.cli([
        ...['schedule', 'create', 'lease-sched', '--every', '1h', '--paused'],
        ...['--source', 'source', '--target', 'target', '--table', 'public.lease_sched', '--mode', 'append'],
      ]);
      assertExitedOk(created);
      const triggered = await h.cli(['schedule', 'trigger', 'lease-sched']);
      assertExitedOk(triggered);
      const schedule = h.client.schedule.getHandle('lease-sched');
      const scheduledId = await waitFor('the scheduled run to start', async () => {
        const running = (await schedule.describe()).info.runningActions;
        return running[0]?.workflow.workflowId;
      });
      assert.notEqual(scheduledId, holder);
      const scheduled = h.client.workflow.getHandle(scheduledId);
      // A scheduled run waits with backoff: its createStaging attempts fail as TargetBusy.
      const busy = await waitFor('the scheduled createStaging to fail as TargetBusy', async () => {
        const pending = (await scheduled.describe()).raw.pendingActivities ?? [];
        const failure = pending.find((activity) => activity.activityType?.name === 'createStaging')?.lastFailure;
        return failure?.applicationFailureInfo?.type ? failure : undefined;
      });
      assert.equal(busy.applicationFailureInfo?.type, 'TargetBusy');
      assert.ok(busy.message?.includes(holder), busy.message ?? '');
      await scheduled.terminate('test: the refusal was seen');
      await schedule.delete();
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    const done = parseJson<CopyJson>(await first.done);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));
  });

  test('after a copy is terminated mid-load, the next copy takes its stale lease, completes and leaves no staging', async () => {
    const table: TableRef = { schema: 'public', table: 'lease_stale' };
    await makePacedView(h.sourceUrl, table, ROWS);
    const first = await startLoading('public.lease_stale');
    const stale = parseJson<CopyJson>(await h.cli(['status', workflowIdForTarget('target', table), '--json']));
    await h.client.workflow.getHandle(stale.workflowId).terminate('test: worker gone for good');
    assert.equal(parseJson<CopyJson>(await first.done).status, 'TERMINATED');
    await setPace(h.sourceUrl, 0);
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      "SELECT count(*)::int AS n FROM pgferry.leases WHERE target_table = 'public.lease_stale'",
    );
    assert.equal(rows[0]!.n, 1, 'the terminated run left its lease');

    const next = await h.cli([
      'copy',
      '--source',
      'source',
      '--target',
      'target',
      '--table',
      'public.lease_stale',
      '--wait',
      '--json',
    ]);
    const done = parseJson<CopyJson>(next);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));
    assert.deepEqual(await stagingTables(h.targetUrl), []);
    const leases = await query<{ n: number }>(h.targetUrl, 'SELECT count(*)::int AS n FROM pgferry.leases');
    assert.equal(leases.rows[0]!.n, 0);
  });
});
