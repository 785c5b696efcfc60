/**
 * A replace of a table that other tables reference by foreign key. Emptying the target would
 * cascade into those tables (ON DELETE CASCADE deletes their rows, SET NULL nulls their keys) or
 * fail (NO ACTION, RESTRICT), and a copy must never change another table. So, under publish's
 * lock (nobody can add a referencing row meanwhile):
 *  1. every key referencing the target must be among the new rows, else the copy fails as
 *     DataRejected (23503) naming the key, before anything changed;
 *  2. the target's rows whose referenced key is not among the new rows are deleted: nothing
 *     references them, so no referential action touches another table;
 *  3. the new rows are upserted by that key: referenced rows are updated in place, never deleted,
 *     and an unchanged key fires no ON UPDATE action.
 * A key of the target onto itself is checked against the new rows themselves; with one, the
 * upsert runs before the delete, so no old row still points at a deleted one. Deferrable keys
 * need nothing more: no referenced row is deleted, so their check at commit holds.
 * Keys onto different columns of the target are refused: an upsert by one could change another.
 */
import type pg from 'pg';
import { log } from '@temporalio/activity';
import { FailureType } from '../src/shared/failure-types.js';
import { formatCount } from '../src/shared/format.js';
import { formatTable, quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import {
  deleteAbsentKeysSql,
  missingKeysSql,
  readReferencingKeys,
  type ReferencingKey,
} from '../src/db/referencing-keys.js';
import { failure } from './failures.js';

/** Key values shown in the worker log when some are missing; never in the failure (history). */
const EXAMPLES = 5;

/** The keys from other tables that reference `target`, or undefined when there are none. */
export async function referencingKeys(client: pg.ClientBase, target: TableRef): Promise<ReferencingKey[] | undefined> {
  const keys = await readReferencingKeys(client, target);
  return keys.some((key) => !key.self) ? keys : undefined;
}

export interface ReferencedReplace {
  targetTable: TableRef;
  staging: TableRef;
  /** The copied columns: the referenced ones must be among them. */
  columns: string[];
}

const describeKey = (key: ReferencingKey, target: TableRef) =>
  `foreign key ${quoteIdent(key.constraint)} of ${key.table} (${key.columns.join(', ')}) → ` +
  `${formatTable(target)} (${key.referenced.join(', ')})`;

/** The one set of columns every key references; refuses keys onto different columns. */
function referencedColumns(keys: ReferencingKey[], input: ReferencedReplace): string[] {
  const sets = new Set(keys.map((key) => JSON.stringify(key.referenced)));
  if (sets.size > 1) {
    throw failure(
      FailureType.SchemaMismatch,
      `replace cannot keep the rows that reference ${formatTable(input.targetTable)}: its foreign keys reference ` +
        `different columns (${keys.map((key) => describeKey(key, input.targetTable)).join('; ')}); ` +
        'copy with --mode upsert instead; nothing changed',
    );
  }
  const columns = keys[0]!.referenced;
  const uncopied = columns.filter((column) => !input.columns.includes(column));
  if (uncopied.length > 0) {
    throw failure(
      FailureType.SchemaMismatch,
      `replace cannot keep the rows that reference ${formatTable(input.targetTable)}: the source has no column ` +
        `${uncopied.map(quoteIdent).join(', ')} that ${describeKey(keys[0]!, input.targetTable)} references; nothing changed`,
    );
  }
  return columns;
}

/** Fails as DataRejected (23503) when some referencing key is not among the staged rows. */
async function checkKey(client: pg.ClientBase, key: ReferencingKey, input: ReferencedReplace): Promise<void> {
  const from = key.self ? quoteTable(input.staging) : key.table;
  const referencedNow = key.self || key.validated ? undefined : input.targetTable;
  const sql = missingKeysSql(key, from, input.staging, referencedNow);
  const missing = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) missing`)).rows[0]!.n);
  if (missing === 0) return;
  const examples = (await client.query(`${sql} LIMIT ${EXAMPLES}`)).rows;
  log.warn('replace refused: referencing keys missing from the new rows', { constraint: key.constraint, examples });
  const columns = key.columns.map(quoteIdent).join(', ');
  const referenced = key.referenced.map(quoteIdent).join(', ');
  const whose = key.self ? 'the new rows reference' : `held by rows of ${key.table}`;
  const find = key.self
    ? `compare the source table's (${columns}) with its (${referenced})`
    : `list the keys with SELECT DISTINCT ${columns} FROM ${key.table} on the target and compare them with the source's (${referenced})`;
  throw failure(
    FailureType.DataRejected,
    `replace would break ${describeKey(key, input.targetTable)} [23503]: ${formatCount(missing)} distinct keys ` +
      `${whose} are not among the new rows; nothing changed. Examples are in the worker log; ${find}, ` +
      'then add the missing rows to the source or remove the rows that reference them',
    { sqlState: '23503', constraint: key.constraint, table: key.table, columns: key.columns, missingKeys: missing },
  );
}

/**
 * Replaces the target's rows with staging's without deleting a referenced row (see above);
 * `upsert(key)` moves staging in by `key` and returns the rows it moved.
 */
export async function replaceReferencedRows(
  client: pg.ClientBase,
  input: ReferencedReplace,
  keys: ReferencingKey[],
  upsert: (key: string[]) => Promise<number>,
): Promise<number> {
  const key = referencedColumns(keys, input);
  for (const referencing of keys) await checkKey(client, referencing, input);
  const deleteAbsent = () => client.query(deleteAbsentKeysSql(input.targetTable, key, input.staging));
  const upsertByKey = () =>
    upsert(key).catch((error: unknown) => {
      // 21000: two new rows share a key, which an upsert cannot apply (a plain load would fail 23505).
      if ((error as { code?: string }).code !== '21000') throw error;
      throw failure(
        FailureType.DataRejected,
        `replace of ${formatTable(input.targetTable)} failed [21000]: the new rows repeat a value of ` +
          `(${key.join(', ')}), which foreign keys reference; nothing changed`,
        { sqlState: '21000', columns: key },
        error as Error,
      );
    });
  if (keys.some((referencing) => referencing.self)) {
    const rows = await upsertByKey();
    await deleteAbsent();
    return rows;
  }
  await deleteAbsent();
  return upsertByKey();
}
