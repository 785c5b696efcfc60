/**
 * Issue 15: `pgferry schedule update ID` changes a copy schedule in place: its timing, policies
 * and copy flags change, its id and the runs it already took stay, and the next run copies with
 * the new flags.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CopyScheduleInfo, CopyScheduleListEntry } from '../../src/client/schedules.js';
import type { CopyTableInput } from '../../src/shared/copy-spec.js';
import { MODE_ATTRIBUTE } from '../../src/shared/search-attributes.js';
import { query } from '../support/pg.js';
import { assertExitedOk } from '../support/copy-harness.js';
import { startScheduleHarness, waitFor, type ScheduleHarness } from '../support/schedule-harness.js';

describe('pgferry schedule update', { timeout: 300_000 }, () => {
  let h: ScheduleHarness;
  before(async () => {
    h = await startScheduleHarness({ taskQueue: 'pgferry-schedule-update' });
    await query(
      h.world.sourceUrl,
      `CREATE TABLE upd_t (id int PRIMARY KEY, v text);
       INSERT INTO upd_t SELECT g, md5(g::text) FROM generate_series(1, 500) g`,
    );
  });
  after(async () => {
    await h?.close();
  });

  const describeJson = (id: string) => h.cliJson<CopyScheduleInfo>(['schedule', 'describe', id]);
  const completedRuns = (id: string, count: number) =>
    waitFor(`${count} completed run(s) of ${id}`, async () => {
      const done = (await describeJson(id)).recentRuns.filter((run) => run.status === 'COMPLETED');
      return done.length >= count ? done : undefined;
    });

  test('update changes timing, overlap and copy flags in place; earlier runs stay and the next run uses the new flags', async () => {
    const created = await h.cli([
      ...['schedule', 'create', 'upd', '--source', 'source', '--target', 'target', '--table', 'upd_t'],
      ...['--every', '1h', '--paused'],
    ]);
    assertExitedOk(created);
    assert.equal((await h.cli(['schedule', 'trigger', 'upd'])).exitCode, 0);
    const [first] = await completedRuns('upd', 1);

    const updated = await h.cli([
      ...['schedule', 'update', 'upd', '--cron', '30 2 * * *', '--timezone', 'Asia/Seoul'],
      ...['--overlap', 'buffer-one', '--mode', 'append', '--max-attempts', '3'],
    ]);
    assertExitedOk(updated);

    const info = await describeJson('upd');
    assert.equal(info.spec, 'cron "30 2 * * *" (Asia/Seoul)');
    assert.equal(info.overlap, 'BUFFER_ONE');
    assert.equal(info.paused, true, 'update keeps the paused state');
    assert.match(info.summary ?? '', /\(append\)$/);
    assert.deepEqual(
      info.recentRuns.map((run) => run.runId),
      [first!.runId],
    );
    assert.ok(
      info.nextRunTimes.every((time) => new Date(time).getUTCMinutes() === 30 && new Date(time).getUTCHours() === 17),
      `02:30 in Seoul is 17:30 UTC: ${info.nextRunTimes.join(', ')}`,
    );
    const action = (await h.client.schedule.getHandle('upd').describe()).action;
    const input = action.args?.[0] as CopyTableInput;
    assert.equal(input.mode, 'append');
    assert.equal(input.timeouts?.maxAttempts, 3);
    assert.deepEqual(input.table, { schema: 'public', table: 'upd_t' });

    const listed = await h.cliJson<CopyScheduleListEntry[]>(['schedule', 'list']);
    assert.equal(listed.find((entry) => entry.scheduleId === 'upd')?.spec, 'cron "30 2 * * *" (Asia/Seoul)');

    // A row only the target has: append keeps it, replace would drop it.
    await query(h.world.targetUrl, `DELETE FROM upd_t; INSERT INTO upd_t VALUES (100000, 'kept')`);
    assert.equal((await h.cli(['schedule', 'trigger', 'upd'])).exitCode, 0);
    const runs = await completedRuns('upd', 2);
    const second = runs.find((run) => run.runId !== first!.runId)!;
    const described = await h.client.workflow.getHandle(second.workflowId, second.runId).describe();
    assert.equal(described.typedSearchAttributes.get(MODE_ATTRIBUTE), 'append');
    const { rows } = await query<{ n: number }>(h.world.targetUrl, 'SELECT count(*)::int AS n FROM upd_t');
    assert.equal(rows[0]!.n, 501, 'the second run appended the 500 source rows next to the target-only row');
  });

  test('update with --every replaces a cron spec, and the same update twice leaves the same schedule', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await h.cli(['schedule', 'update', 'upd', '--every', '6h']);
      assertExitedOk(result);
    }
    const info = await describeJson('upd');
    assert.equal(info.spec, 'every 6h (Asia/Seoul)');
    const spec = (await h.client.schedule.getHandle('upd').describe()).spec;
    assert.deepEqual(spec.calendars ?? [], []);
    assert.equal(spec.intervals?.length, 1);
  });

  test('update refuses an unknown schedule, a bad flag and no change with one line, changing nothing', async () => {
    const before = await h.client.schedule.getHandle('upd').describe();
    const cases: [string[], RegExp][] = [
      [['nosuch', '--mode', 'append'], /no such schedule: nosuch/],
      [['upd', '--mode', 'merge'], /--mode: unknown value "merge"/],
      [['upd', '--cron', '0 3 * * *', '--every', '1h'], /give --cron or --every, not both/],
      [['upd'], /nothing to change/],
    ];
    for (const [args, pattern] of cases) {
      const result = await h.cli(['schedule', 'update', ...args]);
      assert.notEqual(result.exitCode, 0);
      assert.match(result.stderr.trim(), new RegExp(`^pgferry: ${pattern.source}`));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    const after = await h.client.schedule.getHandle('upd').describe();
    assert.deepEqual(after.action.args, before.action.args);
    assert.deepEqual(after.spec, before.spec);
  });
});
