/**
 * Issue 12.6: two profiles for one database (another host spelling, here `localhost` for
 * `127.0.0.1`) let `copy --mode append` append a table to itself: 10 rows became 20. createStaging
 * now compares server, database and table by identity and refuses InvalidCopySpec before
 * anything changes; a different table on the same server still copies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createActivities, type Activities, type CreateStagingResult } from '../../activities/index.js';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { Databases } from '../../src/db/databases.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, tableDigest } from '../support/pg.js';
import { stagingTables } from '../support/copy-harness.js';
import { activityEnvironment } from '../support/run-copy.js';

const TABLE: TableRef = { schema: 'public', table: 'itself' };

describe('a table copied onto itself through two profiles (issue 12.6)', { timeout: 120_000 }, () => {
  let world: CopyWorld;
  let databases: Databases;
  let activities: Activities;

  before(async () => {
    world = await createCopyWorld();
    // `alias` reaches the target's database under another host name.
    const alias = world.targetUrl.replace('@127.0.0.1:', '@localhost:');
    assert.notEqual(alias, world.targetUrl);
    databases = new Databases(
      loadConnectionProfiles({ PGFERRY_CONN_TARGET: world.targetUrl, PGFERRY_CONN_ALIAS: alias }),
    );
    activities = createActivities({ databases, psqlPath: world.psqlPath, runIsOpen: () => Promise.resolve(false) });
    await query(
      world.targetUrl,
      `CREATE TABLE itself (id int PRIMARY KEY, note text);
       INSERT INTO itself SELECT g, 'row ' || g FROM generate_series(1, 10) g;`,
    );
  });
  after(async () => {
    await databases?.end();
    await world?.close();
  });

  test('append from a profile onto the same table through another profile is refused as InvalidCopySpec and nothing changes', async () => {
    const before = await tableDigest(world.targetUrl, TABLE);
    await assertFailure(
      activityEnvironment().run(activities.createStaging, {
        source: 'alias',
        target: 'target',
        sourceTable: TABLE,
        targetTable: TABLE,
        mode: 'append' as const,
      }),
      FailureType.InvalidCopySpec,
      true,
    );
    assert.deepEqual(await tableDigest(world.targetUrl, TABLE), before);
    assert.deepEqual(await stagingTables(world.targetUrl), []);
    const bookkeeping = await query<{ n: number }>(
      world.targetUrl,
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'pgferry'",
    );
    assert.equal(bookkeeping.rows[0]!.n, 0, 'nothing was created on the target');
  });

  test('a different table on the same server through another profile is not refused', async () => {
    const staged: CreateStagingResult = await activityEnvironment().run(activities.createStaging, {
      source: 'alias',
      target: 'target',
      sourceTable: TABLE,
      targetTable: { schema: 'public', table: 'itself_copy' },
      mode: 'append' as const,
    });
    assert.deepEqual(staged.columns, ['id', 'note']);
  });
});
