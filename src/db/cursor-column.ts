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
   * Whether a valid, non-partial btree index leads with the column on the table, or on each of
   * its partitions, so a run's window (`col > low`) and its high mark (`ORDER BY col DESC LIMIT
   * 1`) read only the new rows. false: each run scans the whole table (or the partitions without
   * one). undefined for a view or foreign table, whose cost the catalog cannot tell.
   */
  indexed: boolean | undefined;
  /** The column is declared NOT NULL, so no row can fall outside every window. */
  notNull: boolean;
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
  // Every table of the inheritance tree that holds rows (a plain table: itself; a partitioned
  // one: its partitions) needs its own index, found by column name as partitions may order their
  // columns differently. A partitioned index created on the parent puts one on each partition.
  const { rows } = await client.query<{ typname: string; shown: string; notnull: boolean; indexed: boolean | null }>(
    `SELECT t.typname, format_type(a.atttypid, a.atttypmod) AS shown, a.attnotnull AS notnull,
            CASE WHEN c.relkind IN ('r', 'p', 'm') THEN NOT EXISTS (
              WITH RECURSIVE tree AS (
                SELECT c.oid AS relid
                UNION ALL SELECT inh.inhrelid FROM pg_inherits inh JOIN tree ON inh.inhparent = tree.relid
              )
              SELECT FROM tree JOIN pg_class member ON member.oid = tree.relid
               WHERE member.relkind IN ('r', 'm') AND NOT EXISTS (
                 SELECT FROM pg_index i
                   JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
                   JOIN pg_attribute lead ON lead.attrelid = i.indrelid AND lead.attnum = i.indkey[0]
                  WHERE i.indrelid = member.oid AND lead.attname = a.attname AND i.indisvalid
                    AND i.indpred IS NULL AND am.amname = 'btree')) END AS indexed
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid = $1::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteTable(table), column],
  );
  const found = rows[0];
  return (
    found && {
      type: CURSOR_TYPE_BY_TYPNAME[found.typname],
      shown: found.shown,
      indexed: found.indexed ?? undefined,
      notNull: found.notnull,
    }
  );
}
