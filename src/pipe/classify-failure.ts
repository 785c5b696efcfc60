/**
 * Turns a failed pipe into one named failure: the type from docs/design.md's failure table, a one-line
 * message that names the side that failed first, and details for the UI and `status`.
 * SQLSTATE decides wherever psql printed one (VERBOSITY=verbose); psql's exit codes and, for
 * connection-time errors that carry no SQLSTATE, its message text decide the rest.
 */
import { FailureType, isNonRetryable } from '../shared/failure-types.js';
import { formatBytes, formatCount } from '../shared/format.js';
import { describeEnd, type ProcessOutcome } from './process-outcome.js';
import type { CopyPipeError } from './supervise-copy.js';

export interface ClassifiedFailure {
  type: FailureType;
  message: string;
  nonRetryable: boolean;
  details: FailureDetails;
}

export interface FailureDetails {
  side?: 'export' | 'import';
  pid?: number;
  exitCode?: number;
  signal?: string;
  sqlState?: string;
  /** The column and constraint psql's verbose error names (a rejected row's values never appear). */
  column?: string;
  constraint?: string;
  bytes: number;
  rows: number;
  stderrTail?: string;
  otherSide?: { side: 'export' | 'import'; pid?: number; end: string; killedBy?: string };
}

/**
 * SQLSTATEs that no retry can fix, and the (non-retryable) type they fail as on each side.
 * Everything not listed here or below stays ExportFailed/ImportFailed, which is retried.
 */
const PERMANENT_SQLSTATES: Record<string, Partial<Record<'export' | 'import', FailureType>>> = {
  // wrong_object_type: e.g. COPY into a view or a sequence.
  '42809': { export: FailureType.InvalidCopySpec, import: FailureType.InvalidCopySpec },
  // generated_always: a value for a GENERATED ALWAYS identity or generated column.
  '428C9': { import: FailureType.SchemaMismatch },
  // object_not_in_prerequisite_state: e.g. a materialized view that was never populated.
  '55000': { export: FailureType.InvalidCopySpec },
  // program_limit_exceeded: e.g. a row or a value too large for the target.
  '54000': { import: FailureType.DataRejected },
};

/** Maps a SQLSTATE to a failure type, or undefined when the side's generic type applies. */
export function failureTypeForSqlState(sqlState: string, side: 'export' | 'import'): FailureType | undefined {
  const permanent = PERMANENT_SQLSTATES[sqlState]?.[side];
  if (permanent) return permanent;
  if (sqlState === '42P01' && side === 'export') return FailureType.SourceTableNotFound;
  if (sqlState === '42501') return FailureType.PermissionDenied;
  if (sqlState === '28P01' || sqlState === '28000') return FailureType.AuthenticationFailed;
  if (sqlState === '55P03') return FailureType.TargetBusy;
  if (sqlState.startsWith('08') || ['57P01', '57P02', '57P03'].includes(sqlState)) return FailureType.ConnectionLost;
  if (side === 'import' && (sqlState.startsWith('22') || sqlState.startsWith('23'))) return FailureType.DataRejected;
  if (side === 'import' && ['42703', '42704', '42804', '42P18'].includes(sqlState)) return FailureType.SchemaMismatch;
  return undefined;
}

/**
 * What a 42501 while reading the source means and which grant fixes it. The export reads with
 * row_security=off (src/db/session-settings.ts), so a role that a row-level security policy would
 * filter fails here instead of exporting a subset; the SQLSTATE alone cannot tell the two causes.
 */
export const SOURCE_PERMISSION_HINT =
  'the source role needs SELECT on the table, and when the table has row-level security, ' +
  'BYPASSRLS or ownership of the table: pgferry exports with row security off, as pg_dump does, ' +
  'so that a policy can never silently shrink the copy';

/** The hint that goes with a failure of this type on this side, if any. */
export function failureHint(type: FailureType, side: 'export' | 'import'): string | undefined {
  return type === FailureType.PermissionDenied && side === 'export' ? SOURCE_PERMISSION_HINT : undefined;
}

function typeForOutcome(outcome: ProcessOutcome): FailureType {
  const generic = outcome.side === 'export' ? FailureType.ExportFailed : FailureType.ImportFailed;
  const { end } = outcome;
  if (end.kind === 'spawn-failed') return end.errorCode === 'ENOENT' ? FailureType.PsqlNotFound : generic;
  if (end.kind === 'signaled') return outcome.side === 'export' ? FailureType.ExportKilled : FailureType.ImportKilled;
  if (outcome.sqlState) return failureTypeForSqlState(outcome.sqlState, outcome.side) ?? generic;
  // psql exits 2 when the connection could not be made or was lost; connection-time errors
  // carry no SQLSTATE, so the authentication case can only be told by its text.
  if (end.exitCode === 2) {
    return /password authentication failed|no password supplied/i.test(outcome.stderrTail)
      ? FailureType.AuthenticationFailed
      : FailureType.ConnectionLost;
  }
  return generic;
}

function otherSideNote(other: ProcessOutcome): string {
  if (other.side === 'import') {
    return other.killedBy ? 'import killed before commit' : `import ${describeEnd(other.end)}, nothing committed`;
  }
  return other.killedBy ? 'export stopped' : `export ${describeEnd(other.end)}`;
}

/** The line that says what went wrong: psql's last ERROR/FATAL line, not the LOCATION after it. */
function lastStderrLine(outcome: ProcessOutcome): string {
  const lines = outcome.stderrTail.split('\n').filter((line) => line.trim() !== '');
  const errorLine = lines.findLast((line) => /\b(ERROR|FATAL|PANIC):|\berror:/.test(line));
  return (errorLine ?? lines.at(-1) ?? '').trim();
}

/** A field of psql's verbose error report (`COLUMN NAME:  amount`). */
function errorField(stderrTail: string, field: 'COLUMN NAME' | 'CONSTRAINT NAME'): string | undefined {
  return new RegExp(`^${field}:\\s+(.+)$`, 'm').exec(stderrTail)?.[1]?.trim();
}

/** The named failure for a pipe that did not commit. Cancellation is not classified here. */
export function classifyPipeFailure(error: CopyPipeError, stallTimeoutMs: number): ClassifiedFailure {
  const moved = `${formatBytes(error.bytes)} / ${formatCount(error.rows)} rows`;
  const base = { bytes: error.bytes, rows: error.rows };
  if (error.reason === 'stall' || error.reason === 'deadline' || error.reason === 'cancel') {
    const why =
      error.reason === 'stall'
        ? `the target received no COPY data for ${Math.round(stallTimeoutMs / 1000)}s`
        : error.reason === 'deadline'
          ? 'the copy did not finish before the activity deadline'
          : 'the copy was cancelled';
    return {
      type: FailureType.CopyStalled,
      message: `copy stalled: ${why} after ${moved}; both psql killed (export pid ${error.exportOutcome.pid}, import pid ${error.importOutcome.pid}), nothing committed`,
      nonRetryable: false,
      details: { ...base },
    };
  }
  const [failed, other] =
    error.reason === 'export' ? [error.exportOutcome, error.importOutcome] : [error.importOutcome, error.exportOutcome];
  const type = typeForOutcome(failed);
  const stderrLine = lastStderrLine(failed);
  const message =
    `${failed.side} psql (pid ${failed.pid ?? '?'}) ${describeEnd(failed.end)}` +
    (failed.sqlState ? ` [${failed.sqlState}]` : '') +
    ` after ${moved}; ${otherSideNote(other)}` +
    (stderrLine
      ? `: ${stderrLine}`
      : failed.end.kind === 'exited' && failed.end.exitCode === 0
        ? `: ${error.message}`
        : '') +
    (failureHint(type, failed.side) ? ` (${failureHint(type, failed.side)})` : '');
  return {
    type,
    message,
    nonRetryable: isNonRetryable(type),
    details: {
      ...base,
      side: failed.side,
      pid: failed.pid,
      exitCode: failed.end.kind === 'exited' ? failed.end.exitCode : undefined,
      signal: failed.end.kind === 'signaled' ? failed.end.signal : undefined,
      sqlState: failed.sqlState,
      column: errorField(failed.stderrTail, 'COLUMN NAME'),
      constraint: errorField(failed.stderrTail, 'CONSTRAINT NAME'),
      stderrTail: failed.stderrTail,
      otherSide: { side: other.side, pid: other.pid, end: describeEnd(other.end), killedBy: other.killedBy },
    },
  };
}
