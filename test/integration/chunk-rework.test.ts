/**
 * reworkedRows (issue 14): a chunk attempt whose export is killed reports, as it fails, every row
 * its import had received, so the next attempt counts them as reworked. Before, the attempt
 * reported its last progress sample (taken once a second), so a kill before the first sample,
 * or between two, counted fewer rows than were moved and rolled back, often none. The chunk
 * activity runs in-process against real clusters and real psql.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyChunkHeartbeat } from '../../activities/index.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { activityEnvironment, createStaging } from '../support/run-copy.js';
import { makeTable, waitFor } from '../support/copy-harness.js';
import { assertFailure } from '../support/failures.js';
import { query } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';

const TABLE: TableRef = { schema: 'public', table: 'reworked_orders' };
const COPY_ID = 'pgferry:target:public.reworked_orders/00000000-0000-0000-0000-000000000014';

describe('chunk rework (issue 14)', { timeout: 300_000 }, () => {
  let world: CopyWorld;
  before(async () => {
    world = await createCopyWorld();
  });
  after(async () => {
    await world?.close();
  });

  test('a chunk attempt whose export is killed mid-import heartbeats, as it fails, at least the rows its import had', async () => {
    await makeTable(world.sourceUrl, TABLE, { to: 1_000_000 });
    const staged = await createStaging(world, TABLE);
    const { activities } = world;
    await activityEnvironment().run(activities.startChunkGeneration, {
      target: 'target',
      copyId: COPY_ID,
      generation: 1,
      staging: staged.staging,
    });
    const env = activityEnvironment();
    const beats: CopyChunkHeartbeat[] = [];
    env.on('heartbeat', (details: CopyChunkHeartbeat) => beats.push(details));
    const running = env.run(activities.copyChunk, {
      copyId: COPY_ID,
      generation: 1,
      chunk: { n: 0, range: { kind: 'ctid' as const, relation: TABLE, startBlock: 0 } },
      source: 'source',
      target: 'target',
      staging: staged.staging,
      columns: staged.columns,
      format: 'text' as const,
      verify: 'count' as const,
      stallTimeoutMs: 60_000,
    });
    running.catch(() => undefined);

    // The import's own count once it has 10,000 rows; the kill comes right after this reading.
    const seen = await waitFor('the chunk import to hold 10,000 rows', async () => {
      const { rows } = await query<{ n: string | null }>(
        world.targetUrl,
        `SELECT max(tuples_processed)::text AS n FROM pg_stat_progress_copy WHERE command = 'COPY FROM'`,
      );
      const n = Number(rows[0]?.n ?? 0);
      return n >= 10_000 ? n : undefined;
    });
    const exportPid = childProcesses().find((child) => /\/g1c0\/a\d+\/export$/.test(child.appName ?? ''))?.pid;
    assert.ok(exportPid, 'the chunk export is a child of this process');
    process.kill(exportPid, 'SIGKILL');
    await assertFailure(running, FailureType.ExportKilled, false);

    // Rows only grow after the reading: the import kept what the pipe still held, then its COPY
    // ended at the dead export's end of input. None of them committed.
    const last = beats.at(-1);
    console.log(`import had ${seen} rows at the kill; the failing attempt heartbeat ${JSON.stringify(last)}`);
    assert.ok(last && last.rows >= seen, `last heartbeat ${JSON.stringify(last)}; the import had ${seen} rows`);
    const { rows } = await query<{ n: number }>(
      world.targetUrl,
      `SELECT count(*)::int AS n FROM "${staged.staging.schema}"."${staged.staging.table}"`,
    );
    assert.equal(rows[0]!.n, 0, 'the killed attempt committed nothing');
  });
});
