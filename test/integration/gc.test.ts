/**
 * Issue 15, `pgferry gc`: the staging table (and lease) a terminated copy left on the target is
 * listed by `gc --dry-run` and dropped by `gc`, while a running copy's staging is left alone and
 * that copy still completes with the source rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TableRef } from '../../src/shared/table-name.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import { query, withClient } from '../support/pg.js';
import { inTransaction } from '../../src/db/databases.js';
import { ledgerKey } from '../../src/db/chunk-ledger.js';
import { storePlan } from '../../src/db/chunk-plan.js';
import {
  assertExitedOk,
  createCopyHarness,
  makePacedView,
  makeTable,
  parseJson,
  setPace,
  stagingTables,
  tableDigestOf,
  waitFor,
  waitForRowsImported,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

interface GarbageJson {
  kind: 'staging' | 'chunk-plan';
  staging: string;
  runId?: string;
  workflowId?: string;
  leased: boolean;
  action: string;
}

const TERMINATED: TableRef = { schema: 'public', table: 'gc_terminated' };
const RUNNING: TableRef = { schema: 'public', table: 'gc_running' };
const CHUNKED: TableRef = { schema: 'public', table: 'gc_chunked' };

describe('pgferry gc (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({ name: 'gc' });
  });
  after(async () => {
    await setPace(h.sourceUrl, 0).catch(() => undefined);
    await h?.close();
  });

  /** The staging table named in the table's lease (before the first lease, there is no lease table). */
  const stagingOf = async (table: TableRef) => {
    const exists = await query<{ found: boolean }>(
      h.targetUrl,
      "SELECT to_regclass('pgferry.leases') IS NOT NULL AS found",
    );
    if (!exists.rows[0]!.found) return undefined;
    const { rows } = await query<{ name: string }>(
      h.targetUrl,
      'SELECT staging_table AS name FROM pgferry.leases WHERE target_table = $1',
      [`${table.schema}.${table.table}`],
    );
    return rows[0]?.name;
  };

  const startPaced = async (table: TableRef): Promise<RunningCli> => {
    const running = h.spawnCli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', `${table.schema}.${table.table}`],
      ...['--wait', '--json'],
    ]);
    await waitFor(`${table.table} to be loading`, async () => ((await stagingOf(table)) ? true : undefined));
    await waitForRowsImported(h.targetUrl);
    return running;
  };

  test('gc --dry-run lists and gc drops the staging of a terminated copy, leaving a running copy’s staging alone', async () => {
    await makePacedView(h.sourceUrl, TERMINATED, 30_000);
    await makePacedView(h.sourceUrl, RUNNING, 30_000);
    await setPace(h.sourceUrl, 30);

    const terminated = await startPaced(TERMINATED);
    const leftBehind = (await stagingOf(TERMINATED))!;
    await h.client.workflow.getHandle(workflowIdForTarget('target', TERMINATED)).terminate('test: gone for good');
    assert.equal(parseJson<{ status: string }>(await terminated.done).status, 'TERMINATED');
    const running = await startPaced(RUNNING);
    const live = (await stagingOf(RUNNING))!;
    assert.deepEqual((await stagingTables(h.targetUrl)).sort(), [leftBehind, live].sort());

    try {
      const dry = await h.cli(['gc', '--target', 'target', '--dry-run', '--json']);
      assertExitedOk(dry);
      const listed = parseJson<GarbageJson[]>(dry);
      assert.deepEqual(
        listed
          .map(({ staging, workflowId, action }) => ({ staging, workflowId, action }))
          .sort((a, b) => a.staging.localeCompare(b.staging)),
        [
          { staging: `public.${leftBehind}`, workflowId: workflowIdForTarget('target', TERMINATED), action: 'dropped' },
          { staging: `public.${live}`, workflowId: workflowIdForTarget('target', RUNNING), action: 'kept' },
        ].sort((a, b) => a.staging.localeCompare(b.staging)),
      );
      assert.deepEqual((await stagingTables(h.targetUrl)).sort(), [leftBehind, live].sort(), 'dry run drops nothing');

      const collected = await h.cli(['gc', '--target', 'target']);
      assertExitedOk(collected);
      assert.match(collected.stdout, new RegExp(`dropped public\\.${leftBehind} `));
      assert.match(collected.stdout, new RegExp(`kept public\\.${live} `));
      assert.deepEqual(await stagingTables(h.targetUrl), [live]);
      assert.equal(await stagingOf(TERMINATED), undefined, 'its lease is gone too');
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    assert.equal(parseJson<{ status: string }>(await running.done).status, 'COMPLETED');
    assert.deepEqual(await tableDigestOf(h.targetUrl, RUNNING), await tableDigestOf(h.sourceUrl, RUNNING));
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });
  test('gc removes the chunk plan and ledger of a terminated chunked copy, and a plan whose run left no staging', async () => {
    await makeTable(h.sourceUrl, CHUNKED, { to: 400_000 });
    const running = h.spawnCli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.gc_chunked'],
      ...['--chunk-rows', '10000', '--jobs', '1', '--wait', '--json'],
    ]);
    const workflowId = workflowIdForTarget('target', CHUNKED);
    const ledgerRows = async () => {
      // The ledger table is created by the copy's first generation.
      const exists = await query<{ found: boolean }>(
        h.targetUrl,
        "SELECT to_regclass('pgferry.chunk_ledger') IS NOT NULL AS found",
      );
      if (!exists.rows[0]!.found) return 0;
      const { rows } = await query<{ n: number }>(h.targetUrl, 'SELECT count(*)::int AS n FROM pgferry.chunk_ledger');
      return rows[0]!.n;
    };
    await waitFor('two chunks committed', async () => ((await ledgerRows()) >= 2 ? true : undefined));
    await h.client.workflow.getHandle(workflowId).terminate('test: gone for good');
    assert.equal(parseJson<{ status: string }>(await running.done).status, 'TERMINATED');
    const { runId } = await h.client.workflow.getHandle(workflowId).describe();
    const key = ledgerKey(`${workflowId}/${runId}`);
    const kept = async (copyKey: string) =>
      (
        await query<{ plans: number; ranges: number; generations: number }>(
          h.targetUrl,
          `SELECT (SELECT count(*)::int FROM pgferry.chunk_plans WHERE copy_key = $1) AS plans,
                  (SELECT count(*)::int FROM pgferry.chunk_plan_ranges WHERE copy_key = $1) AS ranges,
                  (SELECT count(*)::int FROM pgferry.chunk_generations WHERE copy_key = $1) AS generations`,
          [copyKey],
        )
      ).rows[0]!;
    const left = await kept(key);
    assert.equal(left.plans, 1, 'the terminated copy left its plan');
    assert.ok(left.ranges >= 40, `${left.ranges} planned chunks`);
    assert.equal(left.generations, 1, 'and its ledger');

    // A run that planned and never got to staging (refused as TargetBusy, say): only its plan is left.
    const orphanId = 'pgferry:target:public.gc_never_staged/00000000-0000-4000-8000-000000000015';
    await withClient(h.targetUrl, (client) =>
      inTransaction(client, () =>
        storePlan(client, orphanId, 'snapshot', [
          { n: 0, range: { kind: 'ctid', relation: CHUNKED, startBlock: 0, endBlock: 10 } },
          { n: 1, range: { kind: 'ctid', relation: CHUNKED, startBlock: 10 } },
        ]),
      ),
    );

    const dry = await h.cli(['gc', '--target', 'target', '--dry-run', '--json']);
    assertExitedOk(dry);
    const listed = parseJson<GarbageJson[]>(dry);
    assert.deepEqual(
      listed.map(({ kind, workflowId: id, action }) => ({ kind, workflowId: id, action })),
      [
        { kind: 'staging', workflowId, action: 'dropped' },
        { kind: 'chunk-plan', workflowId: 'pgferry:target:public.gc_never_staged', action: 'dropped' },
      ],
    );
    assert.deepEqual(await kept(key), left, 'dry run removes nothing');

    const collected = await h.cli(['gc', '--target', 'target']);
    assertExitedOk(collected);
    assert.match(
      collected.stdout,
      /removed the chunk plan \(2 chunks\) and ledger of workflow pgferry:target:public\.gc_never_staged /,
    );
    assert.deepEqual(await kept(key), { plans: 0, ranges: 0, generations: 0 });
    assert.deepEqual(await kept(ledgerKey(orphanId)), { plans: 0, ranges: 0, generations: 0 });
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });
});
