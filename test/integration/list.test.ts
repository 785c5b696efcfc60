/**
 * Issue 15: `pgferry list` finds copies by their search attributes (source, target, target
 * table) and status, newest first, with --json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ListedCopy } from '../../src/client/list-copies.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  waitFor,
  type CopyHarness,
} from '../support/copy-harness.js';

describe('pgferry list (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  /** workflow ids in the order their copies started */
  const started: string[] = [];

  const copy = async (table: string, extra: string[] = []) => {
    const result = await h.cli(
      ['copy', '--source', 'source', '--target', 'target', '--table', table, ...extra].concat(['--wait', '--json']),
    );
    started.push(parseJson<{ workflowId: string }>(result).workflowId);
    return parseJson<{ status: string }>(result).status;
  };
  const list = async (...args: string[]) => {
    const result = await h.cli(['list', '--json', ...args]);
    assertExitedOk(result);
    return parseJson<ListedCopy[]>(result);
  };

  before(async () => {
    h = await createCopyHarness({ name: 'list' });
    await makeTable(h.sourceUrl, { schema: 'public', table: 'list_a' }, { to: 100 });
    await makeTable(h.sourceUrl, { schema: 'public', table: 'list_b' }, { to: 100 });
    assert.equal(await copy('list_a'), 'COMPLETED');
    assert.equal(await copy('list_b'), 'COMPLETED');
    assert.equal(await copy('list_missing'), 'FAILED');
    assert.equal(await copy('list_a', ['--target-table', `public."it's ""한글"""`, '--mode', 'append']), 'COMPLETED');
    // Visibility is eventually consistent: wait until every run shows as closed.
    await waitFor('the four runs to show as closed', async () => {
      const runs = await list();
      return runs.length === 4 && runs.every((run) => run.status !== 'RUNNING') ? true : undefined;
    });
  });
  after(async () => {
    await h?.close();
  });

  test('without filters it lists every copy, newest first, with its source, target, table and mode', async () => {
    const runs = await list();
    assert.deepEqual(
      runs.map((run) => run.workflowId),
      [...started].reverse(),
    );
    const first = runs.at(-1)!;
    assert.deepEqual(
      { source: first.source, target: first.target, table: first.table, mode: first.mode, status: first.status },
      { source: 'source', target: 'target', table: 'public.list_a', mode: 'replace', status: 'COMPLETED' },
    );
  });

  test('--table keeps the copies onto that target table, including a name with quotes and Hangul', async () => {
    assert.deepEqual(
      (await list('--table', 'list_b')).map((run) => run.workflowId),
      [started[1]],
    );
    const quoted = await list('--table', `public."it's ""한글"""`);
    assert.deepEqual(
      quoted.map((run) => [run.workflowId, run.mode]),
      [[started[3], 'append']],
    );
  });

  test('--status failed keeps the failed copy; --status completed with --limit 1 keeps the newest completed one', async () => {
    assert.deepEqual(
      (await list('--status', 'failed')).map((run) => run.workflowId),
      [started[2]],
    );
    assert.deepEqual(
      (await list('--status', 'completed', '--limit', '1')).map((run) => run.workflowId),
      [started[3]],
    );
    assert.deepEqual((await list('--status', 'failed', '--status', 'completed')).length, 4);
  });

  test('--source and --target narrow to those profiles; an unknown profile lists nothing', async () => {
    assert.equal((await list('--source', 'source', '--target', 'target')).length, 4);
    assert.deepEqual(await list('--target', 'elsewhere'), []);
  });

  test('--status with an unknown value is refused with one line', async () => {
    const result = await h.cli(['list', '--status', 'sleeping']);
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, /sleeping/);
  });
});
