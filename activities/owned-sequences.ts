/**
 * Sequences owned by the target's columns (identity and serial) end at least at the largest
 * copied value, so the application's next INSERT without the column does not collide with a
 * copied row. Runs inside publish's transaction, after the rows are in place; never moves a
 * sequence backwards.
 */
import type pg from 'pg';
import { log } from '@temporalio/activity';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';

/** Ascending sequences owned (serial: 'a', identity: 'i') by an integer column of the table. */
const OWNED_SEQUENCES_SQL = `
SELECT s.oid::regclass::text AS sequence, a.attname AS column
  FROM pg_depend d
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_sequence q ON q.seqrelid = s.oid
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = $1::regclass AND d.deptype IN ('a', 'i') AND q.seqincrement > 0
   AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)`;

/**
 * Advances each owned sequence to the column's maximum when it is behind. A role that may write
 * the table but not the sequence (42501) gets a warning, not a failed publish.
 */
export async function advanceOwnedSequences(client: pg.ClientBase, table: TableRef): Promise<void> {
  const target = quoteTable(table);
  const { rows } = await client.query<{ sequence: string; column: string }>(OWNED_SEQUENCES_SQL, [target]);
  for (const { sequence, column } of rows) {
    await client.query('SAVEPOINT pgferry_sequence');
    try {
      // The next value the sequence hands out is last_value, or last_value + 1 once called.
      await client.query(
        `SELECT setval($1::regclass, copied.max)
           FROM (SELECT max(${quoteIdent(column)}) AS max FROM ${target}) copied, ${sequence} s
          WHERE copied.max > CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END`,
        [sequence],
      );
      await client.query('RELEASE SAVEPOINT pgferry_sequence');
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error;
      await client.query('ROLLBACK TO SAVEPOINT pgferry_sequence');
      log.warn('cannot advance the sequence of a copied column: no privilege on it', { sequence, column });
    }
  }
}
