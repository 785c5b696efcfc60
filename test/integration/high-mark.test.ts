/**
 * readHighMark (activities/read-window.ts), the window's upper bound, against a real cluster: it
 * must read the newest row of the window, not the window, even when the rows above the
 * watermark are newer than the column's statistics (as they are on every scheduled run), and it
 * must order by the cursor's own type whatever the column is called. Both it and the window need
 * an index led by the cursor: readCursorColumn's verdict on that, which every run reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPgClusters, type PgCluster } from '../../src/dev/pg-cluster.js';
import { readHighMark } from '../../activities/read-window.js';
import { readCursorColumn } from '../../src/db/cursor-column.js';
import { query, withClient } from '../support/pg.js';

const TABLE = { schema: 'public', table: 'hm' };

describe('the window high mark on a real cluster', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let url: string;
  before(async () => {
    [cluster] = (await createPgClusters(['source'])) as [PgCluster];
    url = cluster.url();
  });
  after(async () => {
    await cluster?.destroy();
  });

  test('a window newer than the statistics: its newest row is read, not all of it', async () => {
    // A cursor spread over three years, analyzed; then, as on a schedule, rounds of changes move
    // 2% of the rows to now, far above the histogram. The window is the last round's: a few
    // seconds of values over years of statistics, which the planner takes for about one row.
    await query(
      url,
      `CREATE TABLE public.hm (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
       INSERT INTO public.hm SELECT g, timestamptz '2021-01-01 00:00:00+00' + g * interval '8 minutes'
         FROM generate_series(1, 200000) g;
       CREATE INDEX hm_updated_at ON public.hm (updated_at);`,
    );
    await query(url, 'VACUUM ANALYZE public.hm');
    const changeRound = 'UPDATE public.hm SET updated_at = clock_timestamp() WHERE id % 50 = 0';
    await query(url, changeRound);
    const low = (await query<{ low: string }>(url, 'SELECT max(updated_at)::text AS low FROM public.hm')).rows[0]!.low;
    await query(url, changeRound);

    await withClient(url, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const window = { column: 'updated_at', type: 'timestamp with time zone' as const, low };
      const high = await readHighMark(client, TABLE, window);
      // Index entries this transaction has read so far: the high mark's alone.
      const { rows } = await client.query<{ read: number }>(
        "SELECT pg_stat_get_xact_tuples_returned('public.hm_updated_at'::regclass)::int AS read",
      );
      const newest = await client.query<{ high: string }>('SELECT max(updated_at)::text AS high FROM public.hm');
      await client.query('COMMIT');
      assert.equal(high, newest.rows[0]!.high);
      assert.ok(rows[0]!.read <= 10, `the high mark read ${rows[0]!.read} index entries of a 4,000-row window`);
    });
  });

  test('a cursor named high, with NULLs: the greatest value in its own type, or null above it', async () => {
    await query(
      url,
      `CREATE TABLE public.hm_named (id int PRIMARY KEY, high numeric(30,0));
       INSERT INTO public.hm_named VALUES (1, 9), (2, 10), (3, NULL), (4, 90071992547409930), (5, NULL);`,
    );
    const table = { schema: 'public', table: 'hm_named' };
    const read = (low: string | null) =>
      withClient(url, (client) => readHighMark(client, table, { column: 'high', type: 'numeric', low }));
    assert.equal(await read(null), '90071992547409930');
    await query(url, 'DELETE FROM public.hm_named WHERE id = 4');
    // As text, '9' sorts above '10': the order must be the column's, not its output's.
    assert.equal(await read(null), '10');
    assert.equal(await read('9'), '10');
    assert.equal(await read('10'), null);
  });
  test('an index led by the cursor, on the table or on every partition, is what makes a run read only new rows', async () => {
    await query(
      url,
      `CREATE TABLE public.ix_plain (id int PRIMARY KEY, ts timestamptz);
       CREATE INDEX ON public.ix_plain (ts, id);
       CREATE TABLE public.ix_second (id int, ts timestamptz);
       CREATE INDEX ON public.ix_second (id, ts);
       CREATE TABLE public.ix_partial (id int, ts timestamptz);
       CREATE INDEX ON public.ix_partial (ts) WHERE id > 0;
       CREATE TABLE public.ix_hash (id int, ts timestamptz);
       CREATE INDEX ON public.ix_hash USING hash (ts);
       CREATE TABLE public.ix_parted (id int, ts timestamptz) PARTITION BY RANGE (id);
       CREATE TABLE public.ix_parted_1 PARTITION OF public.ix_parted FOR VALUES FROM (0) TO (100);
       CREATE INDEX ON public.ix_parted (ts);
       CREATE TABLE public.ix_each (ts timestamptz, id int) PARTITION BY RANGE (id);
       CREATE TABLE public.ix_each_1 (id int, ts timestamptz);
       ALTER TABLE public.ix_each ATTACH PARTITION public.ix_each_1 FOR VALUES FROM (0) TO (100);
       CREATE TABLE public.ix_each_2 PARTITION OF public.ix_each FOR VALUES FROM (100) TO (200);
       CREATE INDEX ON public.ix_each_1 (ts);
       CREATE INDEX ON public.ix_each_2 (ts);
       CREATE TABLE public.ix_one (id int, ts timestamptz) PARTITION BY RANGE (id);
       CREATE TABLE public.ix_one_1 PARTITION OF public.ix_one FOR VALUES FROM (0) TO (100);
       CREATE TABLE public.ix_one_2 PARTITION OF public.ix_one FOR VALUES FROM (100) TO (200);
       CREATE INDEX ON public.ix_one_1 (ts);
       CREATE VIEW public.ix_view AS SELECT * FROM public.ix_plain;`,
    );
    const verdicts: Record<string, boolean | undefined> = {};
    await withClient(url, async (client) => {
      for (const table of [
        'ix_plain',
        'ix_second',
        'ix_partial',
        'ix_hash',
        'ix_parted',
        'ix_each',
        'ix_one',
        'ix_view',
      ]) {
        verdicts[table] = (await readCursorColumn(client, { schema: 'public', table }, 'ts'))?.indexed;
      }
    });
    assert.deepEqual(verdicts, {
      ix_plain: true,
      // ts second in the index: no range scan on it.
      ix_second: false,
      ix_partial: false,
      ix_hash: false,
      ix_parted: true,
      // Indexed partition by partition, one of them with its columns in another order.
      ix_each: true,
      // One partition without: every run scans that one.
      ix_one: false,
      ix_view: undefined,
    });
  });
});
