/**
 * exportImport against two real PostgreSQL clusters and the real psql (issue 3): exact values,
 * the fence under SIGKILL/SIGSTOP of either side, a source server that goes away, the
 * non-retryable failures, cancellation, and no psql left behind.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/failure-types.js';
import { quoteTable, type TableRef } from '../../src/shared/table-name.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, rowCount, tableDigest, waitForImportProgress } from '../support/pg.js';
import { assertNoPsqlLeft, forceKill, isAlive, waitForPsqlPair } from '../support/processes.js';
import { activityEnvironment, copyToStaging, createStaging, exportImport } from '../support/run-copy.js';

const KOREAN: TableRef = { schema: '영업 데이터', table: '고객 "VIP" 주문' };
const BIG: TableRef = { schema: 'public', table: 'big orders' };
const BIG_ROWS = 500_000;

const KOREAN_SQL = `
CREATE SCHEMA "영업 데이터";
CREATE TABLE "영업 데이터"."고객 ""VIP"" 주문" (
  id int PRIMARY KEY,
  "메모 ""비고""" text,
  raw bytea,
  ints int[],
  tags text[],
  doc jsonb,
  amount numeric,
  ratio float8,
  at timestamptz,
  span interval
);
INSERT INTO "영업 데이터"."고객 ""VIP"" 주문" VALUES
  (1, E'tab\\there\\nnewline\\\\backslash', '\\x00'::bytea, '{1,2,3}', '{"a b","c,d"}', '{"k": "v"}',
      1.5, 1.5, '2024-02-29 23:59:59.123456+09', '1 year 2 mons -3 days 04:05:06.789'),
  (2, E'\\\\.', '\\x0000ff00'::bytea, '{NULL,-2147483648}', ARRAY[NULL, 'NULL', '', E'\\\\', '"', E'\\t'],
      '{"nested": [1, {"a": null}], "uni": "한글\\n"}', 'NaN', 'NaN', 'infinity', '-178000000 years'),
  (3, '', '\\x'::bytea, '{}', '{}', '[]', 'Infinity', 'Infinity', '-infinity', '0'),
  (4, NULL, NULL, NULL, NULL, NULL, '-Infinity', '-Infinity', NULL, NULL),
  (5, E'line one\\n\\\\.\\nline three', decode('00' || repeat('5c00', 100) || '0a0d', 'hex'), '{{1,2},{3,4}}',
      '{"영업","데이터 \\"x\\""}', '"just a string"', 123456789012345678901234567890.123456789, 0.1,
      '0001-01-01 00:00:00+00 BC', '-1 days +23:59:59.999999'),
  (6, E'\\\\N', '\\x5c4e'::bytea, '{0}', '{"\\\\N"}', 'null', -0.0, '-0', '2000-01-01 00:00:00+00', '1 microsecond'),
  (7, E'\\r\\ncarriage\\r', '\\x0a'::bytea, NULL, '{" "}', '{"a": "\\\\."}', 0, 1e-310, 'epoch', '-2 hours'),
  (8, E'\\\\.\\n', '\\x5c2e'::bytea, '{7}', '{"\\\\."}', '{}', 1e-20, 1.7976931348623157e308, now(), '3 days');
`;

describe('exportImport between two real clusters', { timeout: 600_000 }, () => {
  let world: CopyWorld;
  /** pids a test saw or signalled; all must be gone after the test. */
  let seenPids: number[] = [];

  before(async () => {
    world = await createCopyWorld();
    await query(world.sourceUrl, KOREAN_SQL);
    await query(
      world.sourceUrl,
      `CREATE TABLE "big orders" (id int PRIMARY KEY, pad text, amount numeric, at timestamptz);
       INSERT INTO "big orders"
         SELECT g, repeat(md5(g::text), 3), g * 1.5, timestamptz '2024-01-01' + g * interval '1 second'
           FROM generate_series(1, ${BIG_ROWS}) g`,
    );
    await query(
      world.sourceUrl,
      `CREATE TABLE mixed (id int, val text); INSERT INTO mixed VALUES (1, '42'), (2, 'not a number')`,
    );
  });

  after(async () => {
    await world?.close();
  });

  afterEach(() => {
    const pids = seenPids;
    seenPids = [];
    assertNoPsqlLeft(pids);
  });

  /** Starts a copy of BIG into fresh staging and resolves once the import is mid-COPY. */
  async function startBigCopy(options: Parameters<typeof exportImport>[3] = {}) {
    const staging = await createStaging(world, BIG);
    const env = options.env ?? activityEnvironment();
    const running = exportImport(world, BIG, staging, { ...options, env });
    running.catch(() => undefined);
    const pids = await waitForPsqlPair();
    seenPids.push(pids.exportPid, pids.importPid);
    await waitForImportProgress(world.targetUrl);
    return { staging, env, running, ...pids };
  }

  for (const format of ['binary', 'text'] as const) {
    test(`${format} format copies every value of a Korean, quoted table name exactly`, async () => {
      const { staging, result } = await copyToStaging(world, KOREAN, { format });
      const [source, copied] = await Promise.all([
        tableDigest(world.sourceUrl, KOREAN),
        tableDigest(world.targetUrl, staging.staging),
      ]);
      assert.equal(source.rows, 8);
      assert.deepEqual(copied, source);
      assert.deepEqual(staging.columns, [
        'id',
        '메모 "비고"',
        'raw',
        'ints',
        'tags',
        'doc',
        'amount',
        'ratio',
        'at',
        'span',
      ]);
      assert.equal(result.importedRows, 8);
      assert.equal(result.sourceRows, 8);
      assert.ok(result.bytes > 0);
    });
  }

  test('NULL and the empty string stay distinct after a copy', async () => {
    const { staging } = await copyToStaging(world, KOREAN, { format: 'text' });
    const { rows } = await query<{ id: number; is_null: boolean; note: string | null }>(
      world.targetUrl,
      `SELECT id, "메모 ""비고""" IS NULL AS is_null, "메모 ""비고""" AS note
         FROM ${quoteTable(staging.staging)} WHERE id IN (2, 3, 4, 6) ORDER BY id`,
    );
    assert.deepEqual(rows, [
      { id: 2, is_null: false, note: '\\.' },
      { id: 3, is_null: false, note: '' },
      { id: 4, is_null: true, note: null },
      { id: 6, is_null: false, note: '\\N' },
    ]);
  });

  test('a large table copies with equal digests and the source and imported counts agree', async () => {
    const { staging, result } = await copyToStaging(world, BIG, { format: 'binary' });
    assert.equal(result.sourceRows, BIG_ROWS);
    assert.equal(result.importedRows, BIG_ROWS);
    assert.deepEqual(await tableDigest(world.targetUrl, staging.staging), await tableDigest(world.sourceUrl, BIG));
  });

  test('export SIGKILLed mid-stream fails as ExportKilled and leaves staging empty', async () => {
    const copy = await startBigCopy({ format: 'text' });
    process.kill(copy.exportPid, 'SIGKILL');
    const failure = await assertFailure(copy.running, FailureType.ExportKilled, false);
    assert.match(failure.message, /export psql \(pid \d+\) killed by SIGKILL/);
    assert.equal(await rowCount(world.targetUrl, copy.staging.staging), 0);
    assert.equal(isAlive(copy.importPid), false);
  });

  test('a re-run after a killed export copies every row', async () => {
    const copy = await startBigCopy({ format: 'binary' });
    process.kill(copy.exportPid, 'SIGKILL');
    await assertFailure(copy.running, FailureType.ExportKilled, false);
    const result = await exportImport(world, BIG, copy.staging, { format: 'binary' });
    assert.equal(result.importedRows, BIG_ROWS);
    assert.deepEqual(await tableDigest(world.targetUrl, copy.staging.staging), await tableDigest(world.sourceUrl, BIG));
  });

  test('import SIGKILLed mid-stream fails as ImportKilled, not ExportFailed, and leaves staging empty', async () => {
    const copy = await startBigCopy({ format: 'binary' });
    process.kill(copy.importPid, 'SIGKILL');
    const failure = await assertFailure(copy.running, FailureType.ImportKilled, false);
    assert.match(failure.message, /^import psql \(pid \d+\) killed by SIGKILL/);
    assert.equal(await rowCount(world.targetUrl, copy.staging.staging), 0);
    assert.equal(isAlive(copy.exportPid), false);
  });

  test('a SIGSTOPped export fails as CopyStalled after the stall timeout with both psql killed', async () => {
    const copy = await startBigCopy({ format: 'text', stallTimeoutMs: 2_000 });
    try {
      process.kill(copy.exportPid, 'SIGSTOP');
      const failure = await assertFailure(copy.running, FailureType.CopyStalled, false);
      assert.match(failure.message, /the target received no COPY data for 2s/);
      assert.equal(isAlive(copy.exportPid), false);
      assert.equal(isAlive(copy.importPid), false);
      assert.equal(await rowCount(world.targetUrl, copy.staging.staging), 0);
    } finally {
      forceKill([copy.exportPid]);
    }
  });

  test('cancellation mid-copy rejects with CancelledFailure, kills both psql and leaves staging as it was', async () => {
    const staging = await createStaging(world, BIG);
    await exportImport(world, BIG, staging, { format: 'binary' });
    const before = await tableDigest(world.targetUrl, staging.staging);
    assert.equal(before.rows, BIG_ROWS);

    const env = activityEnvironment();
    const running = exportImport(world, BIG, staging, { format: 'binary', env });
    running.catch(() => undefined);
    const pids = await waitForPsqlPair();
    seenPids.push(pids.exportPid, pids.importPid);
    await waitForImportProgress(world.targetUrl);
    env.cancel();
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof CancelledFailure, `expected CancelledFailure, got ${String(error)}`);
      return true;
    });
    for (const pid of [pids.exportPid, pids.importPid]) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    }
    assert.deepEqual(await tableDigest(world.targetUrl, staging.staging), before);
  });

  test('missing source table fails exportImport as SourceTableNotFound, non-retryable', async () => {
    const missing: TableRef = { schema: 'public', table: 'no such table' };
    await query(world.targetUrl, 'CREATE TABLE IF NOT EXISTS public.orphan_staging (id int)');
    const failure = await assertFailure(
      exportImport(world, missing, {
        staging: { schema: 'public', table: 'orphan_staging' },
        columns: ['id'],
        selectForm: false,
      }),
      FailureType.SourceTableNotFound,
      true,
    );
    assert.match(failure.message, /no such table/);
  });

  test('missing source table fails createStaging as SourceTableNotFound, non-retryable', async () => {
    await assertFailure(
      createStaging(world, { schema: 'public', table: 'no such table' }),
      FailureType.SourceTableNotFound,
      true,
    );
  });

  test('a wrong password fails as AuthenticationFailed, non-retryable, without leaking the password', async () => {
    const staging = await createStaging(world, KOREAN);
    const failure = await assertFailure(
      exportImport(world, KOREAN, staging, { source: 'wrongpass' }),
      FailureType.AuthenticationFailed,
      true,
    );
    const text = JSON.stringify({ message: failure.message, details: failure.details });
    assert.ok(!text.includes(world.wrongPassword), text);
    assert.ok(!text.includes(world.source.password), text);
  });

  test('a value the staging column rejects fails as DataRejected, non-retryable, and commits nothing', async () => {
    const staging: TableRef = { schema: 'public', table: 'mixed_int_staging' };
    await query(
      world.targetUrl,
      `DROP TABLE IF EXISTS mixed_int_staging; CREATE TABLE mixed_int_staging (id int, val int);
       INSERT INTO mixed_int_staging VALUES (99, 99)`,
    );
    const source: TableRef = { schema: 'public', table: 'mixed' };
    const failure = await assertFailure(
      exportImport(world, source, { staging, columns: ['id', 'val'], selectForm: false }, { format: 'text' }),
      FailureType.DataRejected,
      true,
    );
    assert.match(failure.message, /22P02/);
    const { rows } = await query(world.targetUrl, 'SELECT id, val FROM mixed_int_staging');
    assert.deepEqual(rows, [{ id: 99, val: 99 }]);
  });

  // Last: it stops and restarts the source server.
  test('source server stopped mid-copy fails retryably and a re-run after restart copies every row', async () => {
    const copy = await startBigCopy({ format: 'text' });
    let stopped = false;
    try {
      // Pause the export so the server is gone before the stream can finish, then let it find out.
      process.kill(copy.exportPid, 'SIGSTOP');
      await world.source.stop('immediate');
      stopped = true;
      process.kill(copy.exportPid, 'SIGCONT');
      await assertFailure(
        copy.running,
        [FailureType.ConnectionLost, FailureType.ExportFailed, FailureType.ExportKilled],
        false,
      );
      assert.equal(await rowCount(world.targetUrl, copy.staging.staging), 0);
      await world.source.start();
      stopped = false;
      const result = await exportImport(world, BIG, copy.staging, { format: 'text' });
      assert.equal(result.importedRows, BIG_ROWS);
      assert.deepEqual(
        await tableDigest(world.targetUrl, copy.staging.staging),
        await tableDigest(world.sourceUrl, BIG),
      );
    } finally {
      forceKill([copy.exportPid]);
      if (stopped) await world.source.start();
    }
  });
});
