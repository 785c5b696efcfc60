/**
 * The activity edge: every error leaves an activity as an ApplicationFailure whose `type` comes
 * from the one failure table, with the cause chain kept and retryability decided here once.
 */
import { ApplicationFailure } from '@temporalio/common';
import { UnknownConnectionError } from '../src/config/connections.js';
import { FailureType, isNonRetryable } from '../src/shared/failure-types.js';
import { failureHint, failureTypeForSqlState } from '../src/pipe/classify-failure.js';
import { dropQuotedValues } from '../src/pipe/row-values.js';

/** Raises a named failure; non-retryable exactly when the type is permanent by nature. */
export function failure(type: FailureType, message: string, details?: unknown, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: isNonRetryable(type),
    details: details === undefined ? undefined : [details],
    cause,
  });
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

interface PgLikeError extends Error {
  code?: string;
  column?: string;
  constraint?: string;
  table?: string;
  schema?: string;
}

/**
 * The server error as the cause a failure carries into history: its message without quoted
 * input values (a data exception quotes them) and none of its DETAIL or CONTEXT, which quote rows.
 */
function withoutRowValues(err: PgLikeError, code: string): Error {
  const message = dropQuotedValues(err.message, code);
  if (message === err.message) return err;
  const clean = new Error(message);
  clean.name = err.name;
  clean.stack = err.stack?.split(err.message).join(message);
  return clean;
}

/**
 * Converts an error from a node-postgres call into a named failure. `side` says which database
 * it came from, so a missing relation on the source reads as SourceTableNotFound.
 */
export function toFailure(error: unknown, side: 'export' | 'import', what: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = error instanceof Error ? (error as PgLikeError) : new Error(String(error));
  if (err instanceof UnknownConnectionError) return failure(FailureType.UnknownConnection, err.message, undefined, err);
  const code = (err as PgLikeError).code;
  const database = side === 'export' ? 'source' : 'target';
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const type =
      failureTypeForSqlState(code, side) ?? (side === 'export' ? FailureType.ExportFailed : FailureType.ImportFailed);
    const hint = failureHint(type, side);
    const pgError: PgLikeError = err;
    const cause = withoutRowValues(pgError, code);
    const { column, constraint, table, schema } = pgError;
    return failure(
      type,
      `${what} failed [${code}]: ${cause.message}${hint ? ` (${hint})` : ''}`,
      { sqlState: code, database, column, constraint, table, schema },
      cause,
    );
  }
  if ((code && CONNECTION_ERROR_CODES.has(code)) || /Connection terminated|connection timeout/i.test(err.message)) {
    return failure(
      FailureType.ConnectionLost,
      `${what}: cannot reach the ${database} database (${code ?? err.message})`,
      undefined,
      err,
    );
  }
  return failure(
    side === 'export' ? FailureType.ExportFailed : FailureType.ImportFailed,
    `${what} failed: ${err.message}`,
    undefined,
    err,
  );
}
