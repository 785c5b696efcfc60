/**
 * publish and staging against real clusters: publish moves exactly the verified rows or
 * nothing, and two runs onto one table never share a staging table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CreateStagingResult } from '../../activities/index.js';
import { FailureType } from '../../src/shared/failure-types.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, tableDigest } from '../support/pg.js';
import { activityEnvironment, copyToStaging, createStaging } from '../support/run-copy.js';

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
    assert.deepEqual(first, { rows: 1000, alreadyPublished: false });
    const retry = await activityEnvironment().run(world.activities.publish, input);
    assert.deepEqual(retry, { rows: 1000, alreadyPublished: true });
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
});
