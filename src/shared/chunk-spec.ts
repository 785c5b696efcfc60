/**
 * Chunked copy (DESIGN.md, "Chunked copy"): the options a user sets, the plan's chunks and the
 * figures a run reports. Pure module: safe inside the workflow sandbox.
 */
import type { TableRef } from './table-name.js';

export const CONSISTENCY_MODES = ['snapshot', 'chunk'] as const;
/**
 * `snapshot`: every chunk reads one exported snapshot (the target is one point in time);
 * `chunk`: each chunk reads its own snapshot of its key range (not one point in time).
 */
export type ConsistencyMode = (typeof CONSISTENCY_MODES)[number];

export interface ChunkingOptions {
  /** Rows per chunk; default: about {@link DEFAULT_CHUNK_BYTES} of heap per chunk. */
  chunkRows?: number;
  /** Chunks in flight per copy, across all workers (default {@link DEFAULT_JOBS}). */
  jobs?: number;
  consistency?: ConsistencyMode;
}

/** A table whose heap is above this is chunked unless `chunkRows` says otherwise. */
export const DEFAULT_CHUNK_BYTES = 1024 ** 3;
export const DEFAULT_JOBS = 4;

/**
 * One chunk. `ctid`: the heap blocks [startBlock, endBlock) of one relation (a leaf partition
 * for a partitioned source), `endBlock` absent for the relation's last chunk, so rows in blocks
 * added after planning are still read. `key`: the key range (lower, upper] of `--consistency
 * chunk`, bounds as SQL literals of the key's own types, absent at the open ends.
 */
export type ChunkRange =
  | { kind: 'ctid'; relation: TableRef; startBlock: number; endBlock?: number }
  | { kind: 'key'; relation: TableRef; columns: string[]; lower?: string[]; upper?: string[] };

export interface PlannedChunk {
  /** 0-based, stable within a generation: the ledger's chunk number. */
  n: number;
  range: ChunkRange;
}

/**
 * A chunk as a chunk's activity receives it: its number, the range read from the copy's stored
 * plan (src/db/chunk-plan.ts). Histories recorded before the plan was stored carry the range too.
 */
export interface ChunkRef {
  n: number;
  range?: ChunkRange;
}

/**
 * Chunks in planChunks' result, whichever version recorded it: the count (the plan is stored on
 * the target), or the whole plan as results recorded before that carried it.
 */
export function plannedTotal(plan: { total?: number; chunks?: readonly PlannedChunk[] }): number {
  return plan.chunks?.length ?? plan.total ?? 0;
}

/** What `copy --wait --json` and `status --json` report of a chunked copy. */
export interface ChunkStats {
  total: number;
  done: number;
  /** Attempts of every chunk, summed (a chunk copied once counts 1). */
  attempts: number;
  /** Rows moved by attempts that did not commit. */
  reworkedRows: number;
}

/** A readable name of a chunk's range, for summaries and failure messages. */
export function describeRange(range: ChunkRange): string {
  const table = `${range.relation.schema}.${range.relation.table}`;
  if (range.kind === 'ctid') {
    return `${table} ctid [(${range.startBlock},0), ${range.endBlock === undefined ? 'end' : `(${range.endBlock},0)`})`;
  }
  const bound = (values: string[] | undefined, open: string) => (values ? `(${values.join(', ')})` : open);
  return `${table} (${range.columns.join(', ')}) in (${bound(range.lower, '-∞')}, ${bound(range.upper, '+∞')}]`;
}

/** Child workflow id of a batch of chunks, found from the parent's id in the UI. */
export function chunkBatchWorkflowId(parentId: string, generation: number, batch: number): string {
  return `${parentId}/chunks/${generation}/${batch}`;
}
