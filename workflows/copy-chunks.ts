/**
 * The chunked path of copyTable (DESIGN.md, "Chunked copy"): generations of batches of chunks.
 * Under `--consistency snapshot` a holder activity keeps one exported snapshot open for the
 * whole generation and every chunk reads it; when the holder is lost (SnapshotLost, heartbeat
 * timeout) the generation is abandoned, its rows leave staging, and a new generation starts in
 * a fresh snapshot. Under `--consistency chunk` each chunk reads its own snapshot of its key
 * range, so there is one generation and finished chunks survive every fault. Batches run as
 * child workflows `<copy id>/chunks/<generation>/<batch>` one after another, each with `jobs`
 * chunks in flight. Workflow code: activities only as types.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ExportImportResult, PlanChunksResult } from '../activities/index.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../src/shared/failure-types.js';
import { chunkBatchWorkflowId, describeRange, plannedTotal, type ChunkStats } from '../src/shared/chunk-spec.js';
import { snapshotReadySignal } from '../src/shared/chunk-signals.js';
import type { CopyFormat, VerifyMode } from '../src/shared/copy-spec.js';
import type { TableRef } from '../src/shared/table-name.js';
import { addTotals, CHUNKS_PER_BATCH, copyChunkBatch, emptyTotals, type ChunkBatchTotals } from './copy-chunk-batch.js';

/** Fresh snapshots a copy tries before it gives up on a source that keeps losing them. */
const MAX_GENERATIONS = 5;

export interface ChunkedCopyInput {
  plan: PlanChunksResult;
  source: string;
  target: string;
  table: TableRef;
  staging: TableRef;
  columns: string[];
  format: CopyFormat;
  verify: VerifyMode;
  stallTimeoutMs: number;
  jobs: number;
  copyTimeout: string;
  heartbeatTimeout: string;
  /** Cap on a chunk's attempts; without one, retried until `budgetMs` from its first attempt. */
  maxAttempts?: number;
  budgetMs: number;
  pipeTaskQueue?: string;
  /** The first generation to use: a re-copy after a count mismatch starts after the last. */
  firstGeneration: number;
  onProgress: (stats: ChunkStats, totals: ChunkBatchTotals) => void;
}

export interface ChunkedCopyResult extends ExportImportResult {
  chunks: ChunkStats;
  generation: number;
}

function hasFailureType(error: unknown, type: FailureType): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current instanceof ApplicationFailure && current.type === type) return true;
  }
  return false;
}

/** A failure no new snapshot can fix (the source table is gone, permissions, ...). */
function permanent(error: unknown): boolean {
  return (
    error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable === true
  );
}

/** Fails as CountMismatch naming every chunk whose staged rows differ from its export. */
async function verifyEachChunk(input: ChunkedCopyInput, copyId: string, generation: number): Promise<void> {
  const { verifyChunks } = proxyActivities<Activities>({
    startToCloseTimeout: input.copyTimeout,
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  });
  const mismatches = await verifyChunks({
    target: input.target,
    copyId,
    generation,
    staging: input.staging,
    columns: input.columns,
  });
  if (mismatches.length === 0) return;
  // verifyChunks names the ranges from the stored plan; a plan recorded in history names its own.
  const ranges = new Map((input.plan.chunks ?? []).map((chunk) => [chunk.n, describeRange(chunk.range)]));
  const named = mismatches.map(
    (mismatch) =>
      `chunk ${mismatch.chunk} (${ranges.get(mismatch.chunk) ?? mismatch.range}): exported ${mismatch.exportedRows}, ` +
      `imported ${mismatch.ledgerRows}, staged ${mismatch.stagedRows}, ` +
      `digest ${mismatch.stagedDigest} staged vs ${mismatch.ledgerDigest} exported`,
  );
  throw ApplicationFailure.create({
    type: FailureType.CountMismatch,
    nonRetryable: true,
    message: `row digests differ in ${mismatches.length} chunk(s): ${named.slice(0, 3).join('; ')}`,
    details: [mismatches],
  });
}

export async function copyInChunks(input: ChunkedCopyInput): Promise<ChunkedCopyResult> {
  const { startChunkGeneration, forgetChunks } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  });
  // The holder lives as long as the generation; a retry would hold a different snapshot.
  const { holdSnapshot } = proxyActivities<Activities>({
    startToCloseTimeout: '30d',
    heartbeatTimeout: input.heartbeatTimeout,
    retry: { maximumAttempts: 1 },
  });
  const info = workflowInfo();
  const copyId = `${info.workflowId}/${info.runId}`;
  const started = Date.now();
  const snapshots = new Map<number, string>();
  setHandler(snapshotReadySignal, ({ generation, snapshotId }) => void snapshots.set(generation, snapshotId));

  const total = plannedTotal(input.plan);
  const spent = { attempts: 0, reworkedRows: 0 };
  for (let generation = input.firstGeneration; ; generation++) {
    await startChunkGeneration({ target: input.target, copyId, generation, staging: input.staging });
    const totals = emptyTotals();
    const stats = (): ChunkStats => ({
      total,
      done: totals.done,
      attempts: spent.attempts + totals.attempts,
      reworkedRows: spent.reworkedRows + totals.reworkedRows,
    });
    input.onProgress(stats(), totals);
    const holderScope = new CancellationScope();
    let holderEnded: Promise<never> | undefined;
    try {
      let snapshotId: string | undefined;
      if (input.plan.consistency === 'snapshot') {
        const holding = holderScope.run(() =>
          holdSnapshot.executeWithOptions({ summary: `snapshot of generation ${generation}` }, [
            { source: input.source, table: input.table, generation },
          ]),
        );
        holderEnded = holding.then(
          () => {
            throw ApplicationFailure.create({ type: FailureType.SnapshotLost, message: 'the snapshot holder ended' });
          },
          (error: unknown) => {
            if (isCancellation(error) || permanent(error)) throw error;
            throw ApplicationFailure.create({
              type: FailureType.SnapshotLost,
              message: `the snapshot holder was lost: ${error instanceof Error ? error.message : String(error)}`,
              cause: error instanceof Error ? error : undefined,
            });
          },
        );
        holderEnded.catch(() => undefined);
        await Promise.race([condition(() => snapshots.has(generation)), holderEnded]);
        snapshotId = snapshots.get(generation);
      }
      for (let first = 0, batch = 0; first < total; first += CHUNKS_PER_BATCH, batch++) {
        const last = Math.min(first + CHUNKS_PER_BATCH, total) - 1;
        // Only chunk numbers travel: each chunk reads its range from the stored plan.
        const chunks = input.plan.chunks ? { chunks: input.plan.chunks.slice(first, last + 1) } : { first, last };
        const batchScope = new CancellationScope();
        const running = batchScope.run(() =>
          executeChild(copyChunkBatch, {
            workflowId: chunkBatchWorkflowId(info.workflowId, generation, batch),
            staticSummary: `chunks ${first}-${last} of ${total}, generation ${generation}`,
            args: [
              {
                chunk: {
                  copyId,
                  generation,
                  source: input.source,
                  target: input.target,
                  staging: input.staging,
                  columns: input.columns,
                  format: input.format,
                  verify: input.verify,
                  stallTimeoutMs: input.stallTimeoutMs,
                  ...(snapshotId ? { snapshotId } : {}),
                },
                ...chunks,
                jobs: input.jobs,
                copyTimeout: input.copyTimeout,
                heartbeatTimeout: input.heartbeatTimeout,
                ...(input.maxAttempts ? { maxAttempts: input.maxAttempts } : {}),
                budgetMs: input.budgetMs,
                ...(input.pipeTaskQueue ? { pipeTaskQueue: input.pipeTaskQueue } : {}),
              },
            ],
          }),
        );
        try {
          addTotals(totals, await Promise.race([running, ...(holderEnded ? [holderEnded] : [])]));
        } catch (error) {
          batchScope.cancel();
          await running.catch(() => undefined);
          throw error;
        }
        input.onProgress(stats(), totals);
      }
      holderScope.cancel();
      if (input.verify === 'checksum') await verifyEachChunk(input, copyId, generation);
      const { stagedBytes } = await forgetChunks({ target: input.target, copyId, staging: input.staging });
      const chunks = stats();
      return {
        bytes: stagedBytes ?? totals.bytes,
        importedRows: totals.importedRows,
        sourceRows: totals.exportedRows,
        ...(input.verify === 'checksum'
          ? { sourceDigest: { rows: String(totals.exportedRows), digest: totals.digest } }
          : {}),
        durationMs: Date.now() - started,
        attempt: chunks.attempts,
        chunks,
        generation,
      };
    } catch (error) {
      holderScope.cancel();
      if (isCancellation(error) || input.plan.consistency !== 'snapshot') throw error;
      const lost = hasFailureType(error, FailureType.SnapshotLost);
      if (!lost || generation - input.firstGeneration + 1 >= MAX_GENERATIONS) throw error;
      log.warn('the source snapshot was lost; starting a new generation', { generation, error: String(error) });
      spent.attempts += totals.attempts;
      spent.reworkedRows += totals.reworkedRows + totals.importedRows;
    }
  }
}
