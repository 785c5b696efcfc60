/**
 * Issue 16: a large incremental window is copied in chunks with the chunk flags
 * (activities/window-chunks.ts): ranges of the cursor's values, all read in the held snapshot, each
 * a supervised pipe with its ledger row; the watermark still advances once, in publish. The worker
 * runs as a real `pgferry worker` subprocess so a chunk's export psql can be killed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyOutcome } from '../../src/client/outcome.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
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

describe('incremental windows in chunks (issue 16)', { timeout: 600_000 }, () => {
  let h: CopyHarness;
  let worker: RunningCli;

  before(async () => {
    h = await createCopyHarness({ name: 'incremental-chunks', worker: false });
    worker = h.spawnCli(['worker']);
  });
  after(async () => {
    worker?.subprocess.kill('SIGTERM');
    await worker?.done;
    await h?.close();
  });

  const copyArgs = (name: string, column: string, extra: string[]) => [
    ...['copy', '--source', 'source', '--target', 'target', '--table', name],
    ...['--incremental-by', column, '--mode', 'append', ...extra, '--wait', '--json'],
  ];

  async function duplicates(name: string): Promise<number> {
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS n FROM (SELECT id FROM public.${name} GROUP BY id HAVING count(*) > 1) d`,
    );
    return rows[0]!.n;
  }

  async function bookkeeping(name: string) {
    const { rows } = await query<{ publications: number; watermark: string | null }>(
      h.targetUrl,
      `SELECT (SELECT count(*)::int FROM pgferry.publications WHERE target_table = $1) AS publications,
              (SELECT watermark FROM pgferry.watermarks WHERE target_table = $1) AS watermark`,
      [`public.${name}`],
    );
    return rows[0]!;
  }

  test('a 300,000-row window runs as three chunks; a killed chunk export is retried and every row lands once', async () => {
    const view: TableRef = { schema: 'public', table: 'inc_chunked' };
    await makePacedView(h.sourceUrl, view, 350_000);
    // Slow enough to plan in seconds (the bounds are read through the view too), then slower
    // once a chunk's export runs, so it is still streaming when it is killed.
    await setPace(h.sourceUrl, 1);
    let copying: RunningCli;
    try {
      copying = h.spawnCli(
        copyArgs('inc_chunked', 'id', ['--since', '50000', '--chunk-rows', '120000', '--jobs', '2']),
      );
      const exportPid = await waitFor(
        'a chunk export psql',
        () =>
          childProcesses(worker.subprocess.pid).find(
            (child) => child.comm === 'psql' && child.appName?.endsWith('/export'),
          )?.pid,
      );
      await setPace(h.sourceUrl, 20);
      await waitForRowsImported(h.targetUrl);
      process.kill(exportPid, 'SIGKILL');
    } finally {
      await setPace(h.sourceUrl, 0);
    }
    const result = await copying.done;
    assertExitedOk(result);
    const outcome = parseJson<CopyOutcome>(result);
    assert.deepEqual(outcome.window, { column: 'id', low: '50000', high: '350000', rows: 300_000 });
    assert.equal(outcome.rows, 300_000);
    assert.equal(outcome.chunks?.total, 3, JSON.stringify(outcome.chunks));
    assert.equal(outcome.chunks?.done, 3);
    assert.ok((outcome.chunks?.attempts ?? 0) > 3, `the killed chunk was retried: ${JSON.stringify(outcome.chunks)}`);

    assert.deepEqual(
      await digestOf(h.targetUrl, 'SELECT * FROM public.inc_chunked'),
      await digestOf(h.sourceUrl, 'SELECT * FROM public.inc_chunked_rows WHERE id > 50000'),
    );
    assert.equal(await duplicates('inc_chunked'), 0, 'a row was copied twice');
    assert.deepEqual(await bookkeeping('inc_chunked'), { publications: 1, watermark: '350000' });
  });

  test('equal cursor values are never split across chunks, and the next window starts above the last', async () => {
    // 1,000 rows share each batch value, so every chunk bound falls inside a run of equal values.
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_batches (id bigint PRIMARY KEY, batch integer NOT NULL, note text);
       INSERT INTO public.inc_batches SELECT i, i / 1000, 'b' || i FROM generate_series(1, 100000) i;
       CREATE INDEX ON public.inc_batches (batch);`,
    );
    const first = await h.cli(copyArgs('inc_batches', 'batch', ['--chunk-rows', '25500']));
    assertExitedOk(first);
    const outcome = parseJson<CopyOutcome>(first);
    assert.deepEqual(outcome.window, { column: 'batch', low: null, high: '100', rows: 100_000 });
    assert.ok((outcome.chunks?.total ?? 0) >= 4, JSON.stringify(outcome.chunks));
    assert.deepEqual(
      await digestOf(h.targetUrl, 'SELECT * FROM public.inc_batches'),
      await digestOf(h.sourceUrl, 'SELECT * FROM public.inc_batches'),
    );
    assert.equal(await duplicates('inc_batches'), 0, 'a row was copied twice');
    assert.deepEqual(await bookkeeping('inc_batches'), { publications: 1, watermark: '100' });

    await query(
      h.sourceUrl,
      `INSERT INTO public.inc_batches SELECT i, 100 + (i - 100000) / 1000, 'b' || i FROM generate_series(100001, 103000) i`,
    );
    const second = await h.cli(copyArgs('inc_batches', 'batch', ['--chunk-rows', '25500']));
    assertExitedOk(second);
    // batch 100's new rows (100001..100999) were not above the watermark 100: an append cursor must
    // only grow, as the README says; rows with batch 101..103 are the new window.
    const next = parseJson<CopyOutcome>(second);
    assert.deepEqual(next.window, { column: 'batch', low: '100', high: '103', rows: 2_001 });
    assert.equal(await duplicates('inc_batches'), 0, 'a row was copied twice');
    assert.deepEqual(await bookkeeping('inc_batches'), { publications: 2, watermark: '103' });
  });

  test('--consistency chunk with --incremental-by is refused before anything starts', async () => {
    const refused = await h.cli(copyArgs('inc_batches', 'batch', ['--consistency', 'chunk']));
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /--consistency chunk cannot copy an incremental window exactly once/);
  });
});
