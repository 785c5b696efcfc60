/**
 * Issue 16's bench line: an incremental run after 1% of the table changed, against a full copy
 * of the same table in the same bench run (goal: at most 5% of the full copy's time). The source
 * is the bench table with an indexed `updated_at` cursor; the full copy creates the target, the
 * watermark is set to where it ended (as a first incremental run would leave it), 1% of the rows
 * are updated, and the incremental upsert's start-to-close is timed.
 */
import { awaitOutcome } from '../src/client/outcome.js';
import { startCopy } from '../src/client/start-copy.js';
import { setWatermark } from '../src/db/watermarks.js';
import type { CopyTableInput, CopyTableResult } from '../src/shared/copy-spec.js';
import type { CopiedWindow } from '../src/shared/incremental.js';
import { TASK_QUEUE, type Ferry } from './ferry.js';
import type { BenchWorld } from './world.js';
import pg from 'pg';

/** `incremental` in results.json. */
export interface IncrementalBench {
  rows: number;
  changedRows: number;
  fullSeconds: number;
  incrementalSeconds: number;
  /** incrementalSeconds / fullSeconds (goal <= 0.05). */
  ratio: number;
  window?: CopiedWindow;
  /** The incremental run's workflow id (its history shows where the time went). */
  workflowId: string;
}

const TABLE = { schema: 'public', table: 'bench_inc' };

async function timedCopy(
  ferry: Ferry,
  input: CopyTableInput,
): Promise<{ seconds: number; result: CopyTableResult; workflowId: string }> {
  const handle = await startCopy(ferry.server.env.client, input, { taskQueue: TASK_QUEUE });
  const outcome = await awaitOutcome(handle);
  if (outcome.status !== 'COMPLETED' || outcome.durationMs === undefined) {
    throw new Error(`copy ${outcome.workflowId} ended ${outcome.status}: ${outcome.failure?.message ?? ''}`);
  }
  return { seconds: outcome.durationMs / 1000, result: await handle.result(), workflowId: handle.workflowId };
}

const BASE = { source: 'source', target: 'target', table: TABLE };
const CHANGE_ONE_PERCENT = `UPDATE bench_inc SET qty = qty + 1, updated_at = clock_timestamp() WHERE id % 100 = 0`;

/** Changes 1% of the rows and times an incremental upsert; throws when it copied other than those rows. */
async function changeAndCopy(world: BenchWorld, ferry: Ferry) {
  const changed = await world.sql('source', 'bench', CHANGE_ONE_PERCENT);
  const incremental = await timedCopy(ferry, { ...BASE, mode: 'upsert', incremental: { column: 'updated_at' } });
  const changedRows = changed.rowCount ?? 0;
  if (incremental.result.rows !== changedRows) {
    throw new Error(`incremental run copied ${incremental.result.rows} rows, ${changedRows} changed`);
  }
  return { ...incremental, changedRows };
}

/** Another incremental run after measureIncremental: 1% more changed, the run timed. */
export async function rerunIncremental(world: BenchWorld, ferry: Ferry): Promise<{ seconds: number; rows: number }> {
  const run = await changeAndCopy(world, ferry);
  return { seconds: run.seconds, rows: run.changedRows };
}

/** Times the full copy and the incremental run; throws when the run copied other than the changed rows. */
export async function measureIncremental(world: BenchWorld, ferry: Ferry): Promise<IncrementalBench> {
  await world.sql(
    'source',
    'bench',
    `CREATE TABLE bench_inc AS SELECT *, created_at AS updated_at FROM bench_rows;
     ALTER TABLE bench_inc ADD PRIMARY KEY (id), ALTER updated_at SET NOT NULL;
     CREATE INDEX ON bench_inc (updated_at)`,
  );
  await world.sql('source', 'bench', 'VACUUM ANALYZE bench_inc');
  const full = await timedCopy(ferry, { ...BASE, mode: 'replace' });
  const { rows } = await world.sql('source', 'bench', 'SELECT max(updated_at)::text AS high FROM bench_inc');
  const target = new pg.Client({ connectionString: world.profiles.get('target')!.url });
  await target.connect();
  try {
    const key = { targetTable: 'public.bench_inc', sourceProfile: 'source', sourceTable: 'public.bench_inc' };
    await setWatermark(
      target,
      { ...key, column: 'updated_at' },
      'timestamp with time zone',
      (rows[0] as { high: string }).high,
    );
  } finally {
    await target.end();
  }
  const incremental = await changeAndCopy(world, ferry);
  return {
    rows: full.result.rows,
    changedRows: incremental.changedRows,
    fullSeconds: full.seconds,
    incrementalSeconds: incremental.seconds,
    ratio: incremental.seconds / full.seconds,
    ...(incremental.result.window ? { window: incremental.result.window } : {}),
    workflowId: incremental.workflowId,
  };
}
