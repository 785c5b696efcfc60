/**
 * A replace publish loads an emptied target. Maintaining its indexes row by row costs about
 * twice what building them once after the load does (`npm run bench`: P-insert vs P-rebuild), so
 * inside the publish transaction the target's indexes are dropped and re-created from their own
 * definitions, under the exclusive lock readers already wait on. Only when that is plainly
 * lossless: a plain table we own, no foreign key pointing at it, and no index that carries
 * anything its definition does not (a comment, a tablespace, CLUSTER or REPLICA IDENTITY use,
 * per-column statistics, a name apart from its constraint's). Otherwise nothing is deferred.
 */
import type pg from 'pg';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';

export interface IndexRow {
  /** Schema-qualified and quoted, for DROP INDEX. */
  index: string;
  /** The bare name. */
  indexName: string;
  indexDef: string;
  constraintName: string | null;
  constraintDef: string | null;
  lossy: boolean;
}

/** Indexes to re-create once the rows are in; `restore` runs in the same transaction. */
export interface DeferredIndexes {
  count: number;
  restore(): Promise<void>;
}

const NOTHING_DEFERRED: DeferredIndexes = { count: 0, restore: () => Promise.resolve() };

export const INDEXES_SQL = `
SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS index,
       ic.relname AS "indexName",
       pg_get_indexdef(i.indexrelid) AS "indexDef",
       con.conname AS "constraintName",
       pg_get_constraintdef(con.oid) AS "constraintDef",
       (i.indisclustered OR i.indisreplident OR ic.reltablespace <> 0
         OR obj_description(i.indexrelid, 'pg_class') IS NOT NULL
         OR (con.oid IS NOT NULL AND (obj_description(con.oid, 'pg_constraint') IS NOT NULL OR con.conname <> ic.relname))
         OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)
       ) AS lossy
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
 WHERE i.indrelid = $1::regclass`;

const ELIGIBLE_TABLE_SQL = `
SELECT c.relkind = 'r' AND pg_has_role(c.relowner, 'USAGE')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.oid AND f.contype = 'f') AS eligible
  FROM pg_class c WHERE c.oid = $1::regclass`;

/**
 * Drops the target's indexes when re-creating them later loses nothing; call after emptying the
 * target and `restore()` after loading it, in the same transaction.
 */
export async function deferIndexes(client: pg.ClientBase, target: TableRef): Promise<DeferredIndexes> {
  const table = quoteTable(target);
  const eligible = await client.query<{ eligible: boolean }>(ELIGIBLE_TABLE_SQL, [table]);
  if (!eligible.rows[0]?.eligible) return NOTHING_DEFERRED;
  const { rows: indexes } = await client.query<IndexRow>(INDEXES_SQL, [table]);
  if (indexes.length === 0 || indexes.some((index) => index.lossy)) return NOTHING_DEFERRED;

  for (const index of indexes) {
    if (index.constraintName)
      await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(index.constraintName)}`);
    else await client.query(`DROP INDEX ${index.index}`);
  }
  return {
    count: indexes.length,
    async restore() {
      for (const index of indexes) {
        if (index.constraintName) {
          await client.query(
            `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(index.constraintName)} ${index.constraintDef}`,
          );
        } else {
          await client.query(index.indexDef);
        }
      }
    },
  };
}
