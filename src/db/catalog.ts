/**
 * Catalog reads: a table's columns, kind and primary key, as createStaging and publish need.
 */
import type pg from 'pg';
import { quoteTable, type TableRef } from '../shared/table-name.js';

export interface ColumnDefinition {
  name: string;
  /** format_type() of the column, e.g. `numeric(12,2)`, `timestamp with time zone`. */
  type: string;
  notNull: boolean;
  /** The column's collation when it is not its type's default, quoted and schema-qualified. */
  collation: string | null;
}

export interface TableDefinition {
  /** Columns that hold data (generated and dropped columns excluded), in table order. */
  columns: ColumnDefinition[];
  primaryKey: string[];
  /** pg_class.relkind: 'r' table, 'p' partitioned, 'v' view, 'm' matview, 'f' foreign. */
  kind: string;
}

/** A column's (alias `a`) collation when it differs from its type's default, e.g. `pg_catalog."C"`. */
export const COLLATION_SQL = `(SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname)
     FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace JOIN pg_type ty ON ty.oid = a.atttypid
    WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation)`;

/** Reads a table's definition; undefined when no such relation exists. */
export async function readTableDefinition(
  client: pg.ClientBase,
  table: TableRef,
): Promise<TableDefinition | undefined> {
  const relation = await client.query<{ oid: number; kind: string }>(
    'SELECT c.oid::int AS oid, c.relkind::text AS kind FROM pg_class c WHERE c.oid = to_regclass($1)',
    [quoteTable(table)],
  );
  const row = relation.rows[0];
  if (!row) return undefined;
  const columns = await client.query<ColumnDefinition>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
            ${COLLATION_SQL} AS collation
       FROM pg_attribute a
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [row.oid],
  );
  const primaryKey = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary
      ORDER BY k.ord`,
    [row.oid],
  );
  return { columns: columns.rows, primaryKey: primaryKey.rows.map((r) => r.name), kind: row.kind };
}
