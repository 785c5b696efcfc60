/**
 * The workflow's input and output: one JSON-serialisable object each. Input names connection
 * profiles, never URLs or credentials; the worker resolves profiles. Pure module.
 */
import type { TableRef } from './table-name.js';
import type { ChunkingOptions, ChunkStats } from './chunk-spec.js';
import type { CopiedWindow, IncrementalSpec } from './incremental.js';

export const COPY_MODES = ['replace', 'append', 'upsert'] as const;
export type CopyMode = (typeof COPY_MODES)[number];

export const VERIFY_MODES = ['count', 'checksum'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

export const COPY_FORMATS = ['binary', 'text'] as const;
export type CopyFormat = (typeof COPY_FORMATS)[number];

/** Per-copy overrides of the activity timeouts and retry policy; all optional. */
export interface CopyTimeouts {
  /** Start-to-close of exportImport, e.g. '2h'. */
  copyTimeout?: string;
  /** Heartbeat timeout of exportImport, e.g. '30s'. */
  heartbeatTimeout?: string;
  /** No bytes moved for this long fails the attempt as CopyStalled, e.g. '60s'. */
  stallTimeout?: string;
  /**
   * Attempts of exportImport before the workflow fails. Default: no count; every activity
   * retries until its time budget (its timeout plus the retry window) runs out.
   */
  maxAttempts?: number;
}

/** What a copy does when another open run holds its target table (TargetBusy). */
export const ON_BUSY = ['wait', 'fail'] as const;
export type OnBusy = (typeof ON_BUSY)[number];

export interface CopyTableInput {
  /** Source connection profile (PGFERRY_CONN_<NAME> on the worker). */
  source: string;
  /** Target connection profile. */
  target: string;
  /** Table read on the source. */
  table: TableRef;
  /** Table written on the target; defaults to `table`. */
  targetTable?: TableRef;
  mode: CopyMode;
  verify?: VerifyMode;
  format?: CopyFormat;
  timeouts?: CopyTimeouts;
  /** Chunked copy (chunk-spec.ts): rows per chunk, chunks in flight, consistency. */
  chunking?: ChunkingOptions;
  /** Copy only the rows above the watermark by this cursor column (append or upsert). */
  incremental?: IncrementalSpec;
  /**
   * `wait` (default: schedules, batches): TargetBusy is retried with backoff within the retry
   * window. `fail` (a manual `pgferry copy`): the first TargetBusy fails the run.
   */
  onBusy?: OnBusy;
}

/** Phase names used in progress, UI details and `status`. */
export type CopyPhase =
  'starting' | 'planWindow' | 'createStaging' | 'exportImport' | 'verifyCounts' | 'publish' | 'cleanup' | 'done';

export interface CopyTableResult {
  rows: number;
  bytes: number;
  /** Rows the source server sent in the export (its COPY tag). */
  sourceRows: number;
  attempts: number;
  phaseDurationsMs: Partial<Record<CopyPhase, number>>;
  targetTable: TableRef;
  mode: CopyMode;
  /** Present when the copy ran in chunks. */
  chunks?: ChunkStats;
  /** Incremental copy: the window (low, high] and its rows; high null when it was empty. */
  window?: CopiedWindow;
  /**
   * A cancel arrived after publish had begun: publish ran to its end (it is one transaction
   * and cannot be half done), so the rows were published and the run completed.
   */
  cancelRequestedDuringPublish?: boolean;
}

/** What the `progress` query returns while a copy runs. */
export interface CopyProgress {
  phase: CopyPhase;
  rows: number;
  bytes: number;
  sourceRows?: number;
  /** The planner's estimate of the source's rows, for an ETA until sourceRows is known. */
  estimatedSourceRows?: number;
  bytesPerSecond?: number;
  attempt: number;
  /** Present while a chunked copy runs. */
  chunks?: ChunkStats;
  /** Incremental copy: the window being copied, once known. */
  window?: CopiedWindow;
}
