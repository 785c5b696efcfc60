/**
 * Issue 16, faults: an incremental window lands exactly once when its export is killed mid-stream
 * and when the worker dies while publish holds its transaction open. The worker runs as a real
 * `pgferry worker` subprocess so the tests can kill it and its psql children.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyOutcome } from '../../src/client/outcome.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query, waitForLockWaiters, withClient } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';
import {
  assertExitedOk,
  createCopyHarness,
  digestOf,
  makePacedView,
  parseJson,
  setPace,
  waitFor,
  waitForRowsImported,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

interface StatusJson {
  attempts: { activity: string; attempt: number; failureType: string }[];
}

describe('incremental copies under faults (issue 16)', { timeout: 600_000 }, () => {
  let h: CopyHarness;
  const workers: RunningCli[] = [];
  const startWorker = () => {
    const worker = h.spawnCli(['worker']);
    workers.push(worker);
    return worker;
  };

  before(async () => {
    h = await createCopyHarness({ name: 'incremental-faults', worker: false });
  });
  after(async () => {
    for (const worker of workers) {
      worker.subprocess.kill('SIGTERM');
      await worker.done;
    }
    await h?.close();
  });

  const copyArgs = (name: string, extra: string[] = []) => [
    ...['copy', '--source', 'source', '--target', 'target', '--table', name],
    ...['--incremental-by', 'id', '--mode', 'append', ...extra, '--wait', '--json'],
  ];

  async function assertNoDuplicates(name: string): Promise<void> {
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS n FROM (SELECT id FROM public.${name} GROUP BY id HAVING count(*) > 1) d`,
    );
    assert.equal(rows[0]!.n, 0, 'a row was copied twice');
  }

  async function publications(name: string): Promise<number> {
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      'SELECT count(*)::int AS n FROM pgferry.publications WHERE target_table = $1',
      [`public.${name}`],
    );
    return rows[0]!.n;
  }

  async function watermark(name: string): Promise<{ watermark: string; publish_key: string } | undefined> {
    const { rows } = await query<{ watermark: string; publish_key: string }>(
      h.targetUrl,
      'SELECT watermark, publish_key FROM pgferry.watermarks WHERE target_table = $1',
      [`public.${name}`],
    );
    return rows[0];
  }

  test('an export killed mid-window is retried: the window lands once and the watermark advances once', async () => {
    const view: TableRef = { schema: 'public', table: 'inc_paced' };
    await makePacedView(h.sourceUrl, view, 200_000);
    const worker = startWorker();
    await setPace(h.sourceUrl, 20);
    let copying: RunningCli;
    try {
      copying = h.spawnCli(copyArgs('inc_paced', ['--since', '100000']));
      const exportPid = await waitFor(
        'the export psql',
        () =>
          childProcesses(worker.subprocess.pid).find(
            (child) => child.comm === 'psql' && child.appName?.endsWith('/export'),
          )?.pid,
      );
      await waitForRowsImported(h.targetUrl);
      process.kill(exportPid, 'SIGKILL');
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    const result = await copying.done;
    assertExitedOk(result);
    const outcome = parseJson<CopyOutcome>(result);
    assert.deepEqual(outcome.window, { column: 'id', low: '100000', high: '200000', rows: 100_000 });
    assert.equal(outcome.rows, 100_000);

    const status = parseJson<StatusJson>(await h.cli(['status', outcome.workflowId, '--json']));
    assert.deepEqual(
      status.attempts.map(({ activity, failureType }) => ({ activity, failureType })),
      [{ activity: 'exportImport', failureType: 'ExportKilled' }],
    );
    const window = 'SELECT * FROM public.inc_paced_rows WHERE id > 100000';
    assert.deepEqual(
      await digestOf(h.targetUrl, 'SELECT * FROM public.inc_paced'),
      await digestOf(h.sourceUrl, window),
    );
    await assertNoDuplicates('inc_paced');
    assert.equal(await publications('inc_paced'), 1);
    assert.equal((await watermark('inc_paced'))?.watermark, '200000');
  });

  test('a worker killed while publish waits: the retried publish lands the window once and advances the watermark once', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_pub (id bigint PRIMARY KEY, note text);
       INSERT INTO public.inc_pub SELECT i, 'p' || i FROM generate_series(1, 1000) i;`,
    );
    if (workers.length === 0) startWorker();
    const first = await h.cli(copyArgs('inc_pub'));
    assertExitedOk(first);
    await query(h.sourceUrl, `INSERT INTO public.inc_pub SELECT i, 'p' || i FROM generate_series(1001, 2000) i`);

    let copying: RunningCli | undefined;
    await withClient(h.targetUrl, async (blocker) => {
      // Publish's lock on the target waits behind this one: the run is inside publish's transaction.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE public.inc_pub IN ACCESS EXCLUSIVE MODE');
      copying = h.spawnCli(copyArgs('inc_pub', ['--copy-timeout', '20s']));
      await waitForLockWaiters(h.targetUrl, { schema: 'public', table: 'inc_pub' }, 1);
      for (const worker of workers.splice(0)) {
        worker.subprocess.kill('SIGKILL');
        await worker.done;
      }
      await blocker.query('COMMIT');
    });
    assert.equal((await watermark('inc_pub'))?.watermark, '1000', 'the killed publish moved nothing');
    startWorker();
    const result = await copying!.done;
    assertExitedOk(result);
    const outcome = parseJson<CopyOutcome>(result);
    assert.deepEqual(outcome.window, { column: 'id', low: '1000', high: '2000', rows: 1000 });
    const status = parseJson<StatusJson>(await h.cli(['status', outcome.workflowId, '--json']));
    const publishAttempts = status.attempts.filter((attempt) => attempt.activity === 'publish');
    assert.equal(publishAttempts.length, 1, JSON.stringify(status.attempts));
    assert.match(publishAttempts[0]!.failureType, /Timeout$/);

    assert.deepEqual(
      await digestOf(h.targetUrl, 'SELECT * FROM public.inc_pub'),
      await digestOf(h.sourceUrl, 'SELECT * FROM public.inc_pub'),
    );
    await assertNoDuplicates('inc_pub');
    assert.equal(await publications('inc_pub'), 2);
    const stored = await watermark('inc_pub');
    assert.equal(stored?.watermark, '2000');
    assert.equal(stored?.publish_key, `${outcome.workflowId}/${outcome.runId}`);
  });
});
