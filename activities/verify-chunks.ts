/**
 * verifyChunks (`--verify checksum` of a chunked copy, DESIGN.md C5): which chunks' rows in
 * staging differ from what their export read. A chunk's rows and its ledger row were written by
 * one transaction, so they share an `xmin`: one scan of staging grouped by `xmin` gives every
 * chunk's count and digest, compared with the ledger's (the source's digest in the chunk's
 * snapshot). Returns the mismatched chunks with their ranges read from the copy's stored plan,
 * empty when all agree. Read-only, so idempotent.
 */
import type { Databases } from '../src/db/databases.js';
import { ledgerKey } from '../src/db/chunk-ledger.js';
import { plannedRanges } from '../src/db/chunk-plan.js';
import { describeRange } from '../src/shared/chunk-spec.js';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { toFailure } from './failures.js';

export interface VerifyChunksInput {
  target: string;
  copyId: string;
  generation: number;
  staging: TableRef;
  columns: string[];
}

export interface ChunkMismatch {
  chunk: number;
  /** The export's `COPY n`. */
  exportedRows: number;
  /** The import's `COPY n`. */
  ledgerRows: number;
  stagedRows: number;
  ledgerDigest: string | null;
  stagedDigest: string | null;
  /** The chunk's range as a person reads it (a ctid or key range), from the stored plan. */
  range?: string;
}

export function makeVerifyChunks(databases: Databases) {
  return async function verifyChunks(input: VerifyChunksInput): Promise<ChunkMismatch[]> {
    const row = `ROW(${input.columns.map((column) => `t.${quoteIdent(column)}`).join(', ')})::text`;
    try {
      return await databases.withClient(input.target, async (client) => {
        const result = await client.query<{
          chunk: number;
          exported_rows: string;
          ledger_rows: string;
          staged_rows: string | null;
          ledger_digest: string | null;
          staged_digest: string | null;
        }>(
          `WITH staged AS (
             SELECT t.xmin::text AS xid, count(*) AS rows,
                    sum(('x' || substr(md5(${row}), 1, 16))::bit(64)::bigint::numeric) AS digest
               FROM ${quoteTable(input.staging)} AS t GROUP BY 1)
           SELECT l.chunk, l.exported_rows::text AS exported_rows, l.imported_rows::text AS ledger_rows, coalesce(s.rows, 0)::text AS staged_rows,
                  l.digest::text AS ledger_digest, coalesce(s.digest, 0)::text AS staged_digest
             FROM pgferry.chunk_ledger AS l LEFT JOIN staged AS s ON s.xid = l.xmin::text
            WHERE l.copy_key = $1 AND l.generation = $2
              AND (coalesce(s.rows, 0) <> l.imported_rows OR l.exported_rows <> l.imported_rows
                   OR coalesce(s.digest, 0) IS DISTINCT FROM l.digest)
            ORDER BY l.chunk`,
          [ledgerKey(input.copyId), input.generation],
        );
        const ranges = await plannedRanges(
          client,
          input.copyId,
          result.rows.map((mismatch) => mismatch.chunk),
        );
        return result.rows.map((mismatch) => {
          const range = ranges.get(mismatch.chunk);
          return {
            chunk: mismatch.chunk,
            exportedRows: Number(mismatch.exported_rows),
            ledgerRows: Number(mismatch.ledger_rows),
            stagedRows: Number(mismatch.staged_rows),
            ledgerDigest: mismatch.ledger_digest,
            stagedDigest: mismatch.staged_digest,
            ...(range ? { range: describeRange(range) } : {}),
          };
        });
      });
    } catch (error) {
      throw toFailure(error, 'import', 'verifying the chunks');
    }
  };
}
