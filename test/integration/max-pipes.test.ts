/**
 * PGFERRY_MAX_PIPES caps the pipes (psql pairs) one worker runs at once: five copies started
 * together on a worker with PGFERRY_MAX_PIPES=2 never have more than two pipes (four psql)
 * running on it, and all five complete with the source rows. Before, a worker took up to 100
 * activities at once, so all five pipes ran together.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCopy } from '../../src/client/start-copy.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { childProcesses } from '../support/processes.js';
import {
  createCopyHarness,
  makePacedView,
  setPace,
  tableDigestOf,
  waitFor,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

const COPIES = 5;
const ROWS = 20_000;

describe('PGFERRY_MAX_PIPES', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  let worker: RunningCli | undefined;
  before(async () => {
    h = await createCopyHarness({ name: 'max-pipes', worker: false });
  });
  after(async () => {
    worker?.subprocess.kill('SIGTERM');
    await worker?.done;
    await h?.close();
  });

  test('five copies at once on a worker with PGFERRY_MAX_PIPES=2 never run more than two pipes there, and all complete', async () => {
    const tables: TableRef[] = Array.from({ length: COPIES }, (_, i) => ({ schema: 'public', table: `capped_${i}` }));
    for (const table of tables) await makePacedView(h.sourceUrl, table, ROWS);
    // Slow enough that five pipes would overlap if the worker took them all.
    await setPace(h.sourceUrl, 10);

    worker = h.spawnCli(['worker'], { PGFERRY_MAX_PIPES: '2' });
    const workerPid = worker.subprocess.pid!;
    const handles = await Promise.all(
      tables.map((table) =>
        startCopy(h.client, { source: 'source', target: 'target', table, mode: 'replace' }, { taskQueue: h.taskQueue }),
      ),
    );

    // Count the worker's psql children (setpriv execs psql: count it too) until every copy closed.
    let settled = 0;
    const results = Promise.all(handles.map((handle) => handle.result().finally(() => settled++)));
    let mostPsql = 0;
    const pipesSeen = new Set<string>();
    await waitFor(
      'all five copies to close',
      async () => {
        const psqls = childProcesses(workerPid).filter((child) => child.comm === 'psql' || child.comm === 'setpriv');
        mostPsql = Math.max(mostPsql, psqls.length);
        for (const child of psqls) if (child.appName) pipesSeen.add(child.appName.split('/').slice(0, 3).join('/'));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return settled === COPIES ? true : undefined;
      },
      240_000,
    );

    const copied = await results;
    assert.deepEqual(
      copied.map((result) => result.rows),
      tables.map(() => ROWS),
    );
    for (const table of tables) {
      assert.deepEqual(await tableDigestOf(h.targetUrl, table), await tableDigestOf(h.sourceUrl, table));
    }
    assert.equal(pipesSeen.size, COPIES, 'every copy ran its pipe on this worker');
    assert.ok(mostPsql <= 4, `at most two pipes (four psql) at once, saw ${mostPsql} psql`);
    assert.equal(mostPsql, 4, 'two pipes did run at the same time');
  });
});
