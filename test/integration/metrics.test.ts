/**
 * PGFERRY_METRICS_ADDRESS: a `pgferry worker` serves Prometheus text with the SDK's worker
 * metrics and pgferry's own, labelled by source and target profile. Scraped after a copy it
 * shows that copy's rows and bytes; after a failed copy, the failure under its type.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startCopy } from '../../src/client/start-copy.js';
import { createCopySchedule, triggerCopySchedule } from '../../src/client/schedules.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createCopyHarness, makeTable, waitFor, type CopyHarness, type RunningCli } from '../support/copy-harness.js';

const ROWS = 1_234;

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of the first sample of `metric` whose labels include all of `labels`. */
function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== metric) continue;
    const have = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => have.includes(`${key}="${value}"`))) return Number(match[3]);
  }
  return undefined;
}

describe('worker metrics endpoint', { timeout: 240_000 }, () => {
  let h: CopyHarness;
  let worker: RunningCli | undefined;
  let metricsUrl: string;
  const scrape = async () => (await fetch(metricsUrl)).text();

  before(async () => {
    h = await createCopyHarness({ name: 'metrics', worker: false });
    const address = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${address}/metrics`;
    worker = h.spawnCli(['worker'], { PGFERRY_METRICS_ADDRESS: address });
  });
  after(async () => {
    if (worker?.subprocess.pid && worker.subprocess.exitCode === null) process.kill(worker.subprocess.pid, 'SIGTERM');
    await worker?.done;
    await h?.close();
  });

  const copy = async (table: TableRef) => {
    const handle = await startCopy(
      h.client,
      { source: 'source', target: 'target', table, mode: 'replace' },
      { taskQueue: h.taskQueue },
    );
    return handle.result().catch((error: unknown) => error as Error);
  };

  test("after a copy, the endpoint shows its rows and bytes by source and target, and the SDK's worker metrics", async () => {
    await makeTable(h.sourceUrl, { schema: 'public', table: 'measured' }, { to: ROWS });
    const result = await copy({ schema: 'public', table: 'measured' });
    if (result instanceof Error) throw result;
    const labels = { source: 'source', target: 'target' };
    const text = await waitFor('the copy in the metrics', async () => {
      const body = await scrape();
      return sample(body, 'pgferry_rows_copied_total', labels) !== undefined ? body : undefined;
    });
    assert.equal(sample(text, 'pgferry_rows_copied_total', labels), ROWS, text);
    assert.equal(sample(text, 'pgferry_bytes_copied_total', labels), result.bytes);
    assert.equal(sample(text, 'pgferry_copies_total', { ...labels, status: 'completed' }), 1);
    assert.equal(sample(text, 'pgferry_copy_duration_seconds_count', { ...labels, status: 'completed' }), 1);
    assert.equal(sample(text, 'pgferry_phase_duration_seconds_count', { ...labels, phase: 'exportImport' }), 1);
    assert.equal(sample(text, 'pgferry_pipes_in_flight', labels), 0);
    assert.ok(sample(text, 'pgferry_pipe_last_success_seconds', { ...labels, table: 'public.measured' })! > 0);
    // The SDK's own: pollers of both queues and task latencies.
    assert.ok(sample(text, 'temporal_num_pollers', { task_queue: h.taskQueue }) !== undefined, text);
    assert.ok(sample(text, 'temporal_num_pollers', { task_queue: `${h.taskQueue}-pipes` }) !== undefined, text);
    assert.ok(sample(text, 'temporal_activity_execution_latency_count', { activity_type: 'exportImport' })! >= 1);
  });

  test('after a failed copy, the endpoint counts the failure under its type', async () => {
    const result = await copy({ schema: 'public', table: 'missing_table' });
    assert.ok(result instanceof Error);
    const labels = { source: 'source', target: 'target', type: 'SourceTableNotFound' };
    const text = await waitFor('the failure in the metrics', async () => {
      const body = await scrape();
      return sample(body, 'pgferry_copy_failures_total', labels) !== undefined ? body : undefined;
    });
    assert.equal(sample(text, 'pgferry_copy_failures_total', labels), 1);
    assert.equal(sample(text, 'pgferry_copies_total', { source: 'source', target: 'target', status: 'failed' }), 1);
  });

  test('a copy a schedule started counts its failure under the schedule id, which the alert rule selects', async () => {
    const scheduleId = 'metrics-nightly';
    await createCopySchedule(h.client, {
      scheduleId,
      input: {
        source: 'source',
        target: 'target',
        table: { schema: 'public', table: 'scheduled_missing' },
        mode: 'replace',
      },
      taskQueue: h.taskQueue,
      timing: { everyMs: 3_600_000 },
      paused: true,
    });
    await triggerCopySchedule(h.client, scheduleId);
    const labels = { schedule: scheduleId, source: 'source', target: 'target', type: 'SourceTableNotFound' };
    const text = await waitFor('the scheduled failure in the metrics', async () => {
      const body = await scrape();
      return sample(body, 'pgferry_copy_failures_total', labels) !== undefined ? body : undefined;
    });
    assert.equal(sample(text, 'pgferry_copy_failures_total', labels), 1);
    await h.client.schedule.getHandle(scheduleId).delete();
  });
});
