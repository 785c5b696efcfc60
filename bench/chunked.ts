/**
 * Issue 14's bench lines, timed in every round next to today's single-stream copy (F) of the
 * same table into the same target: the chunked copy with `--jobs 1` and `--jobs 2`, the
 * `--jobs 2` copy with three chunk exports SIGKILLed (export-killer.ts), and pgcopydb's
 * same-table concurrency (`clone --split-tables-larger-than`, 2 table jobs) cut into about as
 * many parts as pgferry's chunks.
 */
import type { ChunkStats } from '../src/shared/chunk-spec.js';
import { withExportKills } from './export-killer.js';
import { phaseSeconds, type Ferry, type PhaseSeconds } from './ferry.js';
import type { Measurement } from './report.js';
import { timePgcopydbClone } from './shell.js';
import { TABLE, countRows, type BenchWorld } from './world.js';

const TARGET_SHAPE = 'staging swapped in: logged + PK';

export const CHUNKED_MEASUREMENTS: Omit<Measurement, 'seconds'>[] = [
  { id: 'F-c1', kind: 'variant', label: 'pgferry copy, chunked, --jobs 1', loadsInto: TARGET_SHAPE },
  { id: 'F-c2', kind: 'variant', label: 'pgferry copy, chunked, --jobs 2', loadsInto: TARGET_SHAPE },
  { id: 'F-c2-kill', kind: 'variant', label: 'chunked --jobs 2, 3 exports SIGKILLed', loadsInto: TARGET_SHAPE },
  {
    id: 'D-split',
    kind: 'variant',
    label: 'pgcopydb clone, split table, 2 table jobs',
    loadsInto: 'logged + PK, then VACUUM ANALYZE',
  },
];

/** The kills the fault run aims at (issue 14: three export kills). */
export const EXPORT_KILLS = 3;

/** What a chunked copy reported in one round, with the kills the bench made. */
export interface ChunkedRound extends ChunkStats {
  id: string;
  kills?: number;
  killedChunks?: string[];
  /** Rows the source had sent of each killed chunk when it was killed (at least that many were lost). */
  killedAtRows?: number[];
  /** Seconds per workflow phase, to compare with the single-stream copy's (copyPhases). */
  phases: PhaseSeconds;
}

export interface ChunkedContext {
  world: BenchWorld;
  ferry: Ferry;
  rows: number;
  /** `--chunk-rows` of the chunked copies. */
  chunkRows: number;
  /** pgcopydb's `--split-tables-larger-than`, in bytes. */
  splitBytes: number;
  record(id: string, seconds: number): void;
  /** Resets a target database and lets the previous step's writes settle (variants.ts). */
  settle(db: string, reset?: string): Promise<void>;
}

async function chunkedCopy(ctx: ChunkedContext, id: string, jobs: number, kills = 0): Promise<ChunkedRound> {
  await ctx.settle('ferry', 'TRUNCATE bench_rows');
  const copy = () =>
    ctx.ferry.copy({ source: 'source', target: 'target', table: TABLE, chunking: { chunkRows: ctx.chunkRows, jobs } });
  const killAfterRows = ctx.chunkRows >= 10_000 ? Math.floor(ctx.chunkRows / 2) : 0;
  const { value, kills: made } =
    kills > 0
      ? await withExportKills({ sourceUrl: ctx.world.profiles.get('source')!.url, kills, killAfterRows }, copy)
      : { value: await copy(), kills: undefined };
  const { result, seconds } = value;
  if (result.rows !== ctx.rows) throw new Error(`${id} copied ${result.rows} rows, expected ${ctx.rows}`);
  if (!result.chunks) throw new Error(`${id} did not run in chunks (--chunk-rows ${ctx.chunkRows})`);
  ctx.record(id, seconds);
  const { total, done, attempts, reworkedRows } = result.chunks;
  return {
    id,
    total,
    done,
    attempts,
    reworkedRows,
    phases: phaseSeconds(result),
    ...(made ? { kills: made.kills, killedChunks: made.chunks, killedAtRows: made.sentRows } : {}),
  };
}

/** One round of issue 14's lines; returns each chunked copy's chunk figures. */
export async function runChunkedRound(ctx: ChunkedContext): Promise<ChunkedRound[]> {
  const rounds = [
    await chunkedCopy(ctx, 'F-c1', 1),
    await chunkedCopy(ctx, 'F-c2', 2),
    await chunkedCopy(ctx, 'F-c2-kill', 2, EXPORT_KILLS),
  ];
  // One statement a query: DROP DATABASE cannot run in the implicit transaction of several.
  await ctx.world.sql('target', 'postgres', 'DROP DATABASE IF EXISTS bench_clone');
  await ctx.world.sql('target', 'postgres', 'CREATE DATABASE bench_clone');
  await ctx.settle('bench_clone');
  const env = {
    ...ctx.world.toolEnv,
    SRC: ctx.world.uri('source', 'bench'),
    DST: ctx.world.uri('target', 'bench_clone'),
    SRC_TABLE: 'public.bench_rows',
  };
  const seconds = await timePgcopydbClone(env, ctx.splitBytes);
  const loaded = await countRows(ctx.world, 'target', 'bench_clone', 'public.bench_rows');
  if (loaded !== ctx.rows) throw new Error(`D-split loaded ${loaded} rows, expected ${ctx.rows}`);
  ctx.record('D-split', seconds);
  return rounds;
}
