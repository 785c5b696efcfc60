/**
 * Sessions on loan (Databases.openSession / withSession): named for their work while out, kept
 * warm between loans and returned clean, and closed when a failure may have left them busy or a
 * fence ended them. Against a real PostgreSQL cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { query } from '../support/pg.js';

interface BackendState {
  pid: number;
  name: string;
  state: string;
}

async function backend(world: CopyWorld, pid: number): Promise<BackendState | undefined> {
  const { rows } = await query<BackendState>(
    world.targetUrl,
    'SELECT pid, application_name AS name, state FROM pg_stat_activity WHERE pid = $1',
    [pid],
  );
  return rows[0];
}

async function pidOf(client: pg.ClientBase): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('sessions on loan', { timeout: 120_000 }, () => {
  let world: CopyWorld;
  before(async () => {
    world = await createCopyWorld();
  });
  after(async () => {
    await world?.close();
  });

  test('a session is named for its work while out, then comes back to the next loan clean', async () => {
    // Session state, and a transaction left open as a held snapshot leaves it.
    const first = await world.databases.withSession('target', 'pgferry/test/a1/publish', async (client) => {
      await client.query('CREATE TEMP TABLE scratch (n int)');
      await client.query("SET work_mem = '77MB'");
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await client.query('SELECT pg_export_snapshot()');
      const pid = await pidOf(client);
      assert.equal((await backend(world, pid))?.name, 'pgferry/test/a1/publish');
      return pid;
    });
    const idle = await backend(world, first);
    assert.equal(idle?.name, 'pgferry', 'an idle session no longer carries the name of its last work');
    assert.equal(idle?.state, 'idle', 'an idle session holds no transaction');

    await world.databases.withSession('target', 'pgferry/test/a1/verifyCounts', async (client) => {
      assert.equal(await pidOf(client), first, 'the warm session is lent again');
      const { rows } = await client.query<{ temp: string | null; mem: string }>(
        "SELECT to_regclass('pg_temp.scratch')::text AS temp, current_setting('work_mem') AS mem",
      );
      assert.equal(rows[0]!.temp, null, 'its temporary table is gone');
      assert.notEqual(rows[0]!.mem, '77MB', 'its settings are back to the defaults');
    });
  });

  test('a session whose work failed is closed, not lent again', async () => {
    let failedPid = 0;
    await assert.rejects(
      world.databases.withSession('target', 'pgferry/test/a1/publish', async (client) => {
        failedPid = await pidOf(client);
        await client.query('BEGIN');
        await client.query('SELECT 1/0');
      }),
      /division by zero/,
    );
    const next = await world.databases.withSession('target', 'pgferry/test/a2/publish', pidOf);
    assert.notEqual(next, failedPid);
    assert.equal(await backend(world, failedPid), undefined, 'the failed session has ended');
  });

  test('a session a fence terminated fails its work and is never lent again', async () => {
    const session = await world.databases.openSession('target', 'pgferry/test/a1/publish');
    const pid = await pidOf(session.client);
    await query(world.targetUrl, 'SELECT pg_terminate_backend($1)', [pid]);
    await assert.rejects(session.client.query('SELECT 1'));
    await session.close(true);
    const next = await world.databases.withSession('target', 'pgferry/test/a2/publish', pidOf);
    assert.notEqual(next, pid);
  });
});
