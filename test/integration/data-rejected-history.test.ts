/**
 * Row values never enter Temporal history (DESIGN.md "Operations"): a copy whose rows the target
 * rejects fails as DataRejected, and the run's history, read back from Temporal, names the
 * SQLSTATE, the column or the constraint, but none of the rejected row's values. Before, psql's
 * `DETAIL:  Failing row contains (...)` and the COPY's CONTEXT line went into the failure's
 * stderr tail verbatim.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { historyText } from '../support/history-text.js';
import { createCopyHarness, makeTable, parseJson, type CopyHarness } from '../support/copy-harness.js';

interface CopyJson {
  status: string;
  failure?: { type: string; message: string };
}

/** Labels of the generated rows start with this tag; no name in the copy contains it. */
const TAG = 'rowvalue';

describe('rejected rows stay out of history', { timeout: 240_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'data-rejected' });
  });
  after(async () => {
    await h?.close();
  });

  async function copyRejected(table: TableRef, targetDdl: string): Promise<{ result: CopyJson; history: string }> {
    await makeTable(h.sourceUrl, table, { to: 50, tag: TAG });
    await query(h.targetUrl, targetDdl);
    const run = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', `${table.schema}.${table.table}`],
      ...['--wait', '--json'],
    ]);
    return {
      result: parseJson<CopyJson>(run),
      history: await historyText(h.client, workflowIdForTarget('target', table)),
    };
  }

  test('a NOT NULL violation fails as DataRejected with SQLSTATE and column, and no row value in history', async () => {
    const { result, history } = await copyRejected(
      { schema: 'public', table: 'reject_nulls' },
      'CREATE TABLE public.reject_nulls (id bigint PRIMARY KEY, label text NOT NULL, amount numeric(12,2) NOT NULL)',
    );
    assert.equal(result.status, 'FAILED');
    assert.equal(result.failure?.type, 'DataRejected', result.failure?.message);
    assert.match(history, /23502/);
    assert.match(history, /\\"column\\":\\"amount\\"/);
    assert.doesNotMatch(history, new RegExp(TAG));
    // The first rejected row is id 7 (every seventh amount is NULL): its text form never appears.
    assert.doesNotMatch(history, /Failing row contains \(7/);
  });

  test('a CHECK violation fails as DataRejected with SQLSTATE and constraint, and no row value in history', async () => {
    const { result, history } = await copyRejected(
      { schema: 'public', table: 'reject_checks' },
      `CREATE TABLE public.reject_checks (id bigint PRIMARY KEY, label text NOT NULL, amount numeric(12,2),
         CONSTRAINT small_ids_only CHECK (id < 5))`,
    );
    assert.equal(result.status, 'FAILED');
    assert.equal(result.failure?.type, 'DataRejected', result.failure?.message);
    assert.match(history, /23514/);
    assert.match(history, /small_ids_only/);
    assert.doesNotMatch(history, new RegExp(TAG));
  });
});
