/**
 * Issue 16's bench line: an incremental run after 1% of the table changed, against a full copy
 * of the same table in the same bench run (goal: at most 5% of the full copy's time). The source
 * is the bench table with an indexed `updated_at` cursor; the full copy creates the target, the
 * watermark is set to where it ended (as a first incremental run would leave it), then, a few
 * times over, 1% of the rows are updated and the incremental upsert's start-to-close is timed,
 * and 1% more are updated and the same window is moved by hand (the reference: `psql | psql`
 * into a temporary table and the same INSERT ... ON CONFLICT, in one transaction), so the
 * figure says what the window itself costs on this machine and what pgferry adds to it.
 */
import { awaitOutcome } from '../src/client/outcome.js';
import { startCopy } from '../src/client/start-copy.js';
import { setWatermark } from '../src/db/watermarks.js';
import type { CopyTableInput, CopyTableResult } from '../src/shared/copy-spec.js';
import type { CopiedWindow } from '../src/shared/incremental.js';
import { TASK_QUEUE, type Ferry } from './ferry.js';
import { PSQL, timeScript } from './shell.js';
import type { BenchWorld } from './world.js';
import pg from 'pg';
import { median } from './report.js';

/** `incremental` in results.json. */
export interface IncrementalBench {
  rows: number;
  changedRows: number;
  fullSeconds: number;
  /** Median of the runs' incremental seconds. */
  incrementalSeconds: number;
  /** incrementalSeconds / fullSeconds (goal <= 0.05). */
  ratio: number;
  /** Median of the runs' by-hand seconds, and its share of the full copy. */
  rawSeconds: number;
  rawRatio: number;
  /** Each run with the window it copied. */
  runs: IncrementalRun[];
}

/** One pgferry incremental run and, after another 1% changed, the same window moved by hand. */
export interface IncrementalRun {
  seconds: number;
  rows: number;
  rawSeconds: number;
  /** The run's workflow id (its history shows where the time went). */
  workflowId: string;
  window?: CopiedWindow;
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

/**
 * Which 1% of the rows each change touches. 'same': id % 100 = 0 every time, the bench's line, so
 * from the second run on their newest versions sit together at the end of both tables and a run
 * reads and upserts a few hundred pages. 'scattered': another 1% each time (id % 100 = 1, 2, ...),
 * as an hour of real changes spreads over a table: 20,000 rows on as many pages.
 */
export type ChangedRows = 'same' | 'scattered';

/** The UPDATE statements of successive changes, each of 1% of the rows. */
export function changeStatements(rows: ChangedRows): () => string {
  let change = 0;
  return () => {
    const remainder = rows === 'same' ? 0 : (change++ % 99) + 1;
    return `UPDATE bench_inc SET qty = qty + 1, updated_at = clock_timestamp() WHERE id % 100 = ${remainder}`;
  };
}

/** Changes 1% of the rows and times an incremental upsert; throws when it copied other than those rows. */
async function changeAndCopy(world: BenchWorld, ferry: Ferry, nextChange: () => string) {
  const changed = await world.sql('source', 'bench', nextChange());
  const incremental = await timedCopy(ferry, { ...BASE, mode: 'upsert', incremental: { column: 'updated_at' } });
  const changedRows = changed.rowCount ?? 0;
  if (incremental.result.rows !== changedRows) {
    throw new Error(`incremental run copied ${incremental.result.rows} rows, ${changedRows} changed`);
  }
  return { ...incremental, changedRows };
}

const highMark = async (world: BenchWorld) =>
  (
    (await world.sql('source', 'bench', 'SELECT max(updated_at)::text AS high FROM bench_inc')).rows[0] as {
      high: string;
    }
  ).high;

/**
 * The window by hand, as a person would script it: export (LOW, HIGH] with psql, load it into a
 * temporary table and upsert from it in one transaction. LOW and HIGH come from the environment.
 */
const BY_HAND_SCRIPT =
  `${PSQL} -d "$SRC" -c "COPY (SELECT * FROM bench_inc WHERE updated_at > '$LOW' AND updated_at <= '$HIGH') TO STDOUT (FORMAT binary)" | ` +
  `${PSQL} -d "$DST" -c 'BEGIN' -c 'CREATE TEMP TABLE w (LIKE bench_inc) ON COMMIT DROP' ` +
  `-c 'COPY w FROM STDIN (FORMAT binary)' -c "$UPSERT" -c 'COMMIT'`;
const UPSERT = `INSERT INTO bench_inc SELECT * FROM w ON CONFLICT (id) DO UPDATE SET
  qty = EXCLUDED.qty, amount = EXCLUDED.amount, note = EXCLUDED.note, created_at = EXCLUDED.created_at,
  attrs = EXCLUDED.attrs, updated_at = EXCLUDED.updated_at`;

/** Changes 1% more and moves that window by hand; seconds. Leaves the watermark behind (the next pgferry run re-reads it). */
async function changeAndCopyByHand(world: BenchWorld, nextChange: () => string): Promise<number> {
  const low = await highMark(world);
  const changed = await world.sql('source', 'bench', nextChange());
  const high = await highMark(world);
  const env = {
    ...world.toolEnv,
    SRC: world.uri('source', 'bench'),
    DST: world.uri('target', 'ferry'),
    LOW: low,
    HIGH: high,
    UPSERT,
  };
  const { seconds } = await timeScript('incremental by hand', BY_HAND_SCRIPT, env);
  const { rows } = await world.sql(
    'target',
    'ferry',
    `SELECT count(*)::int AS n FROM bench_inc WHERE updated_at > '${low}'`,
  );
  if ((rows[0] as { n: number }).n !== changed.rowCount) {
    throw new Error(`the window by hand moved ${(rows[0] as { n: number }).n} rows, ${changed.rowCount} changed`);
  }
  return seconds;
}

/** The target's watermark for bench_inc, set to the source's high mark now. */
async function markTargetCurrent(world: BenchWorld): Promise<void> {
  const target = new pg.Client({ connectionString: world.profiles.get('target')!.url });
  await target.connect();
  try {
    const key = { targetTable: 'public.bench_inc', sourceProfile: 'source', sourceTable: 'public.bench_inc' };
    await setWatermark(target, { ...key, column: 'updated_at' }, 'timestamp with time zone', await highMark(world));
  } finally {
    await target.end();
  }
}

/** One incremental run, then the by-hand window; the watermark is moved past the by-hand rows. */
export async function incrementalRun(
  world: BenchWorld,
  ferry: Ferry,
  nextChange: () => string,
): Promise<IncrementalRun> {
  const run = await changeAndCopy(world, ferry, nextChange);
  const rawSeconds = await changeAndCopyByHand(world, nextChange);
  await markTargetCurrent(world);
  return {
    seconds: run.seconds,
    rows: run.changedRows,
    rawSeconds,
    workflowId: run.workflowId,
    ...(run.result.window ? { window: run.result.window } : {}),
  };
}

/** Times the full copy, then `runs` incremental runs, each beside the same window by hand. */
export async function measureIncremental(
  world: BenchWorld,
  ferry: Ferry,
  runs = 3,
  nextChange: () => string = changeStatements('same'),
): Promise<IncrementalBench> {
  await world.sql(
    'source',
    'bench',
    `CREATE TABLE bench_inc AS SELECT *, created_at AS updated_at FROM bench_rows;
     ALTER TABLE bench_inc ADD PRIMARY KEY (id), ALTER updated_at SET NOT NULL;
     CREATE INDEX ON bench_inc (updated_at)`,
  );
  await world.sql('source', 'bench', 'VACUUM ANALYZE bench_inc');
  const full = await timedCopy(ferry, { ...BASE, mode: 'replace' });
  await markTargetCurrent(world);
  const measured: IncrementalRun[] = [];
  for (let i = 0; i < runs; i++) measured.push(await incrementalRun(world, ferry, nextChange));
  const incrementalSeconds = median(measured.map((run) => run.seconds));
  const rawSeconds = median(measured.map((run) => run.rawSeconds));
  return {
    rows: full.result.rows,
    changedRows: measured.at(-1)!.rows,
    fullSeconds: full.seconds,
    incrementalSeconds,
    ratio: incrementalSeconds / full.seconds,
    rawSeconds,
    rawRatio: rawSeconds / full.seconds,
    runs: measured,
  };
}
