/** A cursor column as the catalog describes it: its orderable type, if it has one. */
import type pg from 'pg';
import type { CursorType } from '../shared/incremental.js';
import { quoteTable, type TableRef } from '../shared/table-name.js';

/** pg_type names of the orderable cursor types, and the SQL name literals are cast to. */
const CURSOR_TYPE_BY_TYPNAME: Record<string, CursorType> = {
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  date: 'date',
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  numeric: 'numeric',
};

export interface CursorColumn {
  /** undefined: the column exists but its type is not orderable as a cursor. */
  type: CursorType | undefined;
  /** The column's type as format_type shows it, for messages. */
  shown: string;
  /**
   * Whether a valid, non-partial btree index of the table leads with the column, so a run's
   * window (`col > low`) and its high mark (`ORDER BY col DESC LIMIT 1`) read only the new rows.
   * false: each run scans the whole table. undefined for a view or foreign table, whose cost
   * the catalog cannot tell.
   */
  indexed: boolean | undefined;
}

/**
 * The column of `table` named exactly `column`; undefined when there is none.
 * @throws pg's 42P01 when the table does not exist.
 */
export async function readCursorColumn(
  client: pg.ClientBase,
  table: TableRef,
  column: string,
): Promise<CursorColumn | undefined> {
  // A partitioned table's index is the parent's (relkind I), valid once every partition has one.
  const { rows } = await client.query<{ typname: string; shown: string; indexed: boolean | null }>(
    `SELECT t.typname, format_type(a.atttypid, a.atttypmod) AS shown,
            CASE WHEN c.relkind IN ('r', 'p', 'm') THEN EXISTS (
              SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
               WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum AND i.indisvalid
                 AND i.indpred IS NULL AND am.amname = 'btree') END AS indexed
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid = $1::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteTable(table), column],
  );
  const found = rows[0];
  return (
    found && { type: CURSOR_TYPE_BY_TYPNAME[found.typname], shown: found.shown, indexed: found.indexed ?? undefined }
  );
}
