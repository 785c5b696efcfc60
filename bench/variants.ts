/**
 * What one round times, in order. Every step resets its target (TRUNCATE, or a fresh staging)
 * and settles (CHECKPOINT, then the OS's `sync`) before the clock starts, and checks the loaded
 * row count after it stops, so each variant does the same work on the same data. The clusters
 * run with fsync off, so without `sync` the kernel writes the previous step's ~500 MB back
 * while the next one runs: that alone moved a variant's time by up to 45% between rounds.
 */
import { execa } from 'execa';
import pg from 'pg';
import { quoteTable } from '../src/shared/table-name.js';
import type { CreateStagingResult } from '../activities/index.js';
import { CHUNKED_MEASUREMENTS, runChunkedRound, type ChunkedRound } from './chunked.js';
import type { Ferry, PhaseSeconds } from './ferry.js';
import { phaseSeconds } from './ferry.js';
import type { Measurement } from './report.js';
import { sampleRss } from './rss.js';
import { PG_DUMP_SCRIPT, blockRanges, chunkPipesScript, rawPipeScript, timePgcopydb, timeScript } from './shell.js';
import { TABLE, countRows, type BenchWorld } from './world.js';

const STAGING_KIND = 'UNLOGGED, no index';

export const MEASUREMENTS: Omit<Measurement, 'seconds'>[] = [
  { id: 'A', kind: 'variant', label: 'raw text psql | psql', loadsInto: STAGING_KIND },
  { id: 'B', kind: 'variant', label: 'raw binary psql | psql', loadsInto: STAGING_KIND },
  { id: 'C', kind: 'variant', label: 'pg_dump --data-only | psql', loadsInto: STAGING_KIND },
  { id: 'D', kind: 'variant', label: 'pgcopydb copy table-data, 1 job', loadsInto: STAGING_KIND },
  {
    id: 'E',
    kind: 'variant',
    label: 'pgferry exportImport alone',
    loadsInto: 'staging: logged, no index, TRUNCATE+FREEZE',
  },
  {
    id: 'F',
    kind: 'variant',
    label: 'pgferry copy --mode replace (Temporal)',
    loadsInto: 'staging swapped in: logged + PK',
  },
  ...CHUNKED_MEASUREMENTS,
  { id: 'B-freeze', kind: 'reference', label: 'raw binary, TRUNCATE + COPY FREEZE', loadsInto: STAGING_KIND },
  {
    id: 'B-logged',
    kind: 'reference',
    label: "raw binary into E's staging shape",
    loadsInto: 'logged, no index, TRUNCATE+FREEZE',
  },
  {
    id: 'B-chunks',
    kind: 'reference',
    label: 'raw binary, one psql | psql per chunk, in turn',
    loadsInto: 'logged, no index, a transaction per chunk',
  },
  { id: 'B-target', kind: 'reference', label: "raw binary into F's target shape", loadsInto: 'logged + PK' },
  { id: 'D-target', kind: 'reference', label: "pgcopydb, 1 job, into F's target shape", loadsInto: 'logged + PK' },
  { id: 'P-insert', kind: 'publish', label: 'publish by rows: TRUNCATE + INSERT SELECT', loadsInto: 'logged + PK' },
  {
    id: 'P-rebuild',
    kind: 'publish',
    label: 'publish by rows: drop PK, INSERT SELECT, add PK',
    loadsInto: 'logged + PK',
  },
];

export interface RoundContext {
  world: BenchWorld;
  ferry: Ferry;
  rows: number;
  /** `--chunk-rows` of the chunked copies (chunked.ts). */
  chunkRows: number;
  /** pgcopydb's `--split-tables-larger-than` in bytes (chunked.ts). */
  splitBytes: number;
  say(message: string): void;
}

export interface RoundExtras {
  phases: PhaseSeconds;
  rssPeakMB: number;
  rssBeforeMB: number;
  binaryBytes: number;
  /** Chunk figures of the chunked copies, kills included. */
  chunked: ChunkedRound[];
}

async function targetSql(ctx: RoundContext, db: string, text: string): Promise<void> {
  await ctx.world.sql('target', db, text);
}

/** Runs `reset` on the target's `db`, then CHECKPOINT and `sync`: each step starts clean. */
async function settle(ctx: RoundContext, db: string, reset = ''): Promise<void> {
  await targetSql(ctx, db, `${reset}${reset ? '; ' : ''}CHECKPOINT`);
  await execa('sync');
}

async function expectRows(ctx: RoundContext, id: string, db: string, table: string): Promise<void> {
  const rows = await countRows(ctx.world, 'target', db, table);
  if (rows !== ctx.rows) throw new Error(`${id} loaded ${rows} rows into ${db}.${table}, expected ${ctx.rows}`);
}

function toolEnv(ctx: RoundContext, dstTable: string): Record<string, string> {
  return {
    ...ctx.world.toolEnv,
    SRC: ctx.world.uri('source', 'bench'),
    DST: ctx.world.uri('target', 'bench'),
    SRC_TABLE: 'public.bench_rows',
    DST_TABLE: dstTable,
  };
}

/** A raw tool loading target `db`.`dstTable`. */
async function timeTool(ctx: RoundContext, id: string, dstTable: string, run: () => Promise<number>, db = 'bench') {
  await settle(ctx, db, `TRUNCATE ${dstTable}`);
  const seconds = await run();
  await expectRows(ctx, id, db, dstTable);
  return seconds;
}

/** Times statements in one transaction on the target's `ferry` database; seconds in all. */
async function timeStatements(ctx: RoundContext, statements: string[]): Promise<number> {
  const client = new pg.Client({ connectionString: ctx.world.target.url('ferry') });
  await client.connect();
  try {
    await settle(ctx, 'ferry');
    const started = performance.now();
    await client.query('BEGIN');
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

/**
 * Publish by moving rows, the way publish works when a swap is ruled out (a view on the target,
 * say), two ways, from the staging E just loaded; F's publish phase is the swap.
 */
async function timeRowPublishes(ctx: RoundContext, staged: CreateStagingResult): Promise<[string, number][]> {
  const staging = quoteTable(staged.staging);
  const columns = staged.columns.map((c) => `"${c}"`).join(', ');
  const insert = `INSERT INTO bench_rows (${columns}) SELECT ${columns} FROM ${staging}`;
  const timings: [string, number][] = [];
  timings.push([
    'P-insert',
    await timeStatements(ctx, ['LOCK TABLE bench_rows IN ACCESS EXCLUSIVE MODE', 'TRUNCATE bench_rows', insert]),
  ]);
  await expectRows(ctx, 'P-insert', 'ferry', 'bench_rows');
  timings.push([
    'P-rebuild',
    await timeStatements(ctx, [
      'LOCK TABLE bench_rows IN ACCESS EXCLUSIVE MODE',
      'TRUNCATE bench_rows',
      'ALTER TABLE bench_rows DROP CONSTRAINT bench_rows_pkey',
      insert,
      'ALTER TABLE bench_rows ADD CONSTRAINT bench_rows_pkey PRIMARY KEY (id)',
    ]),
  ]);
  await expectRows(ctx, 'P-rebuild', 'ferry', 'bench_rows');
  await targetSql(ctx, 'ferry', `DROP TABLE ${staging}`);
  return timings;
}

/** The source's heap blocks cut into as many ranges as the chunked copies have chunks (about). */
async function chunkRanges(ctx: RoundContext): Promise<string> {
  const { rows } = await ctx.world.sql(
    'source',
    'bench',
    `SELECT pg_relation_size('bench_rows') / current_setting('block_size')::int AS blocks`,
  );
  return blockRanges(Number((rows[0] as { blocks: string }).blocks), Math.ceil(ctx.rows / ctx.chunkRows));
}

/** One interleaved round; returns seconds per measurement id and what F reported. */
export async function runRound(ctx: RoundContext): Promise<{ seconds: Map<string, number>; extras: RoundExtras }> {
  const seconds = new Map<string, number>();
  const record = (id: string, value: number) => {
    seconds.set(id, value);
    ctx.say(`  ${id.padEnd(9)} ${value.toFixed(2)} s`);
  };
  const env = toolEnv(ctx, 'public.bench_rows');
  const run =
    (label: string, script: string, e = env) =>
    async () =>
      (await timeScript(label, script, e)).seconds;

  record('A', await timeTool(ctx, 'A', 'bench_rows', run('raw text pipe', rawPipeScript('text'))));
  record('B', await timeTool(ctx, 'B', 'bench_rows', run('raw binary pipe', rawPipeScript('binary'))));
  record('C', await timeTool(ctx, 'C', 'bench_rows', run('pg_dump | psql', PG_DUMP_SCRIPT)));
  record('D', await timeTool(ctx, 'D', 'bench_rows', () => timePgcopydb(env)));

  const staged = await ctx.ferry.createStaging(TABLE);
  await settle(ctx, 'ferry');
  const e = await ctx.ferry.exportImport(TABLE, staged);
  if (e.rows !== ctx.rows) throw new Error(`E loaded ${e.rows} rows, expected ${ctx.rows}`);
  record('E', e.seconds);
  for (const [id, value] of await timeRowPublishes(ctx, staged)) record(id, value);

  await settle(ctx, 'ferry', 'TRUNCATE bench_rows');
  const before = process.memoryUsage.rss();
  const sampler = sampleRss(() => process.memoryUsage.rss());
  let rssPeakMB = 0;
  let copy;
  try {
    copy = await ctx.ferry.copy({ source: 'source', target: 'target', table: TABLE });
  } finally {
    rssPeakMB = sampler.stop();
  }
  if (copy.result.rows !== ctx.rows) throw new Error(`F copied ${copy.result.rows} rows, expected ${ctx.rows}`);
  record('F', copy.seconds);
  const chunked = await runChunkedRound({
    ...ctx,
    record,
    settle: (db, reset) => settle(ctx, db, reset),
  });
  for (const c of chunked) {
    const at = (c.killedAtRows ?? []).map((rows, i) => `${c.killedChunks![i]} at ${rows} rows sent`);
    const killed = c.kills === undefined ? '' : `, ${c.kills} exports killed (${at.join(', ')})`;
    ctx.say(`  (${c.id}: ${c.total} chunks, ${c.attempts} attempts, ${c.reworkedRows} rows reworked${killed})`);
  }

  const freezeEnv = toolEnv(ctx, 'public.bench_rows');
  record(
    'B-freeze',
    await timeTool(
      ctx,
      'B-freeze',
      'bench_rows',
      run('raw binary FREEZE', rawPipeScript('binary', { freeze: true }), freezeEnv),
    ),
  );
  const loggedEnv = toolEnv(ctx, 'public.bench_rows_logged');
  record(
    'B-logged',
    await timeTool(
      ctx,
      'B-logged',
      'bench_rows_logged',
      run('raw binary logged', rawPipeScript('binary', { freeze: true }), loggedEnv),
    ),
  );
  record(
    'B-chunks',
    await timeTool(
      ctx,
      'B-chunks',
      'bench_rows_logged',
      run('raw binary per chunk', chunkPipesScript(), { ...loggedEnv, RANGES: await chunkRanges(ctx) }),
    ),
  );
  const rssBeforeMB = before / 1048576;
  const targetEnv = toolEnv(ctx, 'public.bench_rows_pk');
  record(
    'B-target',
    await timeTool(
      ctx,
      'B-target',
      'bench_rows_pk',
      run('raw binary into logged + PK', rawPipeScript('binary'), targetEnv),
    ),
  );
  const pkEnv = { ...env, DST: ctx.world.uri('target', 'bench_pk') };
  record('D-target', await timeTool(ctx, 'D-target', 'bench_rows', () => timePgcopydb(pkEnv), 'bench_pk'));
  ctx.say(`  (bench RSS before F ${rssBeforeMB.toFixed(0)} MB, peak during F ${rssPeakMB.toFixed(0)} MB)`);
  const extras = {
    phases: phaseSeconds(copy.result),
    rssPeakMB,
    rssBeforeMB,
    binaryBytes: copy.result.bytes,
    chunked,
  };
  return { seconds, extras };
}
