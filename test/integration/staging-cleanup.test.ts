/**
 * Issue 12.5: a stale backend of this copy (an import whose psql was stopped mid-copy) held the
 * staging table's lock, so dropStaging waited out its lock_timeout and staging stayed behind.
 * Cleanup now fences this copy's own earlier backends first. The stale import is played by a
 * session with the copy's application_name holding the lock an import holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workflowTag, runTag } from '../../activities/attempt-fence.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { query } from '../support/pg.js';
import { stagingTables } from '../support/copy-harness.js';
import { activityEnvironment, createStaging } from '../support/run-copy.js';
import pg from 'pg';

const TABLE: TableRef = { schema: 'public', table: 'cleanup_orders' };
const RUN = { workflowId: 'pgferry:target:test', runId: '00000000-0000-0000-0000-000000000001' };

describe('cleanup (issue 12.5)', { timeout: 120_000 }, () => {
  let world: CopyWorld;

  before(async () => {
    world = await createCopyWorld();
    await query(world.sourceUrl, 'CREATE TABLE cleanup_orders (id int PRIMARY KEY, note text)');
  });
  after(async () => {
    await world?.close();
  });

  test('dropStaging ends a stale backend of this copy that holds the staging lock, then drops staging and the lease', async () => {
    const { staging } = await createStaging(world, TABLE);
    const stale = new pg.Client({
      connectionString: world.targetUrl,
      application_name: `pgferry/${workflowTag(RUN.workflowId)}/${runTag(RUN.runId)}/a1/import`,
    });
    stale.on('error', () => undefined);
    await stale.connect();
    try {
      await stale.query('BEGIN');
      await stale.query(`LOCK TABLE ${quoteTable(staging)} IN ACCESS EXCLUSIVE MODE`);

      await activityEnvironment({ attempt: 1, workflowExecution: RUN }).run(world.activities.dropStaging, {
        target: 'target',
        staging,
        targetTable: TABLE,
      });

      assert.deepEqual(await stagingTables(world.targetUrl), []);
      const leases = await query<{ n: number }>(world.targetUrl, 'SELECT count(*)::int AS n FROM pgferry.leases');
      assert.equal(leases.rows[0]!.n, 0);
      await assert.rejects(stale.query('SELECT 1'), 'the stale backend was terminated');
    } finally {
      await stale.end().catch(() => undefined);
    }
  });
});
