/** Defaults a user can override per copy, resolved in one place. Pure, sandbox-safe. */
import type { CopyFormat, CopyTableInput, VerifyMode } from './copy-spec.js';
import { ApplicationFailure } from '@temporalio/common';
import { DurationError, parseDuration } from './duration.js';
import { FailureType } from './failure-types.js';
import { formatTable } from './table-name.js';

export interface ResolvedCopySettings {
  copyTimeout: string;
  heartbeatTimeout: string;
  stallTimeoutMs: number;
  /** Attempts of exportImport; undefined: no count, only the time budget. */
  maxAttempts?: number;
  /**
   * How long failing attempts keep being retried beyond an activity's own timeout: enough to
   * ride out a server restart or a failover of a minute or two.
   */
  retryWindowMs: number;
  format: CopyFormat;
  verify: VerifyMode;
}

/**
 * A duration of the input, checked by the one parser: a run started by any client with a bare
 * number (which Temporal would read as milliseconds) fails as InvalidCopySpec, not as 60 ms.
 */
function checkedDuration(value: string, name: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    throw ApplicationFailure.create({
      type: FailureType.InvalidCopySpec,
      message: `${name}: ${error.message}`,
      nonRetryable: true,
    });
  }
}

/** Ten minutes: a restart or failover of the source or target is ridden out, not reported. */
export const DEFAULT_RETRY_WINDOW_MS = 10 * 60_000;

/** @throws ApplicationFailure InvalidCopySpec when a duration of the input is not one. */
export function resolveCopyDefaults(input: CopyTableInput): ResolvedCopySettings {
  const timeouts = input.timeouts ?? {};
  const copyTimeout = timeouts.copyTimeout ?? '2h';
  const heartbeatTimeout = timeouts.heartbeatTimeout ?? '30s';
  checkedDuration(copyTimeout, 'copyTimeout');
  checkedDuration(heartbeatTimeout, 'heartbeatTimeout');
  return {
    copyTimeout: copyTimeout.trim(),
    heartbeatTimeout: heartbeatTimeout.trim(),
    stallTimeoutMs: checkedDuration(timeouts.stallTimeout ?? '60s', 'stallTimeout'),
    maxAttempts: timeouts.maxAttempts,
    retryWindowMs: DEFAULT_RETRY_WINDOW_MS,
    format: input.format ?? 'binary',
    verify: input.verify ?? 'count',
  };
}

/** `erp:public.고객_주문 → dw:public.고객_주문 (replace)`: the run's summary in the UI. */
export function copySummary(input: CopyTableInput): string {
  const target = input.targetTable ?? input.table;
  return `${input.source}:${formatTable(input.table)} → ${input.target}:${formatTable(target)} (${input.mode})`;
}
