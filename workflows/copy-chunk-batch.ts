/**
 * copyChunkBatch: a child workflow that copies a batch of chunks, `jobs` at a time (DESIGN.md
 * C7, C8). Batches keep every history short whatever the table: a batch of at most
 * {@link CHUNKS_PER_BATCH} chunks writes a few events per chunk, the copy a few per batch.
 * Activities go to the task queue's workers, whichever of them runs this workflow.
 */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities, CopyChunkInput, CopyChunkResult } from '../activities/index.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../src/shared/failure-types.js';
import type { ChunkRef, PlannedChunk } from '../src/shared/chunk-spec.js';
import { formatCount } from '../src/shared/format.js';

/** Chunks per child workflow: a few hundred events each, far below the 5,000 bound. */
export const CHUNKS_PER_BATCH = 100;

export interface ChunkBatchInput {
  chunk: Omit<CopyChunkInput, 'chunk'>;
  /**
   * The batch's chunks, numbers `first` to `last` of the copy's stored plan: each chunk reads its
   * own range (src/db/chunk-plan.ts), so this input is the same few bytes however large the plan.
   */
  first?: number;
  last?: number;
  /** The batch's chunks with their ranges, as parents recorded before the plan was stored passed them. */
  chunks?: PlannedChunk[];
  jobs: number;
  copyTimeout: string;
  heartbeatTimeout: string;
  maxAttempts?: number;
  /** How long a chunk is retried, from its first attempt (schedule-to-close). */
  budgetMs: number;
  /** The task queue of the pipes, when the workers keep one (PGFERRY_MAX_PIPES). */
  pipeTaskQueue?: string;
}

export interface ChunkBatchTotals {
  done: number;
  attempts: number;
  reworkedRows: number;
  exportedRows: number;
  importedRows: number;
  bytes: number;
  /** Sum of the chunks' digests (verify=checksum), a decimal integer. */
  digest: string;
}

export function emptyTotals(): ChunkBatchTotals {
  return { done: 0, attempts: 0, reworkedRows: 0, exportedRows: 0, importedRows: 0, bytes: 0, digest: '0' };
}

/** Adds one chunk's result (or another batch's totals) to `totals`. */
export function addChunk(totals: ChunkBatchTotals, result: CopyChunkResult): void {
  totals.done += 1;
  totals.attempts += result.attempt;
  totals.reworkedRows += result.reworkedRows;
  totals.exportedRows += result.exportedRows;
  totals.importedRows += result.importedRows;
  totals.bytes += result.bytes;
  totals.digest = (BigInt(totals.digest) + BigInt(result.digest ?? '0')).toString();
}

export function addTotals(into: ChunkBatchTotals, from: ChunkBatchTotals): void {
  into.done += from.done;
  into.attempts += from.attempts;
  into.reworkedRows += from.reworkedRows;
  into.exportedRows += from.exportedRows;
  into.importedRows += from.importedRows;
  into.bytes += from.bytes;
  into.digest = (BigInt(into.digest) + BigInt(from.digest)).toString();
}

export async function copyChunkBatch(input: ChunkBatchInput): Promise<ChunkBatchTotals> {
  const { copyChunk } = proxyActivities<Activities>({
    ...(input.pipeTaskQueue ? { taskQueue: input.pipeTaskQueue } : {}),
    // Eager dispatch would hand every chunk to the worker running this batch: C8 wants them
    // spread over all workers of the queue.
    allowEagerDispatch: false,
    startToCloseTimeout: input.copyTimeout,
    heartbeatTimeout: input.heartbeatTimeout,
    scheduleToCloseTimeout: input.budgetMs,
    retry: {
      // A chunk's retry is cheap and its fault usually local (a killed psql, a lost connection):
      // the first retry comes at once, and the backoff still reaches 30 s for a longer outage.
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      ...(input.maxAttempts ? { maximumAttempts: input.maxAttempts } : {}),
      // A lost snapshot is the copy's to answer (a new generation), not a retry's.
      nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES, FailureType.SnapshotLost],
    },
  });
  const totals = emptyTotals();
  const pending: ChunkRef[] = input.chunks
    ? [...input.chunks]
    : Array.from({ length: (input.last ?? -1) - (input.first ?? 0) + 1 }, (_, i) => ({ n: (input.first ?? 0) + i }));
  const count = pending.length;
  const report = () =>
    setCurrentDetails(
      `chunks ${totals.done} of ${count} done, ${formatCount(totals.importedRows)} rows` +
        (totals.attempts > totals.done ? `, ${totals.attempts - totals.done} retried attempts` : ''),
    );
  report();
  async function lane(): Promise<void> {
    for (let next = pending.shift(); next; next = pending.shift()) {
      const result = await copyChunk.executeWithOptions({ summary: `chunk ${next.n}` }, [
        { ...input.chunk, chunk: next },
      ]);
      addChunk(totals, result);
      report();
    }
  }
  const lanes = Math.max(1, Math.min(input.jobs, count));
  await Promise.all(Array.from({ length: lanes }, () => lane()));
  return totals;
}
