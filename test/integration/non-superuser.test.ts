/**
 * Issue 13.7: a target role that is not a superuser could not copy. pgferry ran CREATE SCHEMA IF
 * NOT EXISTS pgferry on every run, which needs CREATE on the database even when an administrator
 * had created the schema first (the README's setup). Now the bookkeeping is created only when
 * missing, and when it cannot be, the failure names the grant. Both sides connect as ordinary
 * roles with password authentication (scram-sha-256 over TCP).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { awaitOutcome } from '../../src/client/outcome.js';
import { startCopy } from '../../src/client/start-copy.js';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { createPgferryWorker, type PgferryWorker } from '../../src/worker/create-worker.js';
import type { CopyTableInput } from '../../src/shared/copy-spec.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import {
  createCopyHarness,
  makeTable,
  stagingTables,
  tableDigestOf,
  type CopyHarness,
} from '../support/copy-harness.js';

const TABLE: TableRef = { schema: 'app', table: 'orders' };

/** The cluster's URL with another role and password. */
function roleUrl(url: string, role: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = password;
  return parsed.toString();
}

describe('copies as roles that are not superusers (issue 13.7)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  let worker: PgferryWorker;
  let running: Promise<void>;
  let workflowSerial = 0;

  before(async () => {
    h = await createCopyHarness({ name: 'non-superuser', worker: false });
    await query(h.sourceUrl, "CREATE ROLE reader LOGIN PASSWORD 'reader-pw-1'; CREATE SCHEMA app");
    await makeTable(h.sourceUrl, TABLE, { to: 5_000 });
    await query(h.sourceUrl, 'GRANT USAGE ON SCHEMA app TO reader; GRANT SELECT ON app.orders TO reader');
    // The loader owns its schema and nothing else: no CREATE on the database.
    await query(
      h.targetUrl,
      `CREATE ROLE loader LOGIN PASSWORD 'loader-pw-2';
       REVOKE CREATE ON DATABASE postgres FROM PUBLIC;
       CREATE SCHEMA app AUTHORIZATION loader;`,
    );
    const profiles = loadConnectionProfiles({
      PGFERRY_CONN_READER: roleUrl(h.sourceUrl, 'reader', 'reader-pw-1'),
      PGFERRY_CONN_LOADER: roleUrl(h.targetUrl, 'loader', 'loader-pw-2'),
    });
    worker = await createPgferryWorker({
      connection: h.server.env.nativeConnection,
      settings: { address: h.server.address, namespace: h.server.namespace, taskQueue: h.taskQueue },
      profiles,
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await h?.close();
  });

  const copy = async () => {
    const input: CopyTableInput = { source: 'reader', target: 'loader', table: TABLE, mode: 'replace', onBusy: 'fail' };
    const handle = await startCopy(h.client, input, {
      taskQueue: h.taskQueue,
      workflowId: `nonsuper-${++workflowSerial}`,
    });
    return awaitOutcome(handle);
  };

  test('without the pgferry schema the copy fails as PermissionDenied naming the grant, and the target is untouched', async () => {
    const outcome = await copy();
    assert.equal(outcome.status, 'FAILED');
    assert.equal(outcome.failure?.type, 'PermissionDenied', outcome.failure?.message);
    assert.match(outcome.failure?.message ?? '', /CREATE SCHEMA pgferry AUTHORIZATION loader/);
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });

  test('once an administrator created the pgferry schema for the role, the copy completes with the source rows', async () => {
    await query(h.targetUrl, 'CREATE SCHEMA pgferry AUTHORIZATION loader');
    const outcome = await copy();
    assert.equal(outcome.status, 'COMPLETED', outcome.failure?.message);
    assert.deepEqual(await tableDigestOf(h.targetUrl, TABLE), await tableDigestOf(h.sourceUrl, TABLE));
    assert.deepEqual(await stagingTables(h.targetUrl), []);
  });
});
