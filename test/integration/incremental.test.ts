/**
 * Issue 16: incremental copies by a cursor column, driven through the real `pgferry` CLI, a real
 * Temporal dev server, real source and target clusters and real psql. Each window (low, high]
 * lands exactly once: cursor values are compared in SQL in the column's own type, so
 * microseconds and numeric digits beyond 2^53 survive, and the watermark advances only with a
 * publish. Contents are compared by a digest of every row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyOutcome } from '../../src/client/outcome.js';
import { query, withClient } from '../support/pg.js';
import {
  assertExitedOk,
  createCopyHarness,
  digestOf,
  parseJson,
  stagingTables,
  type CopyHarness,
} from '../support/copy-harness.js';

describe('incremental copies (issue 16)', { timeout: 600_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'incremental' });
  });
  after(async () => {
    await h?.close();
  });

  async function copy(name: string, column: string, extra: string[] = []): Promise<CopyOutcome> {
    const result = await h.cli([
      'copy',
      '--source',
      'source',
      '--target',
      'target',
      '--table',
      name,
      '--incremental-by',
      column,
      '--mode',
      'append',
      ...extra,
      '--wait',
      '--json',
    ]);
    assertExitedOk(result, 'copy');
    return parseJson<CopyOutcome>(result);
  }

  async function watermark(name: string, column: string): Promise<string | undefined> {
    const { rows } = await query<{ watermark: string }>(
      h.targetUrl,
      `SELECT watermark FROM pgferry.watermarks WHERE target_table = $1 AND cursor_column = $2`,
      [`public.${name}`, column],
    );
    return rows[0]?.watermark;
  }

  /** Source and target hold the same rows, and the target no row twice. */
  async function assertSameRows(name: string): Promise<void> {
    const sql = `SELECT * FROM public.${name}`;
    assert.deepEqual(await digestOf(h.targetUrl, sql), await digestOf(h.sourceUrl, sql));
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS n FROM (SELECT id FROM public.${name} GROUP BY id HAVING count(*) > 1) d`,
    );
    assert.equal(rows[0]!.n, 0, 'a row was copied twice');
  }

  test('a timestamptz cursor with microseconds: the second run copies only the rows after the first window', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_micro (id int PRIMARY KEY, ts timestamptz NOT NULL, note text);
       INSERT INTO public.inc_micro
         SELECT i, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 microsecond', 'n' || i
           FROM generate_series(1, 999) i;`,
    );
    const first = await copy('inc_micro', 'ts');
    assert.equal(first.rows, 999);
    // No index leads with ts: the result says so, as status and copy --wait do below.
    assert.deepEqual(first.window, {
      column: 'ts',
      low: null,
      high: '2026-01-01 00:00:00.000999+00',
      rows: 999,
      cursorIndexed: false,
    });
    assert.equal(await watermark('inc_micro', 'ts'), '2026-01-01 00:00:00.000999+00');
    // One microsecond above the watermark, and more: a cursor rounded to milliseconds would lose them.
    await query(
      h.sourceUrl,
      `INSERT INTO public.inc_micro
         SELECT i, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 microsecond', 'n' || i
           FROM generate_series(1000, 1500) i`,
    );
    const second = await copy('inc_micro', 'ts');
    assert.equal(second.rows, 501);
    assert.equal(second.window?.low, '2026-01-01 00:00:00.000999+00');
    assert.equal(second.window?.high, '2026-01-01 00:00:00.0015+00');
    const status = await h.cli(['status', second.workflowId, '--json']);
    assert.deepEqual(parseJson<{ window?: unknown }>(status).window, second.window);
    const text = await h.cli(['status', second.workflowId]);
    assert.match(
      text.stdout,
      /window ts in \(2026-01-01 00:00:00\.000999\+00, 2026-01-01 00:00:00\.0015\+00\]: 501 rows\n {2}warning: no index on the source leads with ts, so every run scans the whole table; index ts$/,
    );
    await assertSameRows('inc_micro');

    const waitArgs = ['copy', '--source', 'source', '--target', 'target', '--table', 'inc_micro'];
    const unindexed = await h.cli([...waitArgs, '--incremental-by', 'ts', '--mode', 'append', '--wait']);
    assertExitedOk(unindexed);
    assert.match(
      unindexed.stderr,
      /COMPLETED: 0 rows, .*, window ts in \(.*\] \(warning: no index on the source leads with ts,/,
    );
    // A btree index led by the column is what the window's reads need: the warning goes.
    await query(h.sourceUrl, 'CREATE INDEX inc_micro_ts ON public.inc_micro (ts, id)');
    const indexed = await h.cli([...waitArgs, '--incremental-by', 'ts', '--mode', 'append', '--wait']);
    assertExitedOk(indexed);
    assert.match(indexed.stderr, /COMPLETED: 0 rows, .*, window ts in \(2026-01-01 00:00:00\.0015\+00, [^\]]*\]$/m);
    assert.doesNotMatch(indexed.stderr, /warning/);
  });

  test('rows whose cursor is NULL are named as rows no run copies, in copy --wait, the result and status', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_nulls (id int PRIMARY KEY, updated_at timestamptz);
       CREATE INDEX ON public.inc_nulls (updated_at);
       INSERT INTO public.inc_nulls
         SELECT i, CASE WHEN i > 3 THEN '2026-02-01 00:00:00+00'::timestamptz + i * interval '1 second' END
           FROM generate_series(1, 10) i;`,
    );
    const waitArgs = ['copy', '--source', 'source', '--target', 'target', '--table', 'inc_nulls'];
    const incremental = ['--incremental-by', 'updated_at', '--mode', 'append', '--wait'];
    const first = await h.cli([...waitArgs, ...incremental]);
    assertExitedOk(first);
    assert.match(
      first.stderr,
      /COMPLETED: 7 rows, .*, window updated_at in \(start, 2026-02-01 00:00:10\+00\] \(warning: 3 rows of the source have a NULL updated_at, and no incremental run copies them\)$/m,
    );
    const workflowId = 'pgferry:target:public.inc_nulls';
    const status = parseJson<{ window?: unknown }>(await h.cli(['status', workflowId, '--json']));
    assert.deepEqual(status.window, {
      column: 'updated_at',
      low: null,
      high: '2026-02-01 00:00:10+00',
      rows: 7,
      nullCursorRows: 3,
    });
    const text = await h.cli(['status', workflowId]);
    assert.match(
      text.stdout,
      /window updated_at in \(start, 2026-02-01 00:00:10\+00\]: 7 rows\n {2}warning: 3 rows of the source have a NULL updated_at, and no incremental run copies them$/m,
    );
    // Once the rows have a cursor the next run copies them, and the warning goes.
    await query(
      h.sourceUrl,
      `UPDATE public.inc_nulls SET updated_at = '2026-02-02 00:00:00+00' WHERE updated_at IS NULL`,
    );
    const second = await h.cli([...waitArgs, ...incremental]);
    assertExitedOk(second);
    assert.match(
      second.stderr,
      /COMPLETED: 3 rows, .*, window updated_at in \(2026-02-01 00:00:10\+00, 2026-02-02 00:00:00\+00\]$/m,
    );
    assert.doesNotMatch(second.stderr, /warning/);
    await assertSameRows('inc_nulls');
  });

  test('a watermark ahead of the source clock is named on every run until it is moved back', async () => {
    // A row from the future (bad data, a test row) becomes the high mark; rows written now sort below it.
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_future (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
       CREATE INDEX ON public.inc_future (updated_at);
       INSERT INTO public.inc_future VALUES (1, now() - interval '1 hour'), (2, '2099-01-01 00:00:00+00');`,
    );
    const runArgs = ['copy', '--source', 'source', '--target', 'target', '--table', 'inc_future'];
    const incremental = ['--incremental-by', 'updated_at', '--mode', 'upsert', '--wait'];
    const first = await h.cli([...runArgs, ...incremental]);
    assertExitedOk(first);
    assert.match(first.stderr, /COMPLETED: 2 rows, .*, window updated_at in \(start, 2099-01-01 00:00:00\+00\]$/m);
    await query(h.sourceUrl, `INSERT INTO public.inc_future VALUES (3, now())`);
    const stuck = await h.cli([...runArgs, ...incremental]);
    assertExitedOk(stuck);
    assert.match(
      stuck.stderr,
      /COMPLETED: 0 rows, .*, window updated_at in \(2099-01-01 00:00:00\+00, 2099-01-01 00:00:00\+00\] \(warning: the watermark is more than 1 day ahead of the source's clock, so rows changed from now on sort below it and no run copies them; fix the row with that updated_at, then move the watermark back with pgferry watermark set\)$/m,
    );
    const status = parseJson<{ window?: { watermarkAhead?: boolean } }>(
      await h.cli(['status', 'pgferry:target:public.inc_future', '--json']),
    );
    assert.equal(status.window?.watermarkAhead, true);
    // Mended as the warning says: the row, then the watermark. The next run copies what was stuck.
    await query(h.sourceUrl, `UPDATE public.inc_future SET updated_at = now() - interval '30 minutes' WHERE id = 2`);
    // The text carries its offset, so the server's time zone does not matter.
    const { rows } = await query<{ at: string }>(
      h.sourceUrl,
      'SELECT updated_at::text AS at FROM public.inc_future WHERE id = 1',
    );
    assertExitedOk(await h.cli(['watermark', 'set', '--target', 'target', '--table', 'inc_future', rows[0]!.at]));
    const mended = await h.cli([...runArgs, ...incremental]);
    assertExitedOk(mended);
    assert.match(mended.stderr, /COMPLETED: 2 rows, /);
    assert.doesNotMatch(mended.stderr, /warning/);
    await assertSameRows('inc_future');
  });

  test('a numeric(30,0) cursor beyond 2^53 copies values that differ in the last digit exactly once', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_big (id numeric(30,0) PRIMARY KEY, note text);
       INSERT INTO public.inc_big SELECT 9007199254740992 + i, 'a' || i FROM generate_series(0, 9) i;`,
    );
    const first = await copy('inc_big', 'id');
    assert.equal(first.rows, 10);
    assert.equal(first.window?.high, '9007199254741001');
    // 2^53 + 10 and + 11 are one apart; as JavaScript numbers they would compare equal to + 10.
    await query(h.sourceUrl, `INSERT INTO public.inc_big VALUES (9007199254741002, 'b'), (9007199254741003, 'c')`);
    // verify=checksum digests the same window on the source, in the export's snapshot.
    const second = await copy('inc_big', 'id', ['--verify', 'checksum']);
    assert.equal(second.rows, 2);
    assert.deepEqual(second.window, { column: 'id', low: '9007199254741001', high: '9007199254741003', rows: 2 });
    await assertSameRows('inc_big');
  });

  test('a timestamp cursor with many equal values: every row once, none skipped', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_equal (id int PRIMARY KEY, ts timestamp NOT NULL);
       INSERT INTO public.inc_equal SELECT i, '2026-02-01 10:00:00'::timestamp + (i / 1000) * interval '1 second'
         FROM generate_series(1, 3000) i;`,
    );
    const first = await copy('inc_equal', 'ts');
    assert.equal(first.rows, 3000);
    assert.equal(first.window?.high, '2026-02-01 10:00:03');
    await query(
      h.sourceUrl,
      `INSERT INTO public.inc_equal SELECT i, '2026-02-01 10:00:04' FROM generate_series(3001, 5000) i`,
    );
    const second = await copy('inc_equal', 'ts');
    assert.equal(second.rows, 2000);
    await assertSameRows('inc_equal');
  });

  test('an empty window is a success that changes neither the target nor the watermark', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_empty (id bigint PRIMARY KEY, note text);
       INSERT INTO public.inc_empty SELECT i, 'x' FROM generate_series(1, 100) i;`,
    );
    await copy('inc_empty', 'id');
    const before = await digestOf(h.targetUrl, 'SELECT * FROM public.inc_empty');
    const spoken = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'inc_empty'],
      ...['--incremental-by', 'id', '--mode', 'append', '--wait'],
    ]);
    assertExitedOk(spoken);
    assert.match(spoken.stderr, /COMPLETED: 0 rows, .*, window id in \(100, 100\]/);
    const again = await copy('inc_empty', 'id');
    assert.equal(again.status, 'COMPLETED');
    assert.equal(again.rows, 0);
    assert.deepEqual(again.window, { column: 'id', low: '100', high: null, rows: 0 });
    assert.equal(await watermark('inc_empty', 'id'), '100');
    assert.deepEqual(await digestOf(h.targetUrl, 'SELECT * FROM public.inc_empty'), before);
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });

  test('a row committed late below the watermark is missed without --lookback and copied by a run with it', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_late (id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text);
       INSERT INTO public.inc_late
         SELECT i, '2026-03-01 12:00:00+00'::timestamptz + i * interval '1 second', 'v' || i FROM generate_series(1, 10) i;`,
    );
    const upsert = ['--mode', 'upsert'];
    // A writer's transaction takes its cursor value early and commits after the run read its window.
    await withClient(h.sourceUrl, async (writer) => {
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO public.inc_late VALUES (100, '2026-03-01 12:00:05+00', 'late')`);
      const first = await copy('inc_late', 'updated_at', upsert);
      assert.equal(first.rows, 10);
      assert.equal(first.window?.high, '2026-03-01 12:00:10+00');
      await writer.query('COMMIT');
    });
    await query(h.sourceUrl, `INSERT INTO public.inc_late VALUES (11, '2026-03-01 12:00:11+00', 'v11')`);
    const without = await copy('inc_late', 'updated_at', upsert);
    assert.equal(without.rows, 1);
    const missing = await query(h.targetUrl, 'SELECT 1 FROM public.inc_late WHERE id = 100');
    assert.equal(missing.rowCount, 0, 'without --lookback the late row stays behind');

    await query(h.sourceUrl, `INSERT INTO public.inc_late VALUES (12, '2026-03-01 12:00:12+00', 'v12')`);
    const withLookback = await copy('inc_late', 'updated_at', [...upsert, '--lookback', '1m']);
    assert.equal(withLookback.window?.low, '2026-03-01 11:59:11+00');
    assert.equal(withLookback.window?.high, '2026-03-01 12:00:12+00');
    assert.equal(withLookback.rows, 13);
    assert.equal(await watermark('inc_late', 'updated_at'), '2026-03-01 12:00:12+00');
    await assertSameRows('inc_late');
  });

  test('a --lookback reaching below the range of a smallint cursor re-reads from the start instead of failing', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_small (id int PRIMARY KEY, seq smallint NOT NULL, v text);
       INSERT INTO public.inc_small SELECT i, -32769 + i, 'v' || i FROM generate_series(1, 10) i;`,
    );
    const upsert = ['--mode', 'upsert'];
    const first = await copy('inc_small', 'seq', upsert);
    assert.equal(first.rows, 10);
    assert.equal(await watermark('inc_small', 'seq'), '-32759');
    await query(h.sourceUrl, `INSERT INTO public.inc_small VALUES (11, -32758, 'v11')`);
    // -32759 - 100 is below smallint's -32768: the window has no low end, so every row is re-read.
    const again = await copy('inc_small', 'seq', [...upsert, '--lookback', '100']);
    assert.equal(again.status, 'COMPLETED');
    assert.equal(again.window?.low, null);
    assert.equal(again.window?.high, '-32758');
    assert.equal(again.rows, 11);
    assert.equal(await watermark('inc_small', 'seq'), '-32758');
    await assertSameRows('inc_small');
  });

  test('--lookback with append is refused: it would insert re-read rows twice', async () => {
    const result = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'inc_late'],
      ...['--incremental-by', 'updated_at', '--mode', 'append', '--lookback', '5m'],
    ]);
    assert.equal(result.exitCode, 2, result.stderr);
    assert.match(result.stderr, /--lookback re-reads rows already copied: use it with --mode upsert/);
  });

  test('pgferry watermark show, set and reset read and move the watermark the next run starts from', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_manual (id bigint PRIMARY KEY, note text);
       INSERT INTO public.inc_manual SELECT i, 'm' || i FROM generate_series(1, 50) i;`,
    );
    await copy('inc_manual', 'id');
    const args = ['--target', 'target', '--table', 'inc_manual'];
    const shown = parseJson<{ watermark: string; sourceProfile: string; column: string; type: string }[]>(
      await h.cli(['watermark', 'show', ...args, '--json']),
    );
    assert.deepEqual(
      shown.map(({ watermark, sourceProfile, column, type }) => ({ watermark, sourceProfile, column, type })),
      [{ watermark: '50', sourceProfile: 'source', column: 'id', type: 'bigint' }],
    );
    const bad = await h.cli(['watermark', 'set', ...args, 'forty']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /"forty" is not a bigint value/);
    const set = await h.cli(['watermark', 'set', ...args, '40']);
    assertExitedOk(set);
    await query(h.targetUrl, 'DELETE FROM public.inc_manual WHERE id > 40');
    const again = await copy('inc_manual', 'id');
    assert.deepEqual(again.window, { column: 'id', low: '40', high: '50', rows: 10 });
    await assertSameRows('inc_manual');

    const reset = await h.cli(['watermark', 'reset', ...args]);
    assertExitedOk(reset);
    assert.equal(await watermark('inc_manual', 'id'), undefined);
    await query(h.targetUrl, 'TRUNCATE public.inc_manual');
    const all = await copy('inc_manual', 'id');
    assert.equal(all.window?.low, null);
    assert.equal(all.rows, 50);
  });

  test('a batch copies each table by its own watermark and names each window, also in the run details', async () => {
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_batch_a (id int PRIMARY KEY); INSERT INTO public.inc_batch_a SELECT generate_series(1, 30);
       CREATE TABLE public.inc_batch_b (id int PRIMARY KEY); INSERT INTO public.inc_batch_b SELECT generate_series(1, 70);`,
    );
    const batch = async () => {
      const result = await h.cli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'inc_batch_a', '--table', 'inc_batch_b'],
        ...['--incremental-by', 'id', '--mode', 'append', '--wait', '--json'],
      ]);
      assertExitedOk(result);
      return parseJson<{ results: { workflowId: string; window?: unknown }[] }>(result).results;
    };
    const first = await batch();
    assert.deepEqual(
      first.map((item) => item.window),
      [
        { column: 'id', low: null, high: '30', rows: 30 },
        { column: 'id', low: null, high: '70', rows: 70 },
      ],
    );
    await query(h.sourceUrl, 'INSERT INTO public.inc_batch_b SELECT generate_series(71, 75)');
    const second = await batch();
    assert.deepEqual(
      second.map((item) => item.window),
      [
        { column: 'id', low: '30', high: null, rows: 0 },
        { column: 'id', low: '70', high: '75', rows: 5 },
      ],
    );
    await assertSameRows('inc_batch_b');
    // The run's details, as the Temporal UI shows them.
    const metadata = await h.client.workflow
      .getHandle(second[1]!.workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', /5 rows.*window id in \(70, 75\]/s);
  });

  test('replace mode with --incremental-by is refused before anything starts', async () => {
    const result = await h.cli([
      'copy',
      '--source',
      'source',
      '--target',
      'target',
      '--table',
      'inc_empty',
      '--incremental-by',
      'id',
      '--wait',
    ]);
    assert.equal(result.exitCode, 2, result.stderr);
    assert.match(result.stderr, /--incremental-by works with --mode append or --mode upsert/);
  });

  test('a time --lookback on a number cursor fails the first run too, before anything is copied', async () => {
    // With no watermark yet the lookback is not used, but the spec is still wrong: a schedule made
    // with it must fail at once, not after a first run that looked fine.
    await query(
      h.sourceUrl,
      `CREATE TABLE public.inc_lookback_type (id bigint PRIMARY KEY, v text);
       INSERT INTO public.inc_lookback_type SELECT i, 'v' || i FROM generate_series(1, 3) i;`,
    );
    const result = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'inc_lookback_type'],
      ...['--incremental-by', 'id', '--mode', 'upsert', '--lookback', '10m', '--wait', '--json'],
    ]);
    assert.equal(result.exitCode, 1, result.stderr);
    const outcome = parseJson<CopyOutcome>(result);
    assert.equal(outcome.failure?.type, 'InvalidCopySpec');
    assert.match(outcome.failure?.message ?? '', /--lookback: the cursor is a bigint: give a whole number/);
    const { rows } = await query<{ found: boolean }>(
      h.targetUrl,
      "SELECT to_regclass('public.inc_lookback_type') IS NOT NULL AS found",
    );
    assert.equal(rows[0]!.found, false);
    assert.equal(await watermark('inc_lookback_type', 'id'), undefined);
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });

  test('a cursor column of an unorderable type fails as InvalidCopySpec and creates nothing', async () => {
    await query(h.sourceUrl, `CREATE TABLE public.inc_text (id int PRIMARY KEY, code text)`);
    const result = await h.cli([
      'copy',
      '--source',
      'source',
      '--target',
      'target',
      '--table',
      'inc_text',
      '--incremental-by',
      'code',
      '--mode',
      'append',
      '--wait',
      '--json',
    ]);
    assert.equal(result.exitCode, 1);
    const outcome = parseJson<CopyOutcome>(result);
    assert.equal(outcome.failure?.type, 'InvalidCopySpec');
    assert.match(outcome.failure?.message ?? '', /"code" is text, not an orderable cursor type/);
    const { rows } = await query<{ found: boolean }>(
      h.targetUrl,
      "SELECT to_regclass('public.inc_text') IS NOT NULL AS found",
    );
    assert.equal(rows[0]!.found, false);
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });
});
