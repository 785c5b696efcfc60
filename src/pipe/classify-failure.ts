/**
 * Turns a failed pipe into one named failure: the type from DESIGN.md's table, a one-line
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

/** Maps a SQLSTATE to a failure type, or undefined when the side's generic type applies. */
export function failureTypeForSqlState(sqlState: string, side: 'export' | 'import'): FailureType | undefined {
  if (sqlState === '42P01' && side === 'export') return FailureType.SourceTableNotFound;
  if (sqlState === '42501') return FailureType.PermissionDenied;
  if (sqlState === '28P01' || sqlState === '28000') return FailureType.AuthenticationFailed;
  if (sqlState === '55P03') return FailureType.TargetBusy;
  if (sqlState.startsWith('08') || ['57P01', '57P02', '57P03'].includes(sqlState)) return FailureType.ConnectionLost;
  if (side === 'import' && (sqlState.startsWith('22') || sqlState.startsWith('23'))) return FailureType.DataRejected;
  if (side === 'import' && ['42703', '42704', '42804', '42P18'].includes(sqlState)) return FailureType.SchemaMismatch;
  return undefined;
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
        : '');
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
