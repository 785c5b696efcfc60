/**
 * An order-independent digest of every row, for `--verify checksum`: the sum of the first 64
 * bits of md5(row::text) over all rows. Both sides pin the same session settings, so a row
 * renders to the same text on source and staging.
 */
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';

export interface RowDigest {
  rows: string;
  digest: string;
}

/** `where`: a structured filter (window-filter.ts) over the same rows the export reads. */
export function rowDigestQuery(table: TableRef, columns: readonly string[], where?: string): string {
  const row = `ROW(${columns.map((column) => `t.${quoteIdent(column)}`).join(', ')})::text`;
  return `SELECT count(*)::text AS rows,
                 coalesce(sum(('x' || substr(md5(${row}), 1, 16))::bit(64)::bigint::numeric), 0)::text AS digest
            FROM ${quoteTable(table)} AS t${where ? ` WHERE ${where}` : ''}`;
}
