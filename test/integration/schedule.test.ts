/**
 * `pgferry schedule` (issue 5) against a real Temporal dev server, two real clusters and an
 * in-process worker, driving the CLI as a subprocess.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyScheduleInfo, CopyScheduleListEntry } from '../../src/client/schedules.js';
import type { CopyTableResult } from '../../src/shared/copy-spec.js';
import { MODE_ATTRIBUTE, TABLE_ATTRIBUTE } from '../../src/shared/search-attributes.js';
import { parseTableName } from '../../src/shared/table-name.js';
import { query, tableDigest, withClient } from '../support/pg.js';
import { assertExitedOk } from '../support/copy-harness.js';
import { startScheduleHarness, waitFor, type ScheduleHarness } from '../support/schedule-harness.js';

const COPY = ['--source', 'source', '--target', 'target'];

/** A narrow table of `rows` rows on the source. */
async function seed(url: string, table: string, rows: number): Promise<void> {
  await query(
    url,
    `CREATE TABLE ${table} (id int PRIMARY KEY, v text);
     INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${rows}) g`,
  );
}

/** Asserts a failed command printed exactly one `pgferry: ...` line matching `pattern`. */
function assertOneLineError(result: { exitCode?: number; stderr: string }, pattern: RegExp): void {
  assert.notEqual(result.exitCode, 0, 'expected a non-zero exit');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^pgferry: /);
  assert.match(lines[0]!, pattern);
}

describe('pgferry schedule against a real dev server, clusters and worker', { timeout: 600_000 }, () => {
  let h: ScheduleHarness;

  before(async () => {
    h = await startScheduleHarness({ taskQueue: 'pgferry-schedule-test' });
    await Promise.all(
      [
        ['every_t', 1_000],
        ['info_t', 10],
        ['trig_t', 2_000],
        ['bf_t', 3_000],
        ['slow_t', 5_000],
      ].map(([table, rows]) => seed(h.world.sourceUrl, table as string, rows as number)),
    );
  });

  after(async () => {
    await h?.close();
  });

  const describeJson = (id: string) => h.cliJson<CopyScheduleInfo>(['schedule', 'describe', id]);

  /** The schedule's completed runs, once at least `count` of them are completed. */
  const completedRuns = (id: string, count: number, since = 0) =>
    waitFor(`${count} completed run(s) of ${id}`, async () => {
      const info = await describeJson(id);
      const done = info.recentRuns.filter((run) => run.status === 'COMPLETED' && Date.parse(run.takenAt) >= since);
      return done.length >= count ? done : undefined;
    });

  /** Deletes a schedule and waits until none of its runs is open, so later tests start clean. */
  async function deleteAndDrain(id: string): Promise<void> {
    const info = await describeJson(id);
    assert.equal((await h.cli(['schedule', 'delete', id])).exitCode, 0);
    for (const run of info.recentRuns) await h.client.workflow.getHandle(run.workflowId, run.runId).result();
    for (const workflowId of info.running) await h.client.workflow.getHandle(workflowId).result();
  }

  test('create refuses a bad cron, a bad duration, an unknown profile and several tables, creating nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--cron', 'not a cron'], /--cron "not a cron": .*5-7 fields/],
      [['--cron', '61 * * * *'], /--cron "61 \* \* \* \*": Minute is not in range/],
      [['--every', 'soon'], /--every: "soon" is not a duration/],
      [['--every', '1h', '--timezone', 'Mars/Olympus'], /--timezone: unknown time zone "Mars\/Olympus"/],
      [['--every', '1h', '--source', 'nosuch'], /--source: unknown connection profile "nosuch"/],
      [['--every', '1h', '--table', 'info_t'], /a schedule copies a single --table \(got 2\)/],
      [[], /give exactly one of --cron EXPR or --every DURATION/],
    ];
    for (const [flags, pattern] of cases) {
      const result = await h.cli(['schedule', 'create', 'refused', ...COPY, '--table', 'every_t', ...flags]);
      assertOneLineError(result, pattern);
    }
    assertOneLineError(await h.cli(['schedule', 'describe', 'refused']), /no such schedule: refused/);
    await assert.rejects(h.client.schedule.getHandle('refused').describe(), { name: 'ScheduleNotFoundError' });
  });

  test('create refuses an id that is already taken and leaves the existing schedule as it was', async () => {
    const first = await h.cli(['schedule', 'create', 'dup', '--every', '1h', '--paused', ...COPY, '--table', 'info_t']);
    assertExitedOk(first);
    const second = await h.cli(['schedule', 'create', 'dup', '--cron', '0 3 * * *', ...COPY, '--table', 'every_t']);
    assertOneLineError(second, /schedule dup already exists/);
    const info = await describeJson('dup');
    assert.equal(info.summary, 'source:public.info_t → target:public.info_t (replace)');
    assert.equal(info.spec, 'every 1h');
    assert.equal(info.paused, true);
    await deleteAndDrain('dup');
  });

  test('--every 10s completes at least two copies within a minute, each leaving the target equal to the source', async () => {
    const table = parseTableName('every_t');
    const created = Date.now();
    const result = await h.cli(['schedule', 'create', 'every-10s', '--every', '10s', ...COPY, '--table', 'every_t']);
    assertExitedOk(result);
    const deadline = { timeoutMs: 60_000 - (Date.now() - created) };

    const [first] = await completedRuns('every-10s', 1);
    assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));
    assert.equal(
      (await h.client.workflow.getHandle<() => Promise<CopyTableResult>>(first!.workflowId).result()).rows,
      1_000,
    );

    // New source rows: a run taken after this point must carry them to the target.
    await query(h.world.sourceUrl, `INSERT INTO every_t SELECT g, md5(g::text) FROM generate_series(1001, 1500) g`);
    const changed = Date.now();
    const later = await waitFor(
      'a completed run taken after the source changed',
      async () => {
        const info = await describeJson('every-10s');
        return info.recentRuns.find((run) => run.status === 'COMPLETED' && Date.parse(run.takenAt) > changed);
      },
      deadline,
    );
    assert.ok(Date.now() - created <= 60_000, 'two copies within a minute');
    const run = h.client.workflow.getHandle<() => Promise<CopyTableResult>>(later.workflowId, later.runId);
    assert.equal((await run.result()).rows, 1_500);
    assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));

    // Scheduled runs carry the id of the target table (plus Temporal's time), summary and search attributes.
    assert.match(later.workflowId, /^pgferry:target:public\.every_t-\d{4}-\d{2}-\d{2}T/);
    const described = await run.describe();
    assert.equal(await described.staticSummary(), 'source:public.every_t → target:public.every_t (replace)');
    assert.equal(described.typedSearchAttributes.get(TABLE_ATTRIBUTE), 'public.every_t');
    assert.equal(described.typedSearchAttributes.get(MODE_ATTRIBUTE), 'replace');
    await deleteAndDrain('every-10s');
  });

  test('describe shows spec, copy, state and next run times; pause and unpause with notes; list shows it', async () => {
    const created = await h.cli([
      'schedule',
      'create',
      'nightly',
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Asia/Seoul',
      '--note',
      'made by the test',
      ...COPY,
      '--table',
      'info_t',
    ]);
    assertExitedOk(created);
    let info = await describeJson('nightly');
    assert.equal(info.spec, 'cron "0 3 * * *" (Asia/Seoul)');
    assert.equal(info.summary, 'source:public.info_t → target:public.info_t (replace)');
    assert.equal(info.workflowId, 'pgferry:target:public.info_t');
    assert.equal(info.taskQueue, h.taskQueue);
    assert.equal(info.overlap, 'SKIP');
    assert.equal(info.paused, false);
    assert.equal(info.note, 'made by the test');
    assert.ok(info.nextRunTimes.length >= 1);
    // 03:00 in Seoul (UTC+9, no DST) is 18:00 UTC.
    for (const time of info.nextRunTimes) assert.match(time, /T18:00:00\.000Z$/);

    assert.equal((await h.cli(['schedule', 'pause', 'nightly', '--note', 'source maintenance'])).exitCode, 0);
    info = await describeJson('nightly');
    assert.equal(info.paused, true);
    assert.equal(info.note, 'source maintenance');
    const text = await h.cli(['schedule', 'describe', 'nightly']);
    assertExitedOk(text);
    assert.match(text.stdout, /^nightly {2}PAUSED {2}\(source maintenance\)/);
    assert.match(text.stdout, /cron "0 3 \* \* \*" \(Asia\/Seoul\), overlap SKIP, catch-up window 365d/);
    assert.match(text.stdout, /copy {6}source:public\.info_t → target:public\.info_t \(replace\)/);
    assert.match(text.stdout, /next {6}\(paused\) \d{4}-\d{2}-\d{2}T18:00:00\.000Z/);

    assert.equal((await h.cli(['schedule', 'unpause', 'nightly', '--note', 'back'])).exitCode, 0);
    info = await describeJson('nightly');
    assert.equal(info.paused, false);
    assert.equal(info.note, 'back');

    // Listing is eventually consistent: poll until the schedule shows up with its state.
    const listed = await waitFor('nightly in schedule list', async () => {
      const entries = await h.cliJson<CopyScheduleListEntry[]>(['schedule', 'list']);
      return entries.find((entry) => entry.scheduleId === 'nightly' && !entry.paused && entry.note === 'back');
    });
    assert.equal(listed.spec, 'cron "0 3 * * *" (Asia/Seoul)');
    assert.equal(listed.summary, 'source:public.info_t → target:public.info_t (replace)');

    await deleteAndDrain('nightly');
    for (const command of ['describe', 'pause', 'unpause', 'trigger', 'delete']) {
      assertOneLineError(await h.cli(['schedule', command, 'nightly']), /no such schedule: nightly/);
    }
  });

  test('trigger starts a run of a paused schedule', async () => {
    const table = parseTableName('trig_t');
    const created = await h.cli([
      'schedule',
      'create',
      'manual',
      '--every',
      '1h',
      '--paused',
      ...COPY,
      '--table',
      'trig_t',
    ]);
    assertExitedOk(created);
    assert.deepEqual((await describeJson('manual')).recentRuns, []);
    const triggered = await h.cli(['schedule', 'trigger', 'manual']);
    assertExitedOk(triggered);
    const runs = await completedRuns('manual', 1);
    assert.equal(runs.length, 1);
    const info = await describeJson('manual');
    assert.equal(info.actionsTaken, 1);
    assert.equal(info.paused, true);
    assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));
    await deleteAndDrain('manual');
  });

  test('backfill --overlap buffer-all over a past window runs each scheduled time in turn, even while paused', async () => {
    const table = parseTableName('bf_t');
    const created = await h.cli(['schedule', 'create', 'bf', '--every', '10s', '--paused', ...COPY, '--table', 'bf_t']);
    assertExitedOk(created);
    // A window off the 10 s grid holds exactly three scheduled times: base-30s, base-20s, base-10s.
    const base = Math.floor(Date.now() / 10_000) * 10_000;
    const start = new Date(base - 35_000).toISOString();
    const end = new Date(base - 5_000).toISOString();
    const backfill = await h.cli([
      'schedule',
      'backfill',
      'bf',
      '--start',
      start,
      '--end',
      end,
      '--overlap',
      'buffer-all',
    ]);
    assertExitedOk(backfill);

    const runs = await completedRuns('bf', 3);
    assert.deepEqual(
      runs.map((run) => run.scheduledAt),
      [30_000, 20_000, 10_000].map((ago) => new Date(base - ago).toISOString()),
    );
    // Buffered, so one after another: each run starts after the one before it closed.
    const executions = await Promise.all(
      runs.map((run) => h.client.workflow.getHandle(run.workflowId, run.runId).describe()),
    );
    for (let i = 1; i < executions.length; i++) {
      assert.ok(executions[i]!.startTime >= executions[i - 1]!.closeTime!, 'backfilled runs overlapped');
    }
    const info = await describeJson('bf');
    assert.equal(info.actionsTaken, 3);
    assert.equal(info.paused, true);
    assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));

    assertOneLineError(
      await h.cli(['schedule', 'backfill', 'bf', '--start', end, '--end', start]),
      /--end must be after --start/,
    );
    assertOneLineError(
      await h.cli(['schedule', 'backfill', 'bf', '--start', 'yesterday', '--end', end]),
      /--start: "yesterday" is not an ISO date-time/,
    );
    await deleteAndDrain('bf');
  });

  test('overlap skip: while a copy is held up, later times are skipped and no two runs ever overlap', async () => {
    const table = parseTableName('slow_t');
    // The target table exists and a reader holds it: publish waits for its exclusive lock, so the
    // first run stays open (in publish) for as long as this transaction lasts.
    await query(h.world.targetUrl, 'CREATE TABLE slow_t (id int PRIMARY KEY, v text)');
    let release: () => void = () => undefined;
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const held = withClient(h.world.targetUrl, async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT count(*) FROM slow_t');
      const released = new Promise<void>((resolve) => (release = resolve));
      locked();
      await released;
      await client.query('COMMIT');
    });
    await Promise.race([holding, held]);

    try {
      const created = await h.cli(['schedule', 'create', 'skip', '--every', '1s', ...COPY, '--table', 'slow_t']);
      assertExitedOk(created);
      const info = await waitFor('three actions skipped for overlap', async () => {
        const current = await describeJson('skip');
        assert.ok(current.running.length <= 1, `two runs at once: ${current.running.join(', ')}`);
        return current.actionsSkippedOverlap >= 3 ? current : undefined;
      });
      assert.equal(info.running.length, 1);
      assert.equal(info.actionsTaken, 1);
      const text = await h.cli(['schedule', 'describe', 'skip']);
      assert.match(text.stdout, /actions {3}1 taken, \d+ skipped \(overlap\)/);
      assert.equal((await h.cli(['schedule', 'pause', 'skip'])).exitCode, 0);
    } finally {
      release();
      await held;
    }

    const info = await describeJson('skip');
    await deleteAndDrain('skip');
    assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));
    // Every run the schedule ever started, from visibility (eventually consistent): none overlapped another.
    const runs = await waitFor(`${info.actionsTaken} closed runs of skip in visibility`, async () => {
      const listed = [];
      for await (const run of h.client.workflow.list({ query: `TemporalScheduledById = 'skip'` })) listed.push(run);
      const closed = listed.every((run) => run.closeTime !== undefined);
      return listed.length === info.actionsTaken && closed ? listed : undefined;
    });
    runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    for (const run of runs) assert.equal(run.status.name, 'COMPLETED', run.workflowId);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(runs[i]!.startTime >= runs[i - 1]!.closeTime!, 'two scheduled copies overlapped');
    }
  });
});
