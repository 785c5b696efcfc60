import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createPgCluster, withPgClusters, type PgCluster } from '../../src/dev/pg-cluster.js';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('throwaway PostgreSQL clusters', { timeout: 180_000 }, () => {
  let source: PgCluster;
  let target: PgCluster;

  before(async () => {
    [source, target] = await Promise.all([createPgCluster({ name: 'source' }), createPgCluster({ name: 'target' })]);
  });
  after(async () => {
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  test('two clusters listen on different loopback ports', async () => {
    assert.notEqual(source.port, target.port);
    assert.equal(source.host, '127.0.0.1');
    const [a, b] = await Promise.all([
      query(source.url(), 'SHOW port'),
      query(target.url(), "SELECT current_setting('port') AS port"),
    ]);
    assert.equal(Number(a.rows[0].port), source.port);
    assert.equal(Number(b.rows[0].port), target.port);
  });

  test('the url carries the password and the database name', () => {
    assert.equal(
      source.url('app db'),
      `postgres://postgres:${encodeURIComponent(source.password)}@127.0.0.1:${source.port}/app%20db`,
    );
    assert.match(source.password, /^[0-9a-f]{32,}$/);
  });

  test('a wrong password fails with SQLSTATE 28P01', async () => {
    const wrong = source.url().replace(encodeURIComponent(source.password), 'not-the-password');
    await assert.rejects(query(wrong, 'SELECT 1'), (error: unknown) => {
      assert.equal((error as { code?: string }).code, '28P01');
      return true;
    });
  });

  test('the database speaks UTF8', async () => {
    const { rows } = await query(source.url(), 'SHOW server_encoding');
    assert.equal(rows[0].server_encoding, 'UTF8');
  });

  test('stop() refuses connections and start() brings the data back on the same port', async () => {
    await query(target.url(), "CREATE TABLE survivors (name text); INSERT INTO survivors VALUES ('영업 데이터')");
    const port = target.port;
    await target.stop();
    await assert.rejects(query(target.url(), 'SELECT 1'), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    await target.start();
    assert.equal(target.port, port);
    const { rows } = await query(target.url(), 'SELECT name FROM survivors');
    assert.deepEqual(rows, [{ name: '영업 데이터' }]);
  });

  test('stop("immediate") also stops the server', async () => {
    await source.stop('immediate');
    await assert.rejects(query(source.url(), 'SELECT 1'));
    await source.start();
    await query(source.url(), 'SELECT 1');
  });

  test('a failing pg_ctl names the command, its exit code and the server log tail', async () => {
    await assert.rejects(source.start(), (error: Error) => {
      assert.match(error.message, /^pg_ctl exited with code 1:/);
      assert.match(error.message, /lock file "postmaster\.pid" already exists/);
      return true;
    });
    await query(source.url(), 'SELECT 1');
  });

  test('destroy() removes the directory and is idempotent', async () => {
    const cluster = await createPgCluster({ name: 'doomed' });
    assert.ok(existsSync(cluster.dataDir));
    await cluster.destroy();
    assert.equal(existsSync(cluster.dataDir), false);
    assert.equal(existsSync(dirname(cluster.dataDir)), false);
    await assert.rejects(query(cluster.url(), 'SELECT 1'));
    await cluster.destroy();
  });
});

describe('withPgClusters', { timeout: 180_000 }, () => {
  test('creates the clusters in parallel and destroys them after fn', async () => {
    const seen = await withPgClusters(['left', 'right'], async (clusters) => {
      assert.deepEqual(
        clusters.map((cluster) => cluster.name),
        ['left', 'right'],
      );
      await Promise.all(clusters.map((cluster) => query(cluster.url(), 'SELECT 1')));
      return clusters;
    });
    for (const cluster of seen) assert.equal(existsSync(cluster.dataDir), false);
  });

  test('destroys the clusters when fn throws', async () => {
    let seen: PgCluster[] = [];
    await assert.rejects(
      withPgClusters(['doomed'], (clusters) => {
        seen = clusters;
        return Promise.reject(new Error('boom'));
      }),
      /boom/,
    );
    assert.equal(seen.length, 1);
    assert.equal(existsSync(seen[0]?.dataDir ?? '/'), false);
  });
});
