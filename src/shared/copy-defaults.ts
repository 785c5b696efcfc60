/** Defaults a user can override per copy, resolved in one place. Pure, sandbox-safe. */
import type { CopyFormat, CopyTableInput, VerifyMode } from './copy-spec.js';
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

/** Parses `90s`, `5m`, `2h`, `1500ms` or a number of milliseconds. */
export function durationMs(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new TypeError(`not a duration: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

/** Ten minutes: a restart or failover of the source or target is ridden out, not reported. */
export const DEFAULT_RETRY_WINDOW_MS = 10 * 60_000;

export function resolveCopyDefaults(input: CopyTableInput): ResolvedCopySettings {
  const timeouts = input.timeouts ?? {};
  return {
    copyTimeout: timeouts.copyTimeout ?? '2h',
    heartbeatTimeout: timeouts.heartbeatTimeout ?? '30s',
    stallTimeoutMs: durationMs(timeouts.stallTimeout ?? '60s'),
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
