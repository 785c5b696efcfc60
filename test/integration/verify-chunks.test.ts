/**
 * Per-chunk verification (issue 14, DESIGN.md C5): the chunk activities run in-process against
 * real clusters and psql; a staged row changed after its chunk committed is found, and the
 * mismatch names that chunk, not just the table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { activityEnvironment, createStaging } from '../support/run-copy.js';
import { makeTable } from '../support/copy-harness.js';
import { query } from '../support/pg.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';

const TABLE: TableRef = { schema: 'public', table: 'verified_orders' };
/** Runs one activity in a fresh mock environment, typed by the activity. */
function run<P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> {
  return activityEnvironment().run<P, R, typeof fn>(fn, ...args);
}

const COPY_ID = 'pgferry:target:public.verified_orders/00000000-0000-0000-0000-000000000001';

describe('verifyChunks (issue 14)', { timeout: 300_000 }, () => {
  let world: CopyWorld;
  before(async () => {
    world = await createCopyWorld();
  });
  after(async () => {
    await world?.close();
  });

  test('a staged row changed after its chunk committed is reported as a mismatch of that chunk only', async () => {
    await makeTable(world.sourceUrl, TABLE, { to: 20_000 });
    const staged = await createStaging(world, TABLE);
    const { activities } = world;
    await run(activities.startChunkGeneration, {
      target: 'target',
      copyId: COPY_ID,
      generation: 1,
      staging: staged.staging,
    });
    const plan = await run(activities.planChunks, {
      source: 'source',
      target: 'target',
      copyId: COPY_ID,
      table: TABLE,
      chunking: { chunkRows: 5_000 },
    });
    assert.ok(plan.total >= 3, `${plan.total} chunks`);
    assert.equal(plan.chunks, undefined, 'the plan stays on the target');
    for (let n = 0; n < plan.total; n++) {
      const chunk = { n };
      const result = await run(activities.copyChunk, {
        copyId: COPY_ID,
        generation: 1,
        chunk,
        source: 'source',
        target: 'target',
        staging: staged.staging,
        columns: staged.columns,
        format: 'binary' as const,
        verify: 'checksum' as const,
        stallTimeoutMs: 60_000,
      });
      assert.equal(result.skipped, false);
    }
    const verify = () =>
      run(activities.verifyChunks, {
        target: 'target',
        copyId: COPY_ID,
        generation: 1,
        staging: staged.staging,
        columns: staged.columns,
      });
    assert.deepEqual(await verify(), []);

    // id 1 is in the first heap block of the source, so in chunk 0.
    await query(world.targetUrl, `UPDATE ${quoteTable(staged.staging)} SET label = 'changed' WHERE id = 1`);
    const mismatches = await verify();
    assert.deepEqual(
      mismatches.map(({ chunk }) => chunk),
      [0],
    );
    // Named by its range, read from the plan stored on the target.
    assert.match(mismatches[0]!.range ?? '', /^public\.verified_orders ctid \[\(0,0\), \(\d+,0\)\)$/);
    // A retried chunk whose ledger row exists is skipped, not copied again.
    const again = await run(activities.copyChunk, {
      copyId: COPY_ID,
      generation: 1,
      chunk: { n: 1 },
      source: 'source',
      target: 'target',
      staging: staged.staging,
      columns: staged.columns,
      format: 'binary' as const,
      verify: 'checksum' as const,
      stallTimeoutMs: 60_000,
    });
    assert.equal(again.skipped, true);
    const { rows } = await query<{ n: number }>(
      world.targetUrl,
      `SELECT count(*)::int AS n FROM ${quoteTable(staged.staging)}`,
    );
    assert.equal(rows[0]!.n, 20_000);
  });
});
