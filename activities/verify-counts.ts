/**
 * verifyCounts: the rows the source sent (the export's COPY tag), the rows the import reported
 * and count(*) of staging must agree (and, with verify=checksum, the row digests); otherwise
 * CountMismatch, which the workflow answers with one re-copy. Read-only, so idempotent. Counts
 * on a session named for its attempt and heartbeats while the count runs (attempt-fence.ts).
 */
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { FailureType } from '../src/shared/failure-types.js';
import { formatCount } from '../src/shared/format.js';
import { quoteTable, type TableRef } from '../src/shared/table-name.js';
import type { VerifyMode } from '../src/shared/copy-spec.js';
import { failure, toFailure } from './failures.js';
import { rowDigestQuery, type RowDigest } from './row-digest.js';
import { withAttemptSession } from './attempt-fence.js';

export interface VerifyCountsInput {
  target: string;
  staging: TableRef;
  columns: string[];
  verify: VerifyMode;
  sourceRows: number;
  importedRows: number;
  sourceDigest?: RowDigest;
}

export interface VerifyCountsResult {
  stagedRows: number;
  checksumMatched?: boolean;
}

/**
 * Compares the three counts (and with verify=checksum the digests) on a target session; used by
 * verifyCounts and, for an incremental window, by exportImport right after its pipe committed.
 * @throws ApplicationFailure CountMismatch (the workflow answers with one re-copy); other
 * failures are the target's, raised as they come.
 */
export async function compareStaged(client: pg.ClientBase, input: VerifyCountsInput): Promise<VerifyCountsResult> {
  const query =
    input.verify === 'checksum'
      ? rowDigestQuery(input.staging, input.columns)
      : `SELECT count(*)::text AS rows, '' AS digest FROM ${quoteTable(input.staging)}`;
  const staged = (await client.query<RowDigest>(query)).rows[0]!;
  const stagedRows = Number(staged.rows);
  const counts = {
    sourceRows: input.sourceRows,
    importedRows: input.importedRows,
    stagedRows,
  };
  if (new Set(Object.values(counts)).size !== 1) {
    throw failure(
      FailureType.CountMismatch,
      `row counts differ: source ${formatCount(input.sourceRows)}, imported ${formatCount(input.importedRows)}, ` +
        `staged ${formatCount(stagedRows)}`,
      counts,
    );
  }
  if (input.verify === 'checksum') {
    const matched = input.sourceDigest?.digest === staged.digest;
    if (!matched) {
      throw failure(
        FailureType.CountMismatch,
        `row digests differ: source ${input.sourceDigest?.digest}, staged ${staged.digest}`,
        {
          ...counts,
          sourceDigest: input.sourceDigest?.digest,
          stagedDigest: staged.digest,
        },
      );
    }
    return { stagedRows, checksumMatched: true };
  }
  return { stagedRows };
}

export function makeVerifyCounts(databases: Databases) {
  return async function verifyCounts(input: VerifyCountsInput): Promise<VerifyCountsResult> {
    try {
      return await withAttemptSession(databases, input.target, 'verifyCounts', (client) =>
        compareStaged(client, input),
      );
    } catch (error) {
      // CountMismatch passes through as it is.
      throw toFailure(error, 'import', 'counting staging');
    }
  };
}
