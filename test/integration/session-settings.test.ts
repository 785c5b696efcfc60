/**
 * The pinned session settings (src/db/session-settings.ts), against real servers:
 *
 * - Issue 13 item 9: `--verify checksum` between servers in different time zones always failed
 *   as CountMismatch ("row digests differ"): no session pinned TimeZone, so a timestamptz
 *   rendered as Seoul time on the source and New York time on the target.
 * - Issue 13 item 3: a role subject to a row-level security policy exported the subset the policy
 *   showed it, and a replace COMPLETED with 250 of 1,000 rows. The export now reads with
 *   row_security=off, as pg_dump does, so such a role fails as PermissionDenied naming row-level
 *   security and the grant that fixes it; the checksum digest reads under the same setting.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import {
  createActivities,
  type Activities,
  type CreateStagingResult,
  type ExportImportResult,
} from '../../activities/index.js';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { Databases } from '../../src/db/databases.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { VerifyMode } from '../../src/shared/copy-spec.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createCopyHarness, makeTable, parseJson, tableDigestOf, type CopyHarness } from '../support/copy-harness.js';
import { requirePsql } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query } from '../support/pg.js';
import { activityEnvironment } from '../support/run-copy.js';
import type { CopyOutcome } from '../../src/client/outcome.js';

const table = (name: string): TableRef => ({ schema: 'public', table: name });

describe('pinned session settings', () => {
  let h: CopyHarness;

  before(async () => {
    h = await createCopyHarness({
      name: 'session-settings',
      sourceSettings: ['timezone=Asia/Seoul'],
      targetSettings: ['timezone=America/New_York'],
    });
  });

  after(async () => {
    await h?.close();
  });

  test('a checksum copy between servers in different time zones completes with identical rows', async () => {
    const tz = table('tz_t');
    await query(
      h.sourceUrl,
      `CREATE TABLE public.tz_t (id int PRIMARY KEY, at timestamptz, local timestamp, day date, span interval);
       INSERT INTO public.tz_t
         SELECT i,
                timestamptz '2024-03-10 01:30:00+00' + i * interval '7 minutes 13.25 seconds',
                timestamp '2024-11-03 01:15:00' + i * interval '3 hours 1 second',
                date '1999-12-31' + i,
                make_interval(0, i % 13, 0, i % 40, i % 24, i % 60, (i % 1000) / 7.0)
           FROM generate_series(1, 20000) AS i;`,
    );
    const zones = await Promise.all(
      // A session without pgferry's pinned settings sees the server's own time zone.
      [h.sourceUrl, h.targetUrl].map(async (url) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query<{ TimeZone: string }>('SHOW TimeZone')).rows[0]!.TimeZone;
        } finally {
          await client.end();
        }
      }),
    );
    assert.deepEqual(zones, ['Asia/Seoul', 'America/New_York'], 'the servers run in different time zones');

    for (const format of ['binary', 'text']) {
      const result = await h.cli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'tz_t'],
        ...['--verify', 'checksum', '--format', format, '--wait', '--json'],
      ]);
      const outcome = parseJson<CopyOutcome>(result);
      assert.equal(outcome.status, 'COMPLETED', `${format}: ${JSON.stringify(outcome.failure)}`);
      assert.equal(outcome.rows, 20_000);
      assert.deepEqual(await tableDigestOf(h.targetUrl, tz), await tableDigestOf(h.sourceUrl, tz));
    }
  });

  describe('row-level security on the source', () => {
    const rls = table('rls_t');
    let databases: Databases;
    let activities: Activities;

    before(async () => {
      await makeTable(h.sourceUrl, rls, { to: 1000 });
      // A non-superuser with password authentication (the clusters use scram-sha-256 over TCP),
      // allowed to SELECT but shown a quarter of the rows by a policy.
      await query(
        h.sourceUrl,
        `CREATE ROLE reader LOGIN PASSWORD 'reader-pass-0123';
         GRANT SELECT ON public.rls_t TO reader;
         ALTER TABLE public.rls_t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY quarter ON public.rls_t FOR SELECT TO reader USING (id % 4 = 0);`,
      );
      const readerUrl = h.sourceUrl.replace(/\/\/postgres:[^@]*@/, '//reader:reader-pass-0123@');
      databases = new Databases(
        loadConnectionProfiles({ PGFERRY_CONN_READER: readerUrl, PGFERRY_CONN_TARGET: h.targetUrl }),
      );
      activities = createActivities({ databases, psqlPath: requirePsql() });
      const { rows } = await query<{ n: number }>(readerUrl, `SELECT count(*)::int AS n FROM public.rls_t`);
      assert.equal(rows[0]!.n, 250, 'the policy shows the reader a quarter of the rows');
    });

    after(async () => {
      await databases?.end();
    });

    async function copyAsReader(verify: VerifyMode) {
      const env = activityEnvironment();
      const staged: CreateStagingResult = await env.run(activities.createStaging, {
        source: 'reader',
        target: 'target',
        sourceTable: rls,
        targetTable: rls,
        mode: 'replace' as const,
      });
      const input = {
        source: 'reader',
        target: 'target',
        sourceTable: rls,
        staging: staged.staging,
        columns: staged.columns,
        selectForm: staged.selectForm,
        format: 'binary' as const,
        verify,
        stallTimeoutMs: 60_000,
      };
      const copy: Promise<ExportImportResult> = activityEnvironment().run(activities.exportImport, input);
      return { staged, copy };
    }

    for (const verify of ['count', 'checksum'] as const) {
      test(`a role filtered by a policy fails as PermissionDenied naming row-level security (verify ${verify})`, async () => {
        const { staged, copy } = await copyAsReader(verify);
        const failure = await assertFailure(copy, FailureType.PermissionDenied, true);
        assert.match(failure.message, /row-level security/);
        assert.match(failure.message, /BYPASSRLS or ownership of the table/);
        const { rows } = await query<{ n: number }>(
          h.targetUrl,
          `SELECT count(*)::int AS n FROM ${staged.staging.schema}.${staged.staging.table}`,
        );
        assert.equal(rows[0]!.n, 0, 'nothing was loaded into staging');
      });
    }

    test('the same role with BYPASSRLS exports every row, as the hint says', async () => {
      await query(h.sourceUrl, 'ALTER ROLE reader BYPASSRLS');
      try {
        const { copy } = await copyAsReader('checksum');
        const result = await copy;
        assert.equal(result.sourceRows, 1000);
        assert.equal(result.importedRows, 1000);
        assert.equal(result.sourceDigest?.rows, '1000');
      } finally {
        await query(h.sourceUrl, 'ALTER ROLE reader NOBYPASSRLS');
      }
    });
  });
});
