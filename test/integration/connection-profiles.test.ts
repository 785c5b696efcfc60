/**
 * A connection profile means the same thing to psql and to the pool: a libpq option that only
 * libpq knows how to pass, `options=-c ...`, reaches the export psql and the pool's sessions,
 * and pgferry's pinned settings still win over a user's. Before, psql got PG* variables built
 * from a fixed list (no `options`, no target_session_attrs, no several hosts) and the pool let
 * the profile's `options` replace the pinned settings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { Databases } from '../../src/db/databases.js';
import { createActivities } from '../../activities/index.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { createStaging, exportImport } from '../support/run-copy.js';
import { query } from '../support/pg.js';

/** The user's options: a custom setting, and a DateStyle the pinned ISO must override. */
const USER_OPTIONS = '-c pgferry_test.marker=from-the-profile -c DateStyle=German';

describe('libpq options of a profile', { timeout: 180_000 }, () => {
  let world: CopyWorld;
  let marked: CopyWorld;
  let databases: Databases;
  before(async () => {
    world = await createCopyWorld();
    databases = new Databases(
      loadConnectionProfiles({
        PGFERRY_CONN_MARKED: `${world.sourceUrl}?options=${encodeURIComponent(USER_OPTIONS)}`,
        PGFERRY_CONN_TARGET: world.targetUrl,
      }),
    );
    marked = { ...world, databases, activities: createActivities({ databases, psqlPath: world.psqlPath }) };
  });
  after(async () => {
    await databases?.end();
    await world?.close();
  });

  test("the pool's sessions get the profile's options, with the pinned DateStyle last", async () => {
    const settings = await databases.withClient('marked', async (client) => {
      const { rows } = await client.query<{ marker: string; datestyle: string }>(
        `SELECT current_setting('pgferry_test.marker') AS marker, current_setting('DateStyle') AS datestyle`,
      );
      return rows[0];
    });
    assert.deepEqual(settings, { marker: 'from-the-profile', datestyle: 'ISO, DMY' });
  });

  test("the export psql's session gets the profile's options, with the pinned DateStyle last", async () => {
    // A view whose rows are the session settings of whoever reads it: the export psql.
    const view: TableRef = { schema: 'public', table: 'session_settings' };
    await query(
      world.sourceUrl,
      `CREATE VIEW public.session_settings AS
         SELECT 1::bigint AS id,
                current_setting('pgferry_test.marker', true) AS marker,
                current_setting('DateStyle') AS datestyle`,
    );
    const staging = await createStaging(marked, view, 'marked');
    const result = await exportImport(marked, view, staging, { source: 'marked', format: 'text' });
    assert.equal(result.sourceRows, 1);
    const { rows } = await query<{ marker: string; datestyle: string }>(
      world.targetUrl,
      `SELECT marker, datestyle FROM ${quoteTable(staging.staging)}`,
    );
    assert.deepEqual(rows, [{ marker: 'from-the-profile', datestyle: 'ISO, DMY' }]);
  });
});
