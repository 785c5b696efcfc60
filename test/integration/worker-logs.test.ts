/**
 * Issue 15: PGFERRY_LOG_FORMAT=json makes every line the worker writes one JSON object, and the
 * SDK's lines about a copy carry its workflow id, run id, activity and attempt;
 * PGFERRY_LOG_LEVEL chooses how much is written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

const TABLE: TableRef = { schema: 'public', table: 'logged_orders' };

/** Starts `pgferry worker` and resolves once it polls; its stderr keeps accumulating in `stderr()`. */
async function startWorker(h: CopyHarness): Promise<{ worker: RunningCli; stderr: () => string }> {
  const worker = h.spawnCli(['worker']);
  let stderr = '';
  worker.subprocess.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    worker.subprocess.stderr?.on('data', () => {
      if (stderr.includes('worker on')) resolve();
    });
    void worker.done.then((result) => reject(new Error(`worker exited: ${result.stderr}`)));
  });
  return { worker, stderr: () => stderr };
}

describe('worker logs (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'worker-logs', worker: false });
    await makeTable(h.sourceUrl, TABLE, { to: 1_000 });
  });
  after(async () => {
    await h?.close();
  });

  test('PGFERRY_LOG_FORMAT=json writes only JSON lines, and the activity lines carry workflow id, run id, activity and attempt', async () => {
    Object.assign(h.cliEnv, { PGFERRY_LOG_FORMAT: 'json', PGFERRY_LOG_LEVEL: 'debug' });
    const { worker, stderr } = await startWorker(h);
    try {
      const copy = await h.cli(
        ['copy', '--source', 'source', '--target', 'target', '--table', 'public.logged_orders'].concat([
          '--wait',
          '--json',
        ]),
      );
      assertExitedOk(copy);
      const { runId } = parseJson<{ runId: string }>(copy);
      worker.subprocess.kill('SIGTERM');
      assert.equal((await worker.done).exitCode, 0);

      const lines = stderr()
        .split('\n')
        .filter((line) => line.trim() !== '');
      const records = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON line: ${line}`);
        }
      });
      for (const record of records) {
        assert.equal(typeof record.time, 'string');
        assert.equal(typeof record.level, 'string');
        assert.equal(typeof record.message, 'string');
      }
      assert.ok(
        records.some((record) => String(record.message).startsWith('worker on')),
        'the ready line is JSON too',
      );
      const exportImport = records.find((record) => record.activityType === 'exportImport');
      assert.ok(exportImport, `no exportImport line among:\n${lines.join('\n')}`);
      assert.equal(exportImport.workflowId, workflowIdForTarget('target', TABLE));
      assert.equal(exportImport.workflowRunId, runId);
      assert.equal(exportImport.attempt, 1);
      const workflowLine = records.find((record) => record.workflowType === 'copyTable' && record.runId === runId);
      assert.ok(workflowLine, 'a workflow line carries the run id');
    } finally {
      worker.subprocess.kill('SIGTERM');
      await worker.done;
    }
  });

  test('PGFERRY_LOG_LEVEL=warn leaves out the info and debug lines of a copy', async () => {
    Object.assign(h.cliEnv, { PGFERRY_LOG_FORMAT: 'json', PGFERRY_LOG_LEVEL: 'warn' });
    const worker = h.spawnCli(['worker']);
    let stderr = '';
    worker.subprocess.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const copy = await h.cli(
        ['copy', '--source', 'source', '--target', 'target', '--table', 'public.logged_orders'].concat([
          '--wait',
          '--json',
        ]),
      );
      assertExitedOk(copy);
    } finally {
      worker.subprocess.kill('SIGTERM');
      await worker.done;
    }
    const levels = stderr
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { level: string }).level);
    assert.deepEqual(
      levels.filter((level) => level === 'INFO' || level === 'DEBUG'),
      [],
    );
  });

  test('an unknown PGFERRY_LOG_FORMAT stops the worker with one line naming the variable', async () => {
    Object.assign(h.cliEnv, { PGFERRY_LOG_FORMAT: 'yaml', PGFERRY_LOG_LEVEL: 'info' });
    const result = await h.cli(['worker']);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /^pgferry: PGFERRY_LOG_FORMAT: "yaml" is not json or text$/m);
  });
});
