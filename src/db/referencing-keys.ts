/**
 * Foreign keys that reference a table, and the SQL that checks a new set of rows against them.
 * One row per key as declared (a key on a partitioned table, not its per-partition clones).
 */
import type pg from 'pg';
import { quoteIdent, quoteTable, type TableRef } from '../shared/table-name.js';

export interface ReferencingKey {
  constraint: string;
  /** The referencing table, as regclass text (quoted, schema-qualified outside the search path). */
  table: string;
  columns: string[];
  /** The target's columns the key references, in the key's order. */
  referenced: string[];
  /** The target references itself. */
  self: boolean;
  /** False for a key added NOT VALID: rows it never checked may reference nothing. */
  validated: boolean;
}

const REFERENCING_KEYS_SQL = `
SELECT k.conname AS constraint, k.conrelid::regclass::text AS table, k.conrelid = k.confrelid AS self,
       k.convalidated AS validated,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord) AS referenced
  FROM pg_constraint k
 WHERE k.contype = 'f' AND k.confrelid = $1::regclass AND k.conparentid = 0
 ORDER BY k.conname`;

export async function readReferencingKeys(client: pg.ClientBase, table: TableRef): Promise<ReferencingKey[]> {
  return (await client.query<ReferencingKey>(REFERENCING_KEYS_SQL, [quoteTable(table)])).rows;
}

/**
 * Distinct non-null key values of `from` (the referencing table, or staging itself for a key of
 * the target onto itself) that no row of `rows` (staging) holds in the referenced columns. A key
 * with a null part references nothing (MATCH SIMPLE), and MATCH FULL allows only all-null ones.
 * With `referencedNow`, only keys that table holds today count: a NOT VALID key's orphans lose
 * nothing.
 */
export function missingKeysSql(key: ReferencingKey, from: string, rows: TableRef, referencedNow?: TableRef): string {
  const present = key.columns.map((column) => `c.${quoteIdent(column)} IS NOT NULL`).join(' AND ');
  const match = (alias: string) =>
    key.columns
      .map((column, i) => `${alias}.${quoteIdent(key.referenced[i]!)} = c.${quoteIdent(column)}`)
      .join(' AND ');
  const columns = key.columns.map((column) => `c.${quoteIdent(column)}`).join(', ');
  const now = referencedNow ? ` AND EXISTS (SELECT 1 FROM ${quoteTable(referencedNow)} t WHERE ${match('t')})` : '';
  return `SELECT DISTINCT ${columns} FROM ${from} c
           WHERE ${present} AND NOT EXISTS (SELECT 1 FROM ${quoteTable(rows)} s WHERE ${match('s')})${now}`;
}

/** Deletes the target's rows whose `key` no row of `rows` holds: rows nothing references any more. */
export function deleteAbsentKeysSql(target: TableRef, key: string[], rows: TableRef): string {
  const match = key.map((column) => `s.${quoteIdent(column)} = t.${quoteIdent(column)}`).join(' AND ');
  return `DELETE FROM ${quoteTable(target)} t WHERE NOT EXISTS (SELECT 1 FROM ${quoteTable(rows)} s WHERE ${match})`;
}
