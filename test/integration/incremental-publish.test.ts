/**
 * Issue 16: the watermark moves only with a publish, in its transaction. Run as activities
 * against real clusters and real psql: a publish retried after it committed (its result lost)
 * advances the watermark once, and a publish that finds the watermark moved since its run
 * planned (another copy, or `pgferry watermark set`) publishes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { CreateStagingResult, ExportImportResult, PublishInput, PublishResult } from '../../activities/index.js';
import type { PlannedWindow } from '../../src/shared/incremental.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { activityEnvironment } from '../support/run-copy.js';

const TABLE: TableRef = { schema: 'public', table: 'inc_retry' };

describe('incremental publish (issue 16)', { timeout: 300_000 }, () => {
  let world: CopyWorld;
  before(async () => {
    world = await createCopyWorld();
    await query(
      world.sourceUrl,
      `CREATE TABLE public.inc_retry (id bigint PRIMARY KEY, note text);
       INSERT INTO public.inc_retry SELECT i, 'r' || i FROM generate_series(1, 300) i;`,
    );
    await query(world.targetUrl, 'CREATE TABLE public.inc_retry (id bigint PRIMARY KEY, note text)');
  });
  after(async () => {
    await world?.close();
  });

  /** planWindow, createStaging and exportImport as the workflow runs them; the publish input it would send. */
  async function stage(runId: string): Promise<PublishInput> {
    const env = () =>
      activityEnvironment({ workflowExecution: { workflowId: 'pgferry:target:public.inc_retry', runId } });
    const copy = {
      source: 'source',
      target: 'target',
      sourceTable: TABLE,
      targetTable: TABLE,
      mode: 'append' as const,
    };
    const planned: PlannedWindow = await env().run(world.activities.planWindow, {
      ...copy,
      incremental: { column: 'id' },
    });
    const staged: CreateStagingResult = await env().run(world.activities.createStaging, copy);
    const copied: ExportImportResult = await env().run(world.activities.exportImport, {
      source: 'source',
      target: 'target',
      sourceTable: TABLE,
      staging: staged.staging,
      columns: staged.columns,
      selectForm: staged.selectForm,
      format: 'binary' as const,
      verify: 'count' as const,
      stallTimeoutMs: 60_000,
      window: { column: 'id', type: planned.type, low: planned.low },
    });
    return {
      target: 'target',
      targetTable: TABLE,
      staging: staged.staging,
      columns: staged.columns,
      primaryKey: staged.primaryKey,
      mode: 'append',
      publishKey: `pgferry:target:public.inc_retry/${runId}`,
      expectedRows: copied.importedRows,
      watermark: { key: planned.key, type: planned.type, previous: planned.watermark, high: copied.window!.high! },
    };
  }

  async function state() {
    const rows = await query<{ n: number }>(world.targetUrl, 'SELECT count(*)::int AS n FROM public.inc_retry');
    const mark = await query<{ watermark: string }>(world.targetUrl, 'SELECT watermark FROM pgferry.watermarks');
    return { rows: rows.rows[0]!.n, watermarks: mark.rows.map((row) => row.watermark) };
  }

  test('a publish retried after it committed changes neither the rows nor the watermark again', async () => {
    const input = await stage('00000000-0000-0000-0000-0000000000a1');
    const first: PublishResult = await activityEnvironment().run(world.activities.publish, input);
    assert.equal(first.rows, 300);
    assert.deepEqual(await state(), { rows: 300, watermarks: ['300'] });
    await query(world.sourceUrl, `INSERT INTO public.inc_retry SELECT i, 'r' || i FROM generate_series(301, 400) i`);
    // The retry carries the same input, now stale: 300 was the previous watermark it planned with.
    const retried: PublishResult = await activityEnvironment().run(world.activities.publish, input);
    assert.equal(retried.alreadyPublished, true);
    assert.deepEqual(await state(), { rows: 300, watermarks: ['300'] });
  });

  test('a publish whose watermark moved since its run planned fails as TargetBusy and publishes nothing', async () => {
    const input = await stage('00000000-0000-0000-0000-0000000000a2');
    assert.equal(input.watermark?.previous, '300');
    assert.equal(input.expectedRows, 100);
    await query(world.targetUrl, `UPDATE pgferry.watermarks SET watermark = '350'`);
    await assert.rejects(activityEnvironment().run(world.activities.publish, input), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'TargetBusy');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /moved since this run read it \(300\)/);
      return true;
    });
    assert.deepEqual(await state(), { rows: 300, watermarks: ['350'] });
  });
});
