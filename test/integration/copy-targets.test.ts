/**
 * createStaging refuses what a copy can never finish, before any data moves (issue 13 item 8):
 * a target that is a view failed only at publish, after the whole load, and was retried five
 * times; a materialized view never populated failed every export attempt with 55000.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CreateStagingResult } from '../../activities/index.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { makeTable, stagingTables } from '../support/copy-harness.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query } from '../support/pg.js';
import { activityEnvironment } from '../support/run-copy.js';

const table = (name: string): TableRef => ({ schema: 'public', table: name });

describe('createStaging refuses relations a copy cannot use', () => {
  let world: CopyWorld;

  before(async () => {
    world = await createCopyWorld();
  });

  after(async () => {
    await world?.close();
  });

  function createStaging(sourceTable: TableRef, targetTable: TableRef): Promise<CreateStagingResult> {
    return activityEnvironment().run(world.activities.createStaging, {
      source: 'source',
      target: 'target',
      sourceTable,
      targetTable,
      mode: 'replace' as const,
    });
  }

  test('a target that is a view fails as InvalidCopySpec before anything is created', async () => {
    await makeTable(world.sourceUrl, table('shown'), { to: 100 });
    await makeTable(world.targetUrl, table('shown_rows'), { to: 10, tag: 'tgt' });
    await query(world.targetUrl, 'CREATE VIEW public.shown AS SELECT * FROM public.shown_rows');
    const failure = await assertFailure(
      createStaging(table('shown'), table('shown')),
      FailureType.InvalidCopySpec,
      true,
    );
    assert.match(failure.message, /target:public\.shown is a view, not a table/);
    assert.deepEqual(await stagingTables(world.targetUrl), []);
  });

  test('a target that is a materialized view fails as InvalidCopySpec', async () => {
    await makeTable(world.sourceUrl, table('summed'), { to: 100 });
    await query(world.targetUrl, 'CREATE MATERIALIZED VIEW public.summed AS SELECT 1::bigint AS id');
    await assertFailure(createStaging(table('summed'), table('summed')), FailureType.InvalidCopySpec, true);
    assert.deepEqual(await stagingTables(world.targetUrl), []);
  });

  test('a source materialized view never populated fails as InvalidCopySpec naming REFRESH', async () => {
    await makeTable(world.sourceUrl, table('base_rows'), { to: 100 });
    await query(
      world.sourceUrl,
      'CREATE MATERIALIZED VIEW public.unfilled AS SELECT * FROM public.base_rows WITH NO DATA',
    );
    const failure = await assertFailure(
      createStaging(table('unfilled'), table('unfilled')),
      FailureType.InvalidCopySpec,
      true,
    );
    assert.match(failure.message, /never been populated: run REFRESH MATERIALIZED VIEW first/);
    assert.deepEqual(await stagingTables(world.targetUrl), []);
  });

  test('a populated source materialized view still copies', async () => {
    await query(world.sourceUrl, 'CREATE MATERIALIZED VIEW public.filled AS SELECT * FROM public.base_rows');
    const staged = await createStaging(table('filled'), table('filled'));
    assert.equal(staged.selectForm, true);
  });
});
