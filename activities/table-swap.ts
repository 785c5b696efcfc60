/**
 * A replace publish can swap staging in for the target instead of moving its rows into it.
 * createStaging then makes staging a logged copy of the target's columns, NOT NULLs and
 * checks, and the load writes the rows once. publish gives staging the target's indexes,
 * options, owner, grants and comment, counts it and ANALYZEs it before it takes the target's
 * lock; under the lock it only drops the old table and renames staging into its place. Readers
 * wait for a catalog change, not for an INSERT ... SELECT and an index build (`npm run bench`:
 * "reader wait during publish").
 *
 * Only when nothing can tell the new table from the old one:
 *  - swapBlockers lists whatever refers to the target by its OID or would not carry over (views,
 *    foreign keys either way, triggers, policies, rules, publications, extended statistics,
 *    inheritance, identity columns, column grants, ...). createStaging and publish both ask.
 *  - Under the lock, the two tables' catalog fingerprints must be equal, names aside.
 * Otherwise publish moves the rows as it always has, from the same staging table.
 */
import type pg from 'pg';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { INDEXES_SQL, type IndexRow } from './defer-indexes.js';

/**
 * A column's n_distinct settings, the attribute options PostgreSQL itself defines. Others are
 * left out of every comparison: some servers stamp their own into every new column (this
 * machine's PostgreSQL 15 writes a per-table `pg_attver`), and a new table differs there as it
 * does in its OID.
 */
const PLANNER_OPTIONS = (alias: string) =>
  `ARRAY(SELECT option FROM unnest(${alias}.attoptions) option WHERE option ~ '^n_distinct' ORDER BY 1)`;

/**
 * Everything that would stop a swap. Allowed to depend on the table: its own row type, TOAST
 * table, indexes, constraints, defaults and serial sequences; nothing may use its row type. A
 * publication of all tables or of the schema rules it out too: it would publish the logged
 * staging table's rows to subscribers that have no such table.
 */
const BLOCKERS_SQL = `
WITH t AS (SELECT c.*, c.oid AS id FROM pg_class c WHERE c.oid = $1::regclass)
SELECT DISTINCT reason FROM (
  SELECT 'it is not a plain table' AS reason FROM t WHERE relkind <> 'r' OR relpersistence <> 'p' OR relispartition OR reloftype <> 0
  UNION ALL SELECT 'it belongs to a role this user cannot act as' FROM t WHERE NOT pg_has_role(relowner, 'USAGE')
  UNION ALL SELECT 'it has a replica identity, a tablespace or row security of its own'
    FROM t WHERE relreplident <> 'd' OR reltablespace <> 0 OR relrowsecurity OR relforcerowsecurity
  UNION ALL SELECT 'it has inheritance parents or children'
    FROM t WHERE EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = t.id OR inhparent = t.id)
  UNION ALL SELECT 'a column has an identity, a generation expression, grants, n_distinct or a statistics target'
    FROM t WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.id AND a.attnum > 0 AND NOT a.attisdropped
                           AND (a.attidentity <> '' OR a.attgenerated <> '' OR a.attacl IS NOT NULL
                                OR ${PLANNER_OPTIONS('a')} <> '{}' OR a.attfdwoptions IS NOT NULL OR a.attstattarget >= 0))
  UNION ALL SELECT 'a grant on it was made by a role other than its owner'
    FROM t WHERE EXISTS (SELECT 1 FROM aclexplode(t.relacl) acl WHERE acl.grantor <> t.relowner)
  UNION ALL SELECT 'its TOAST table has options' FROM t JOIN pg_class toast ON toast.oid = t.reltoastrelid
    WHERE toast.reloptions IS NOT NULL
  UNION ALL SELECT 'it has a security label'
    FROM t WHERE EXISTS (SELECT 1 FROM pg_seclabel s WHERE s.classoid = 'pg_class'::regclass AND s.objoid = t.id)
  UNION ALL SELECT 'a publication covers all tables' WHERE EXISTS (SELECT 1 FROM pg_publication WHERE puballtables)
  UNION ALL SELECT 'a publication covers its schema'
    FROM t WHERE EXISTS (SELECT 1 FROM pg_publication_namespace WHERE pnnspid = t.relnamespace)
  UNION ALL SELECT 'a subscription replicates into it'
    FROM t WHERE EXISTS (SELECT 1 FROM pg_subscription_rel WHERE srrelid = t.id)
  UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' depends on it'
    FROM t JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.id
   WHERE NOT ((d.classid = 'pg_type'::regclass AND d.objid = t.reltype)
      OR (d.classid = 'pg_class'::regclass AND d.objid = t.reltoastrelid)
      OR (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = d.objid AND i.indrelid = t.id))
      OR (d.classid = 'pg_class'::regclass AND d.deptype = 'a'
          AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S'))
      OR (d.classid = 'pg_constraint'::regclass
          AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid AND k.conrelid = t.id AND k.contype IN ('p', 'u', 'x', 'c')))
      OR (d.classid = 'pg_attrdef'::regclass
          AND EXISTS (SELECT 1 FROM pg_attrdef ad WHERE ad.oid = d.objid AND ad.adrelid = t.id)))
  UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' uses its row type'
    FROM t JOIN pg_type rowtype ON rowtype.oid = t.reltype
    JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid IN (rowtype.oid, rowtype.typarray)
   WHERE NOT (d.classid = 'pg_class'::regclass AND d.objid = t.id)
     AND NOT (d.classid = 'pg_type'::regclass AND d.objid = rowtype.typarray)
) reasons ORDER BY reason`;

/**
 * Everything about a table that a swap must carry over, with constraint and index names as keys
 * so that staging's temporary names can be mapped back before comparing.
 */
const FINGERPRINT_SQL = `
SELECT jsonb_build_object(
  'persistence', c.relpersistence,
  'accessMethod', c.relam,
  'tablespace', c.reltablespace,
  'owner', c.relowner,
  'acl', ARRAY(SELECT item::text FROM unnest(c.relacl) item ORDER BY 1),
  'options', ARRAY(SELECT option FROM unnest(c.reloptions) option ORDER BY 1),
  'toastOptions', (SELECT toast.reloptions FROM pg_class toast WHERE toast.oid = c.reltoastrelid),
  'comment', obj_description(c.oid, 'pg_class'),
  'columns', (SELECT jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                                                 pg_get_expr(ad.adbin, ad.adrelid), a.attcollation, a.attstorage,
                                                 a.attcompression, col_description(c.oid, a.attnum),
                                                 ${PLANNER_OPTIONS('a')}) ORDER BY a.attnum)
                FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  'constraints', (SELECT jsonb_object_agg(k.conname, jsonb_build_array(k.contype, pg_get_constraintdef(k.oid),
                                                                       k.convalidated, obj_description(k.oid, 'pg_constraint')))
                    FROM pg_constraint k WHERE k.conrelid = c.oid),
  'indexes', (SELECT jsonb_object_agg(ic.relname, jsonb_build_array(i.indisunique, i.indisclustered, ic.reltablespace,
                                                                    substring(pg_get_indexdef(i.indexrelid) from ' USING .*$'),
                                                                    obj_description(ic.oid, 'pg_class')))
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid)
) AS fingerprint
  FROM pg_class c WHERE c.oid = $1::regclass`;

const CHECKS_SQL = `
SELECT conname AS name, pg_get_constraintdef(oid) AS def
  FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY conname`;

const NOT_NULL_SQL = `
SELECT attname AS name FROM pg_attribute
 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attnotnull ORDER BY attnum`;

const GRANTS_SQL = `
SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee,
       string_agg(acl.privilege_type, ', ') AS privileges, acl.is_grantable AS grantable
  FROM pg_class c CROSS JOIN aclexplode(c.relacl) acl LEFT JOIN pg_roles r ON r.oid = acl.grantee
 WHERE c.oid = $1::regclass AND acl.grantee <> c.relowner
 GROUP BY 1, 3 ORDER BY 1, 3`;

const TABLE_FACTS_SQL = `
SELECT quote_ident(pg_get_userbyid(relowner)) AS owner, reloptions AS options,
       obj_description(oid, 'pg_class') AS comment
  FROM pg_class WHERE oid = $1::regclass`;

const OWNED_SEQUENCES_SQL = `
SELECT d.objid::regclass::text AS sequence, a.attname AS column
  FROM pg_depend d
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = $1::regclass AND d.deptype = 'a'`;

/** Why the target cannot be swapped for a new table, or nothing when it can. */
export async function swapBlockers(client: pg.ClientBase, target: TableRef): Promise<string[]> {
  const { rows } = await client.query<{ reason: string }>(BLOCKERS_SQL, [quoteTable(target)]);
  const { rows: indexes } = await client.query<IndexRow>(INDEXES_SQL, [quoteTable(target)]);
  const lossy = indexes
    .filter((index) => index.lossy)
    .map((index) => `index ${index.index} carries more than its definition`);
  return [...rows.map((row) => row.reason), ...lossy];
}

/**
 * Creates staging as a logged table with the target's columns, defaults, NOT NULLs, checks,
 * storage and column comments, but no index: the load checks each row as it arrives (a row that
 * breaks a rule fails the import as DataRejected, the target untouched) and maintains nothing.
 */
export async function createSwapStaging(client: pg.ClientBase, target: TableRef, staging: TableRef): Promise<void> {
  await client.query(
    `CREATE TABLE ${quoteTable(staging)} (LIKE ${quoteTable(target)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS
       INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)
       WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)`,
  );
}

/** A table's fingerprint with names replaced through `rename` (staging's temporary names). */
async function fingerprint(client: pg.ClientBase, table: TableRef, rename = new Map<string, string>()) {
  const { rows } = await client.query<{ fingerprint: Record<string, unknown> }>(FINGERPRINT_SQL, [quoteTable(table)]);
  const value = rows[0]!.fingerprint;
  const renamed = (object: unknown) =>
    Object.fromEntries(
      Object.entries((object ?? {}) as Record<string, unknown>)
        .map(([name, entry]) => [rename.get(name) ?? name, entry] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  return JSON.stringify({ ...value, constraints: renamed(value.constraints), indexes: renamed(value.indexes) });
}

/** Staging, dressed as the target; `swap()` runs under the target's ACCESS EXCLUSIVE lock. */
export interface PreparedSwap {
  /** Indexes built on staging, constraint indexes included. */
  indexes: number;
  /** Drops the target and renames staging into its place; false (nothing done) if they differ. */
  swap(): Promise<boolean>;
}

type NameFor = (original: string) => string;
type Grant = { grantee: string; privileges: string; grantable: boolean };

/** NOT NULLs and checks the target gained after createStaging copied its rules; usually none. */
async function addMissingRowRules(client: pg.ClientBase, from: string, to: string, nameFor: NameFor) {
  const names = async (sql: string) =>
    new Set((await client.query<{ name: string }>(sql, [to])).rows.map((row) => row.name));
  const stagingNotNull = await names(NOT_NULL_SQL);
  const stagingChecks = await names(CHECKS_SQL);
  const notNull = (await client.query<{ name: string }>(NOT_NULL_SQL, [from])).rows.filter(
    (column) => !stagingNotNull.has(column.name),
  );
  const checks = (await client.query<{ name: string; def: string }>(CHECKS_SQL, [from])).rows.filter(
    (check) => !stagingChecks.has(check.name),
  );
  const rules = [
    ...notNull.map((column) => `ALTER COLUMN ${quoteIdent(column.name)} SET NOT NULL`),
    // Validated even where the target's is NOT VALID: the staged rows are new rows to the target.
    ...checks.map((check) => `ADD CONSTRAINT ${nameFor(check.name)} ${check.def.replace(/ NOT VALID$/, '')}`),
  ];
  // One statement, so one scan of staging checks every rule.
  if (rules.length > 0) await client.query(`ALTER TABLE ${to} ${rules.join(', ')}`);
}

/** Builds the target's indexes and index-backed constraints on staging; returns how many. */
async function buildIndexes(client: pg.ClientBase, from: string, to: string, nameFor: NameFor): Promise<number> {
  const { rows: indexes } = await client.query<IndexRow>(INDEXES_SQL, [from]);
  for (const index of indexes) {
    if (index.constraintName) {
      await client.query(`ALTER TABLE ${to} ADD CONSTRAINT ${nameFor(index.constraintName)} ${index.constraintDef}`);
    } else {
      const using = index.indexDef.slice(index.indexDef.indexOf(' USING '));
      const unique = index.indexDef.startsWith('CREATE UNIQUE ') ? 'UNIQUE ' : '';
      await client.query(`CREATE ${unique}INDEX ${nameFor(index.indexName)} ON ${to}${using}`);
    }
  }
  return indexes.length;
}

/** The target's storage options, owner, grants and comment, onto staging. */
async function copyTableSettings(client: pg.ClientBase, from: string, to: string): Promise<void> {
  const facts = (
    await client.query<{ owner: string; options: string[] | null; comment: string | null }>(TABLE_FACTS_SQL, [from])
  ).rows[0]!;
  await client.query(`ALTER TABLE ${to} RESET (autovacuum_enabled, toast.autovacuum_enabled)`);
  if (facts.options?.length) {
    const options = facts.options.map((option) => {
      const at = option.indexOf('=');
      return `${quoteIdent(option.slice(0, at))} = ${client.escapeLiteral(option.slice(at + 1))}`;
    });
    await client.query(`ALTER TABLE ${to} SET (${options.join(', ')})`);
  }
  await client.query(`ALTER TABLE ${to} OWNER TO ${facts.owner}`);
  // Default privileges of the schema may have granted staging what the target does not have.
  const given = (await client.query<Grant>(GRANTS_SQL, [to])).rows;
  for (const grantee of new Set(given.map((grant) => grant.grantee))) {
    await client.query(`REVOKE ALL ON ${to} FROM ${grantee}`);
  }
  for (const grant of (await client.query<Grant>(GRANTS_SQL, [from])).rows) {
    const option = grant.grantable ? ' WITH GRANT OPTION' : '';
    await client.query(`GRANT ${grant.privileges} ON ${to} TO ${grant.grantee}${option}`);
  }
  // Always set: staging carries pgferry's own comment (its run), which must not replace the target's none.
  const comment = facts.comment === null ? 'NULL' : client.escapeLiteral(facts.comment);
  await client.query(`COMMENT ON TABLE ${to} IS ${comment}`);
}

/**
 * Gives staging the target's indexes, options, owner, grants and comment (and any NOT NULL or
 * check the target gained during the load), then ANALYZEs it. Runs inside publish's transaction
 * before the target is locked: a violation rolls everything back. Temporary names (staging's
 * name and a number) keep clear of the target's own until the swap renames them.
 */
export async function prepareSwap(client: pg.ClientBase, target: TableRef, staging: TableRef): Promise<PreparedSwap> {
  const from = quoteTable(target);
  const to = quoteTable(staging);
  const rename = new Map<string, string>();
  const nameFor = (original: string) => {
    const name = `${staging.table}_${rename.size + 1}`;
    rename.set(name, original);
    return quoteIdent(name);
  };
  await addMissingRowRules(client, from, to, nameFor);
  const indexes = await buildIndexes(client, from, to, nameFor);
  await copyTableSettings(client, from, to);
  await client.query(`ANALYZE ${to}`);

  return {
    indexes,
    async swap() {
      if ((await swapBlockers(client, target)).length > 0) return false;
      if ((await fingerprint(client, target)) !== (await fingerprint(client, staging, rename))) return false;
      await client.query('SAVEPOINT pgferry_swap');
      try {
        await replaceTable(client, target, staging, rename);
      } catch (error) {
        // 2BP01: something the checks above missed still depends on the old table; move rows instead.
        if ((error as { code?: string }).code !== '2BP01') throw error;
        await client.query('ROLLBACK TO SAVEPOINT pgferry_swap');
        return false;
      }
      return true;
    },
  };
}

/** Hands the target's serial sequences to staging, drops the target and renames staging over it. */
async function replaceTable(
  client: pg.ClientBase,
  target: TableRef,
  staging: TableRef,
  rename: Map<string, string>,
): Promise<void> {
  const from = quoteTable(target);
  const to = quoteTable(staging);
  const sequences = (await client.query<{ sequence: string; column: string }>(OWNED_SEQUENCES_SQL, [from])).rows;
  for (const { sequence, column } of sequences) {
    await client.query(`ALTER SEQUENCE ${sequence} OWNED BY ${to}.${quoteIdent(column)}`);
  }
  await client.query(`DROP TABLE ${from} RESTRICT`);
  await client.query(`ALTER TABLE ${to} RENAME TO ${quoteIdent(target.table)}`);
  const { rows: constraints } = await client.query<{ name: string }>(
    'SELECT conname AS name FROM pg_constraint WHERE conrelid = $1::regclass',
    [from],
  );
  const constraintNames = new Set(constraints.map((row) => row.name));
  for (const [temporary, original] of rename) {
    await client.query(
      constraintNames.has(temporary)
        ? `ALTER TABLE ${from} RENAME CONSTRAINT ${quoteIdent(temporary)} TO ${quoteIdent(original)}`
        : `ALTER INDEX ${quoteIdent(target.schema)}.${quoteIdent(temporary)} RENAME TO ${quoteIdent(original)}`,
    );
  }
}
