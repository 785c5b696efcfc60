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
import { query, tableDigest } from '../support/pg.js';
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

  test('refuses to publish when staging no longer holds the verified rows, leaving the target as it was', async () => {
    const before = await tableDigest(world.targetUrl, TABLE);
    const { staging, result } = await copyToStaging(world, TABLE);
    assert.equal(result.importedRows, 1000);
    // Something emptied staging after verifyCounts (e.g. a second run recreating it).
    await query(world.targetUrl, `DELETE FROM ${quoteTable(staging.staging)} WHERE id > 500`);
    await assertFailure(
      activityEnvironment().run(world.activities.publish, {
        target: 'target',
        targetTable: TABLE,
        staging: staging.staging,
        columns: staging.columns,
        primaryKey: staging.primaryKey,
        mode: 'replace' as const,
        publishKey: 'publish-test/guard',
        expectedRows: result.importedRows,
      }),
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
    assert.deepEqual(first, { rows: 1000, alreadyPublished: false, rebuiltIndexes: 0 });
    const retry = await activityEnvironment().run(world.activities.publish, input);
    assert.deepEqual(retry, { rows: 1000, alreadyPublished: true, rebuiltIndexes: 0 });
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
    const publishReplace = (staging: CreateStagingResult, expectedRows: number, key: string): Promise<PublishResult> =>
      activityEnvironment().run(world.activities.publish, {
        target: 'target',
        targetTable: SHOP,
        staging: staging.staging,
        columns: staging.columns,
        primaryKey: staging.primaryKey,
        mode: 'replace' as const,
        publishKey: key,
        expectedRows,
      });

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
      const published = await publishReplace(staging, result.importedRows, 'publish-test/indexes');
      assert.equal(published.rows, 2000);
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
          publishReplace(staging, result.importedRows, 'publish-test/duplicate'),
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
        const published = await publishReplace(staging, result.importedRows, 'publish-test/fk');
        assert.equal(published.rebuiltIndexes, 0);
        assert.deepEqual(await tableDigest(world.targetUrl, SHOP), await tableDigest(world.sourceUrl, SHOP));
      } finally {
        await query(world.targetUrl, 'DROP TABLE shop_note');
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
        false,
      );
    });
  });
});
