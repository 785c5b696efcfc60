/**
 * publish and staging against real clusters: publish moves exactly the verified rows or
 * nothing, and two runs onto one table never share a staging table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CreateStagingResult, ExportImportResult, PublishResult } from '../../activities/index.js';
import { FailureType } from '../../src/shared/failure-types.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, rowCount, tableDigest, waitForLockWaiters, withClient } from '../support/pg.js';
import { swapBlockers } from '../../activities/table-swap.js';
import { activityEnvironment, copyToStaging, createStaging, exportImportInput } from '../support/run-copy.js';

const TABLE: TableRef = { schema: 'public', table: 'accounts' };

describe('publish', { timeout: 300_000 }, () => {
  let world: CopyWorld;

  before(async () => {
    world = await createCopyWorld();
    await query(
      world.sourceUrl,
      `CREATE TABLE accounts (id int PRIMARY KEY, name text);
       INSERT INTO accounts SELECT g, 'new ' || g FROM generate_series(1, 1000) g;`,
    );
    await query(
      world.targetUrl,
      `CREATE TABLE accounts (id int PRIMARY KEY, name text);
       INSERT INTO accounts SELECT g, 'old ' || g FROM generate_series(1, 10) g;`,
    );
  });
  after(async () => {
    await world?.close();
  });

  /** A replace publish of `staging` into `table`, as the workflow's last step runs it. */
  const publishReplace = (
    table: TableRef,
    staging: CreateStagingResult,
    expectedRows: number,
    key: string,
  ): Promise<PublishResult> =>
    activityEnvironment().run(world.activities.publish, {
      target: 'target',
      targetTable: table,
      staging: staging.staging,
      columns: staging.columns,
      primaryKey: staging.primaryKey,
      mode: 'replace' as const,
      publishKey: key,
      expectedRows,
    });

  test('refuses to publish when staging no longer holds the verified rows, leaving the target as it was', async () => {
    const before = await tableDigest(world.targetUrl, TABLE);
    const { staging, result } = await copyToStaging(world, TABLE);
    assert.equal(result.importedRows, 1000);
    // Something emptied staging after verifyCounts (e.g. a second run recreating it).
    await query(world.targetUrl, `DELETE FROM ${quoteTable(staging.staging)} WHERE id > 500`);
    await assertFailure(
      publishReplace(TABLE, staging, result.importedRows, 'publish-test/guard'),
      FailureType.CountMismatch,
      true,
    );
    assert.deepEqual(await tableDigest(world.targetUrl, TABLE), before);
  });

  test('publishes exactly the verified rows once, and a retry of the same run changes nothing', async () => {
    const { staging, result } = await copyToStaging(world, TABLE);
    const input = {
      target: 'target',
      targetTable: TABLE,
      staging: staging.staging,
      columns: staging.columns,
      primaryKey: staging.primaryKey,
      mode: 'append' as const,
      publishKey: 'publish-test/once',
      expectedRows: result.importedRows,
    };
    await query(world.targetUrl, 'TRUNCATE accounts');
    const first = await activityEnvironment().run(world.activities.publish, input);
    assert.deepEqual(first, { rows: 1000, alreadyPublished: false, rebuiltIndexes: 0, swapped: false });
    const retry = await activityEnvironment().run(world.activities.publish, input);
    assert.deepEqual(retry, { rows: 1000, alreadyPublished: true, rebuiltIndexes: 0, swapped: false });
    assert.deepEqual(await tableDigest(world.targetUrl, TABLE), await tableDigest(world.sourceUrl, TABLE));
  });

  test('two runs onto the same target table get different staging tables', async () => {
    const first = await createStaging(world, TABLE);
    const second: CreateStagingResult = await activityEnvironment({
      workflowExecution: { workflowId: 'pgferry:target:public.accounts-2026-11-26T03:00:00Z', runId: 'r2' },
    }).run(world.activities.createStaging, {
      source: 'source',
      target: 'target',
      sourceTable: TABLE,
      targetTable: TABLE,
      mode: 'replace' as const,
    });
    assert.notEqual(first.staging.table, second.staging.table);
    assert.equal(first.staging.schema, 'public');
    assert.match(second.staging.table, /^pgferry_stg_[0-9a-f]{16}$/);
  });

  describe('replace re-builds the target indexes after the load', () => {
    const SHOP: TableRef = { schema: 'public', table: 'shop' };
    const indexDefs = async () =>
      (
        await query<{ indexdef: string }>(
          world.targetUrl,
          "SELECT indexdef FROM pg_indexes WHERE tablename = 'shop' ORDER BY indexdef",
        )
      ).rows.map((row) => row.indexdef);
    const publishShop = (staging: CreateStagingResult, expectedRows: number, key: string) =>
      publishReplace(SHOP, staging, expectedRows, key);

    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE shop (id int, code text, qty int);
         INSERT INTO shop SELECT g, 'c' || g, g % 7 FROM generate_series(1, 2000) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE shop (id int PRIMARY KEY, code text, qty int);
         CREATE UNIQUE INDEX shop_code ON shop (code);
         CREATE INDEX shop_qty_partial ON shop (qty) WHERE qty > 3;
         INSERT INTO shop SELECT g, 'old' || g, 1 FROM generate_series(1, 50) g;
         CREATE VIEW shop_big AS SELECT id, qty FROM shop WHERE qty > 3;
         CREATE ROLE shop_reader;
         GRANT SELECT ON shop, shop_big TO shop_reader;`,
      );
    });

    test('keeps every index definition, the dependent view and the grants, with exactly the source rows', async () => {
      const defsBefore = await indexDefs();
      const { staging, result } = await copyToStaging(world, SHOP);
      const published = await publishShop(staging, result.importedRows, 'publish-test/indexes');
      assert.equal(published.rows, 2000);
      assert.equal(published.swapped, false, 'a dependent view rules out a swap');
      assert.equal(published.rebuiltIndexes, 3, 'primary key, unique and partial index re-built after the load');
      assert.deepEqual(await indexDefs(), defsBefore);
      assert.deepEqual(await tableDigest(world.targetUrl, SHOP), await tableDigest(world.sourceUrl, SHOP));
      const big = await query<{ n: number }>(world.targetUrl, 'SELECT count(*)::int AS n FROM shop_big');
      assert.equal(big.rows[0]!.n, (await query(world.sourceUrl, 'SELECT 1 FROM shop WHERE qty > 3')).rowCount);
      const grant = await query<{ ok: boolean }>(
        world.targetUrl,
        "SELECT has_table_privilege('shop_reader', 'shop', 'SELECT') AS ok",
      );
      assert.equal(grant.rows[0]!.ok, true);
    });

    test('rows that break a re-built unique index roll the whole publish back', async () => {
      const before = await tableDigest(world.targetUrl, SHOP);
      const defsBefore = await indexDefs();
      await query(world.sourceUrl, `INSERT INTO shop VALUES (1, 'duplicate id', 0)`);
      try {
        const { staging, result } = await copyToStaging(world, SHOP);
        await assertFailure(
          publishShop(staging, result.importedRows, 'publish-test/duplicate'),
          FailureType.DataRejected,
          true,
        );
      } finally {
        await query(world.sourceUrl, `DELETE FROM shop WHERE code = 'duplicate id'`);
      }
      assert.deepEqual(await tableDigest(world.targetUrl, SHOP), before);
      assert.deepEqual(await indexDefs(), defsBefore);
    });

    test('a target another table references by foreign key keeps its indexes in place, and still gets the rows', async () => {
      await query(world.targetUrl, 'CREATE TABLE shop_note (shop_id int REFERENCES shop (id))');
      try {
        const { staging, result } = await copyToStaging(world, SHOP);
        const published = await publishShop(staging, result.importedRows, 'publish-test/fk');
        assert.equal(published.rebuiltIndexes, 0);
        assert.deepEqual(await tableDigest(world.targetUrl, SHOP), await tableDigest(world.sourceUrl, SHOP));
      } finally {
        await query(world.targetUrl, 'DROP TABLE shop_note');
      }
    });
  });

  describe('replace swaps staging in for a target nothing else refers to', () => {
    const LEDGER: TableRef = { schema: 'public', table: 'ledger' };
    /** Everything a swap must carry over, by name; OIDs and the table's identity left out. */
    const definition = async () =>
      (
        await query<{ definition: unknown }>(
          world.targetUrl,
          `SELECT jsonb_build_object(
             'indexes', (SELECT jsonb_agg(indexdef ORDER BY indexname) FROM pg_indexes WHERE tablename = 'ledger'),
             'constraints', (SELECT jsonb_agg(conname || ' ' || pg_get_constraintdef(oid) ORDER BY conname)
                               FROM pg_constraint WHERE conrelid = 'ledger'::regclass),
             'columns', (SELECT jsonb_agg(column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
                                          ORDER BY ordinal_position)
                           FROM information_schema.columns WHERE table_name = 'ledger'),
             'acl', (SELECT relacl::text FROM pg_class WHERE oid = 'ledger'::regclass),
             'options', (SELECT reloptions FROM pg_class WHERE oid = 'ledger'::regclass),
             'comment', obj_description('ledger'::regclass, 'pg_class'),
             'columnComment', col_description('ledger'::regclass, 2),
             'sequenceOwner', (SELECT refobjid::regclass::text || '.' || refobjsubid FROM pg_depend
                                WHERE objid = 'ledger_id_seq'::regclass AND deptype = 'a'),
             'sequenceValue', (SELECT last_value FROM ledger_id_seq)) AS definition`,
        )
      ).rows[0]!.definition;
    const tableOid = async () =>
      (await query<{ oid: number }>(world.targetUrl, "SELECT 'ledger'::regclass::oid AS oid")).rows[0]!.oid;
    const publishLedger = (staging: CreateStagingResult, expectedRows: number, key: string) =>
      publishReplace(LEDGER, staging, expectedRows, key);
    const copiedColumns = 'SELECT id, code, qty FROM ledger ORDER BY id';

    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE ledger (id bigint PRIMARY KEY, code text, qty int);
         INSERT INTO ledger SELECT g, 'sku-' || g, g % 9 FROM generate_series(1, 3000) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE ledger (id bigserial PRIMARY KEY, code text NOT NULL CONSTRAINT ledger_code_key UNIQUE,
                              qty int CONSTRAINT ledger_qty_check CHECK (qty >= 0), note text DEFAULT 'from target')
           WITH (fillfactor = 80);
         CREATE INDEX ledger_qty_partial ON ledger (qty) WHERE qty > 3;
         COMMENT ON TABLE ledger IS 'nightly copy of the ledger';
         COMMENT ON COLUMN ledger.code IS 'stock keeping unit';
         CREATE ROLE ledger_reader;
         GRANT SELECT, UPDATE ON ledger TO ledger_reader;
         INSERT INTO ledger (code, qty) SELECT 'old-' || g, 1 FROM generate_series(1, 40) g;
         SELECT setval('ledger_id_seq', 5000);`,
      );
    });

    test('the target is a new table with the same definition, grants, comments and sequence, holding the source rows', async () => {
      const before = await definition();
      const oldOid = await tableOid();
      const { staging, result } = await copyToStaging(world, LEDGER);
      const published = await publishLedger(staging, result.importedRows, 'publish-test/swap');
      assert.deepEqual(published, { rows: 3000, alreadyPublished: false, rebuiltIndexes: 3, swapped: true });
      assert.notEqual(await tableOid(), oldOid, 'staging took the place of the old table');
      assert.deepEqual(await definition(), before);
      assert.deepEqual(
        (await query(world.targetUrl, copiedColumns)).rows,
        (await query(world.sourceUrl, 'SELECT id, code, qty FROM ledger ORDER BY id')).rows,
      );
      const notes = await query<{ note: string }>(world.targetUrl, 'SELECT DISTINCT note FROM ledger');
      assert.deepEqual(notes.rows, [{ note: 'from target' }], "a column the source lacks gets the target's default");
      const analyzed = await query(world.targetUrl, "SELECT 1 FROM pg_stats WHERE tablename = 'ledger'");
      assert.ok(analyzed.rowCount! > 0, 'the new table has planner statistics');
      const leftovers = await query(world.targetUrl, 'SELECT 1 FROM pg_class WHERE relname LIKE $1', [
        `${staging.staging.table}%`,
      ]);
      assert.equal(leftovers.rowCount, 0, 'neither staging nor its temporary index names remain');

      const retry = await publishLedger(staging, result.importedRows, 'publish-test/swap');
      assert.deepEqual(retry, { rows: 3000, alreadyPublished: true, rebuiltIndexes: 0, swapped: false });
      assert.deepEqual(await definition(), before);
    });

    test('anything that refers to the table by its OID, or would not carry over, rules a swap out', async () => {
      const cases: [string, string][] = [
        ['a view', 'CREATE VIEW plain_view AS SELECT * FROM plain'],
        [
          'a function on its row type',
          'CREATE FUNCTION plain_rows() RETURNS SETOF plain LANGUAGE sql AS $$ SELECT * FROM plain $$',
        ],
        ['a column of its row type', 'CREATE TABLE plain_holder (p plain)'],
        ['an inbound foreign key', 'CREATE TABLE plain_child (plain_id int REFERENCES plain (id))'],
        [
          'an outbound foreign key',
          'CREATE TABLE plain_parent (v int PRIMARY KEY); ALTER TABLE plain ADD FOREIGN KEY (v) REFERENCES plain_parent (v)',
        ],
        [
          'a trigger',
          'CREATE FUNCTION plain_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; CREATE TRIGGER plain_touch BEFORE INSERT ON plain FOR EACH ROW EXECUTE FUNCTION plain_touch()',
        ],
        ['row security', 'ALTER TABLE plain ENABLE ROW LEVEL SECURITY'],
        ['a rule', 'CREATE RULE plain_rule AS ON DELETE TO plain DO INSTEAD NOTHING'],
        ['a publication', 'CREATE PUBLICATION plain_pub FOR TABLE plain'],
        ['a publication of its schema', 'CREATE PUBLICATION plain_pub FOR TABLES IN SCHEMA public'],
        ['a publication of all tables', 'CREATE PUBLICATION plain_pub FOR ALL TABLES'],
        ['extended statistics', 'CREATE STATISTICS plain_stats ON id, v FROM plain'],
        ['an inheriting table', 'CREATE TABLE plain_heir () INHERITS (plain)'],
        ['a column grant', 'CREATE ROLE plain_auditor; GRANT SELECT (v) ON plain TO plain_auditor'],
        ['a statistics target', 'ALTER TABLE plain ALTER COLUMN v SET STATISTICS 500'],
        ['a commented index', 'CREATE INDEX plain_v ON plain (v); COMMENT ON INDEX plain_v IS $$hot$$'],
        [
          'a replica identity',
          'CREATE UNIQUE INDEX plain_v_key ON plain (v); ALTER TABLE plain ALTER v SET NOT NULL; ALTER TABLE plain REPLICA IDENTITY USING INDEX plain_v_key',
        ],
      ];
      const blockers = () =>
        withClient(world.targetUrl, (client) => swapBlockers(client, { schema: 'public', table: 'plain' }));
      for (const [what, sql] of cases) {
        await query(world.targetUrl, 'CREATE TABLE plain (id int PRIMARY KEY, v int)');
        try {
          assert.deepEqual(await blockers(), [], 'a plain table can be swapped');
          await query(world.targetUrl, sql);
          assert.notDeepEqual(await blockers(), [], `${what} rules a swap out`);
        } finally {
          await query(
            world.targetUrl,
            `DROP TABLE plain CASCADE; DROP TABLE IF EXISTS plain_child, plain_parent, plain_holder;
             DROP FUNCTION IF EXISTS plain_touch; DROP PUBLICATION IF EXISTS plain_pub;
             DROP ROLE IF EXISTS plain_auditor`,
          );
        }
      }
    });

    test("grants the schema's default privileges give new tables are taken back before the swap", async () => {
      await query(
        world.targetUrl,
        'CREATE ROLE ledger_auditor; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, DELETE ON TABLES TO ledger_auditor',
      );
      try {
        const before = await definition();
        const { staging, result } = await copyToStaging(world, LEDGER);
        const published = await publishLedger(staging, result.importedRows, 'publish-test/swap-default-acl');
        assert.equal(published.swapped, true);
        assert.deepEqual(await definition(), before);
        const auditor = await query<{ ok: boolean }>(
          world.targetUrl,
          "SELECT has_table_privilege('ledger_auditor', 'ledger', 'SELECT') AS ok",
        );
        assert.equal(auditor.rows[0]!.ok, false);
      } finally {
        await query(
          world.targetUrl,
          'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM ledger_auditor; DROP ROLE ledger_auditor',
        );
      }
    });

    test('a query that queued behind the swap reads the new table, not an error', async () => {
      await query(world.targetUrl, "INSERT INTO ledger (code, qty) VALUES ('only in the old table', 1)");
      const { staging, result } = await copyToStaging(world, LEDGER);
      await withClient(world.targetUrl, async (holder) => {
        await withClient(world.targetUrl, async (reader) => {
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM ledger LIMIT 1');
          const publishing = publishLedger(staging, result.importedRows, 'publish-test/swap-reader');
          await waitForLockWaiters(world.targetUrl, LEDGER, 1);
          const reading = reader.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger');
          await waitForLockWaiters(world.targetUrl, LEDGER, 2);
          await holder.query('COMMIT');
          assert.equal((await publishing).swapped, true);
          assert.equal((await reading).rows[0]!.n, 3000, 'the reader waited, then read the swapped-in table');
        });
      });
    });

    test('a view created after staging was made turns the swap into moving rows, and the view sees them', async () => {
      const { staging, result } = await copyToStaging(world, LEDGER);
      await query(world.targetUrl, 'CREATE VIEW ledger_view AS SELECT id, qty FROM ledger');
      try {
        const oldOid = await tableOid();
        const published = await publishLedger(staging, result.importedRows, 'publish-test/swap-view');
        assert.equal(published.swapped, false);
        assert.equal(await tableOid(), oldOid);
        const seen = await query<{ n: number }>(world.targetUrl, 'SELECT count(*)::int AS n FROM ledger_view');
        assert.equal(seen.rows[0]!.n, 3000);
      } finally {
        await query(world.targetUrl, 'DROP VIEW ledger_view');
      }
    });

    test('a definition changed after staging was made (a column comment) is kept by moving rows instead', async () => {
      const { staging, result } = await copyToStaging(world, LEDGER);
      await query(world.targetUrl, "COMMENT ON COLUMN ledger.code IS 'changed during the load'");
      const published = await publishLedger(staging, result.importedRows, 'publish-test/swap-changed');
      assert.equal(published.swapped, false);
      const comment = await query<{ c: string }>(world.targetUrl, "SELECT col_description('ledger'::regclass, 2) AS c");
      assert.equal(comment.rows[0]!.c, 'changed during the load');
      assert.equal(await rowCount(world.targetUrl, LEDGER), 3000);
    });

    test('rows that break a NOT NULL or CHECK of the target fail the load as DataRejected, the target untouched', async () => {
      const before = await tableDigest(world.targetUrl, LEDGER);
      for (const [breaking, undo] of [
        ['UPDATE ledger SET code = NULL WHERE id = 10', "UPDATE ledger SET code = 'sku-10' WHERE id = 10"],
        ['UPDATE ledger SET qty = -1 WHERE id = 11', 'UPDATE ledger SET qty = 11 % 9 WHERE id = 11'],
      ] as const) {
        await query(world.sourceUrl, breaking);
        try {
          await assertFailure(copyToStaging(world, LEDGER), FailureType.DataRejected, true);
        } finally {
          await query(world.sourceUrl, undo);
        }
        assert.deepEqual(await tableDigest(world.targetUrl, LEDGER), before);
      }
    });

    test('a check the target gained during the load holds for the staged rows, NOT VALID or not', async () => {
      const before = await tableDigest(world.targetUrl, LEDGER);
      const { staging, result } = await copyToStaging(world, LEDGER);
      await query(world.targetUrl, 'ALTER TABLE ledger ADD CONSTRAINT ledger_qty_small CHECK (qty < 5) NOT VALID');
      try {
        await assertFailure(
          publishLedger(staging, result.importedRows, 'publish-test/swap-new-check'),
          FailureType.DataRejected,
          true,
        );
        assert.deepEqual(await tableDigest(world.targetUrl, LEDGER), before);
      } finally {
        await query(world.targetUrl, 'ALTER TABLE ledger DROP CONSTRAINT ledger_qty_small');
      }

      const again = await copyToStaging(world, LEDGER);
      await query(world.targetUrl, 'ALTER TABLE ledger ADD CONSTRAINT ledger_qty_below_100 CHECK (qty < 100)');
      try {
        const published = await publishLedger(again.staging, again.result.importedRows, 'publish-test/swap-check-ok');
        assert.equal(published.swapped, true);
        const kept = await query(
          world.targetUrl,
          "SELECT 1 FROM pg_constraint WHERE conrelid = 'ledger'::regclass AND conname = 'ledger_qty_below_100'",
        );
        assert.equal(kept.rowCount, 1, 'the new check is on the swapped-in table under its own name');
      } finally {
        await query(world.targetUrl, 'ALTER TABLE ledger DROP CONSTRAINT ledger_qty_below_100');
      }
    });
  });

  describe('verifyCounts with --verify checksum', () => {
    const verifyInput = (
      staging: CreateStagingResult,
      result: ExportImportResult,
    ): Parameters<CopyWorld['activities']['verifyCounts']>[0] => ({
      target: 'target',
      staging: staging.staging,
      columns: staging.columns,
      verify: 'checksum',
      sourceRows: result.sourceRows,
      importedRows: result.importedRows,
      sourceDigest: result.sourceDigest,
    });

    test('matches the source digest taken in the export snapshot, and refuses staging with one value changed', async () => {
      const staging = await createStaging(world, TABLE);
      const result: ExportImportResult = await activityEnvironment().run(world.activities.exportImport, {
        ...exportImportInput(TABLE, staging),
        verify: 'checksum' as const,
      });
      assert.ok(result.sourceDigest, 'exportImport returns the source digest with verify=checksum');
      const verified = await activityEnvironment().run(world.activities.verifyCounts, verifyInput(staging, result));
      assert.deepEqual(verified, { stagedRows: 1000, checksumMatched: true });

      // Same row count, one value different: only the checksum can tell.
      await query(world.targetUrl, `UPDATE ${quoteTable(staging.staging)} SET name = 'tampered' WHERE id = 7`);
      await assertFailure(
        activityEnvironment().run(world.activities.verifyCounts, verifyInput(staging, result)),
        FailureType.CountMismatch,
        true,
      );
    });
  });
});
