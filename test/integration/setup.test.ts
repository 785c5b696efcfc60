/**
 * Issue 15: `pgferry setup` prepares a namespace that has never seen pgferry. On a dev server
 * started without pgferry's search attributes a copy is refused with a line naming `pgferry
 * setup` (not the server's raw INVALID_ARGUMENT); setup registers them and the same copy then
 * succeeds; a second setup changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TableRef } from '../../src/shared/table-name.js';
import { PGFERRY_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';
import { assertExitedOk, createCopyHarness, makeTable, parseJson, type CopyHarness } from '../support/copy-harness.js';

const TABLE: TableRef = { schema: 'public', table: 'setup_orders' };
const COPY = ['copy', '--source', 'source', '--target', 'target', '--table', 'public.setup_orders', '--wait', '--json'];
const NAMES = PGFERRY_SEARCH_ATTRIBUTES.map((key) => key.name);

describe('pgferry setup (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'setup', searchAttributes: false });
    await makeTable(h.sourceUrl, TABLE, { to: 2_000 });
  });
  after(async () => {
    await h?.close();
  });

  const customAttributes = async () =>
    (await h.client.connection.operatorService.listSearchAttributes({ namespace: h.server.namespace }))
      .customAttributes ?? {};

  test('a copy on a namespace without the attributes is refused with a line naming pgferry setup, and starts nothing', async () => {
    const refused = await h.cli(COPY);
    assert.equal(refused.exitCode, 1, refused.stderr);
    assert.match(refused.stderr, /lacks pgferry's search attributes \(PgferrySource, .*\): run `pgferry setup`/);
    assert.doesNotMatch(refused.stderr, /INVALID_ARGUMENT/);
    const started = [];
    for await (const run of h.client.workflow.list({ query: "WorkflowType = 'copyTable'" })) started.push(run);
    assert.deepEqual(started, []);
  });

  test('a batch on a namespace without the attributes is refused the same way, and starts nothing', async () => {
    const refused = await h.cli([...COPY.slice(0, 7), '--table', 'public.setup_other']);
    assert.equal(refused.exitCode, 1, refused.stderr);
    assert.match(refused.stderr, /lacks pgferry's search attributes \(PgferrySource, .*\): run `pgferry setup`/);
    const started = [];
    for await (const run of h.client.workflow.list({ query: "WorkflowType = 'copyTables'" })) started.push(run);
    assert.deepEqual(started, []);
  });

  test('a schedule on a namespace without the attributes is refused with a line naming pgferry setup', async () => {
    const refused = await h.cli(['schedule', 'create', 'no-attributes', '--every', '1h', ...COPY.slice(1, 7)]);
    assert.equal(refused.exitCode, 1, refused.stderr);
    assert.match(refused.stderr, /lacks pgferry's search attributes \(PgferrySource, .*\): run `pgferry setup`/);
    const schedules = [];
    for await (const schedule of h.client.schedule.list()) schedules.push(schedule.scheduleId);
    assert.deepEqual(schedules, []);
  });

  test('setup registers the attributes, sees the worker polling, and the copy then completes', async () => {
    const setup = await h.cli(['setup']);
    assertExitedOk(setup);
    for (const name of NAMES)
      assert.match(setup.stdout, new RegExp(`search attribute ${name} \\(Keyword\\): registered`));
    assert.match(setup.stdout, new RegExp(`task queue ${h.taskQueue}: 1 worker\\(s\\) polling`));
    const attributes = await customAttributes();
    for (const name of NAMES) assert.ok(name in attributes, `${name} is registered`);

    const copy = await h.cli(COPY);
    assertExitedOk(copy);
    assert.equal(parseJson<{ status: string }>(copy).status, 'COMPLETED');
  });

  test('a second setup registers nothing and leaves the attributes as they were', async () => {
    const before = await customAttributes();
    const again = await h.cli(['setup', '--json']);
    assertExitedOk(again);
    const result = parseJson<{ registered: string[]; present: string[] }>(again);
    assert.deepEqual(result.registered, []);
    assert.deepEqual(result.present, NAMES);
    assert.deepEqual(await customAttributes(), before);
  });
});
