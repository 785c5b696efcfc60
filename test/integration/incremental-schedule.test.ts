/**
 * Issue 16: a schedule every 10 s with `--incremental-by updated_at --mode upsert` while a writer
 * inserts and updates rows on the source. After the writer stops and two more runs finish, the
 * target equals the source row for row, and every run copied exactly the rows whose latest change
 * fell in its window (low, high], read from a log the source keeps of every change: no run
 * re-copies the table. One writer on one connection, so no change commits after a later one
 * (late commits are the --lookback test's subject).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { CopyTableResult } from '../../src/shared/copy-spec.js';
import type { CopyScheduleInfo } from '../../src/client/schedules.js';
import { query, withClient } from '../support/pg.js';
import {
  assertExitedOk,
  createCopyHarness,
  digestOf,
  parseJson,
  waitFor,
  type CopyHarness,
} from '../support/copy-harness.js';

const SCHEDULE = 'inc-every-10s';

describe('an incremental schedule while the source changes (issue 16)', { timeout: 600_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'incremental-schedule' });
  });
  after(async () => {
    await h?.cli(['schedule', 'delete', SCHEDULE]).catch(() => undefined);
    await h?.close();
  });

  const describeSchedule = async () =>
    parseJson<CopyScheduleInfo & { watermark?: { column: string; watermark?: string | null } }>(
      await h.cli(['schedule', 'describe', SCHEDULE, '--json']),
    );

  test('after the writer stops and two more runs, the target equals the source and each run copied its window only', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_live (id int PRIMARY KEY, v int NOT NULL,
                                     updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
       CREATE TABLE public.inc_live_log (id int NOT NULL, updated_at timestamptz NOT NULL);
       CREATE FUNCTION public.inc_live_touch() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
       CREATE FUNCTION public.inc_live_record() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.inc_live_log VALUES (NEW.id, NEW.updated_at); RETURN NULL; END $$;
       CREATE TRIGGER touch BEFORE UPDATE ON public.inc_live FOR EACH ROW EXECUTE FUNCTION public.inc_live_touch();
       CREATE TRIGGER record AFTER INSERT OR UPDATE ON public.inc_live
         FOR EACH ROW EXECUTE FUNCTION public.inc_live_record();
       INSERT INTO public.inc_live (id, v) SELECT i, 0 FROM generate_series(1, 2000) i;`,
    );
    const created = await h.cli([
      ...['schedule', 'create', SCHEDULE, '--every', '10s'],
      ...['--source', 'source', '--target', 'target', '--table', 'inc_live'],
      ...['--incremental-by', 'updated_at', '--mode', 'upsert'],
    ]);
    assertExitedOk(created);

    // The writer: one connection, an insert and an update of an older row every 50 ms, for two runs.
    let nextId = 2001;
    await withClient(h.sourceUrl, async (writer) => {
      const until = Date.now() + 25_000;
      while (Date.now() < until) {
        await writer.query('INSERT INTO public.inc_live (id, v) VALUES ($1, 0)', [nextId]);
        await writer.query('UPDATE public.inc_live SET v = v + 1 WHERE id = $1', [
          1 + ((nextId * 7919) % (nextId - 1)),
        ]);
        nextId++;
        await sleep(50);
      }
    });
    const stopped = Date.now();
    const runs = await waitFor(
      'two runs started after the writer stopped',
      async () => {
        const info = await describeSchedule();
        const done = info.recentRuns.filter((run) => run.status === 'COMPLETED');
        return done.filter((run) => Date.parse(run.takenAt) > stopped).length >= 2 ? done : undefined;
      },
      120_000,
    );

    const source = await digestOf(h.sourceUrl, 'SELECT * FROM public.inc_live');
    assert.equal(source.rows, nextId - 1);
    assert.deepEqual(await digestOf(h.targetUrl, 'SELECT * FROM public.inc_live'), source);

    const results = await Promise.all(
      runs.map(
        async (run) => (await h.client.workflow.getHandle(run.workflowId, run.runId).result()) as CopyTableResult,
      ),
    );
    let copiedWhileWriting = 0;
    for (const result of results) {
      const window = result.window!;
      // Rows whose latest change as of the run's high mark lies in (low, high].
      const { rows } = await query<{ n: number }>(
        h.sourceUrl,
        `SELECT count(*)::int AS n FROM (
           SELECT id, max(updated_at) AS latest FROM public.inc_live_log
            WHERE updated_at <= coalesce($2::timestamptz, 'infinity') GROUP BY id) changed
          WHERE $2::timestamptz IS NOT NULL AND ($1::timestamptz IS NULL OR latest > $1::timestamptz)`,
        [window.low, window.high],
      );
      assert.equal(result.rows, rows[0]!.n, `run over ${JSON.stringify(window)}`);
      assert.equal(window.rows, result.rows);
      if (window.low !== null) {
        assert.ok(result.rows < 2000, `a run after the first copied ${result.rows} rows: the whole table again`);
        copiedWhileWriting += result.rows;
      }
    }
    assert.ok(copiedWhileWriting > 0, 'some run after the first copied the writer’s changes');
    // The windows follow each other: each run starts where the one before ended.
    const ordered = results.filter((result) => result.window?.high).map((result) => result.window!);
    for (let i = 1; i < ordered.length; i++) assert.equal(ordered[i]!.low, ordered[i - 1]!.high);

    const info = await describeSchedule();
    const { rows: max } = await query<{ high: string }>(
      h.sourceUrl,
      'SELECT max(updated_at)::text AS high FROM public.inc_live',
    );
    assert.deepEqual(info.watermark, { column: 'updated_at', watermark: max[0]!.high });
  });

  test('schedule update refuses replace for an incremental schedule and leaves it as it was', async () => {
    const refused = await h.cli(['schedule', 'update', SCHEDULE, '--mode', 'replace']);
    assert.equal(refused.exitCode, 2, refused.stderr);
    assert.match(refused.stderr, /--incremental-by works with --mode append or --mode upsert/);
    assert.match((await describeSchedule()).summary ?? '', /\(upsert\)$/);
  });
});
