/**
 * The Temporal web UI shows a pgferry run the way docs/design.md ("The workflow") promises: found by its search
 * attribute, with the summary, the four activities and the retried attempt's failure type.
 * Drives Debian's Chromium (apt-get install chromium) headless through playwright-core against a
 * real dev server, real clusters and an in-process worker. No Chromium is a failure, not a skip.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { parseTableName } from '../../src/shared/table-name.js';
import { query, tableDigest, waitForImportProgress } from '../support/pg.js';
import { psqlChildren, waitForPsqlPair } from '../support/processes.js';
import { assertExitedOk } from '../support/copy-harness.js';
import { startScheduleHarness, type ScheduleHarness } from '../support/schedule-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = 'test-output/ui-run.png';
const ROWS = 500_000;
const WORKFLOW_ID = 'pgferry:target:public.t';
const SUMMARY = 'source:public.t → target:public.t (replace)';
const ACTIVITIES = ['createStaging', 'exportImport', 'verifyCounts', 'publish'];

interface StatusJson {
  status: string;
  summary?: string;
  attempts: { activity: string; attempt: number; failureType: string }[];
}

/** Runs a copy of public.t whose first export is SIGKILLed mid-stream; resolves once it completed. */
async function copyWithKilledExport(h: ScheduleHarness): Promise<void> {
  const copy = await h.cli(['copy', '--source', 'source', '--target', 'target', '--table', 't']);
  assertExitedOk(copy);
  // The worker runs in this process, so its psql children are ours; PGAPPNAME names the side.
  const { exportPid } = await waitForPsqlPair();
  await waitForImportProgress(h.world.targetUrl);
  process.kill(exportPid, 'SIGKILL');
  await h.client.workflow.getHandle(WORKFLOW_ID).result();

  const status = await h.cliJson<StatusJson>(['status', WORKFLOW_ID]);
  assert.equal(status.status, 'COMPLETED');
  assert.deepEqual(
    status.attempts.map(({ activity, attempt, failureType }) => ({ activity, attempt, failureType })),
    [{ activity: 'exportImport', attempt: 1, failureType: 'ExportKilled' }],
  );
  const table = parseTableName('t');
  assert.deepEqual(await tableDigest(h.world.targetUrl, table), await tableDigest(h.world.sourceUrl, table));
  assert.deepEqual(psqlChildren(), [], 'psql children left behind');
}

const bodyText = (page: Page) => page.locator('body').innerText();

test(
  'the Temporal UI finds the run by PgferryTable and shows its summary, activities and the ExportKilled retry',
  {
    timeout: 300_000,
  },
  async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: this test drives the system Chromium (Debian: apt-get install -y chromium)`,
    );
    const h = await startScheduleHarness({ taskQueue: 'pgferry-ui-test', ui: true });
    const profile = await mkdtemp(join(tmpdir(), 'pgferry-chromium-'));
    try {
      assert.ok(h.server.uiUrl, 'the dev server serves the UI');
      await query(
        h.world.sourceUrl,
        `CREATE TABLE t (id int PRIMARY KEY, pad text);
       INSERT INTO t SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, ${ROWS}) g`,
      );
      await copyWithKilledExport(h);

      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1600, height: 1200 },
      });
      try {
        const page = await context.newPage();
        const search = encodeURIComponent('PgferryTable="public.t"');
        await page.goto(`${h.server.uiUrl}/namespaces/default/workflows?query=${search}`);
        // The list's link to the run: /namespaces/default/workflows/<id>/<run>/history.
        const link = page.locator(`a[href*="/workflows/${encodeURIComponent(WORKFLOW_ID)}/"]`).first();
        await link.waitFor({ timeout: 30_000 });
        assert.match(await bodyText(page), /PgferryTable\s*=\s*"public\.t"/);
        await link.click();
        await page.waitForURL(/\/history/);
        await page.getByText('Workflow Execution Completed').first().waitFor({ timeout: 30_000 });

        const history = await bodyText(page);
        assert.ok(history.includes(SUMMARY), `summary "${SUMMARY}" not on the run page`);
        const scheduled = await page.locator('tr', { hasText: 'Activity Task Scheduled' }).allInnerTexts();
        for (const activity of ACTIVITIES) {
          assert.ok(
            scheduled.some((row) => row.includes(activity)),
            `activity ${activity} not in the event history: ${scheduled.join(' | ')}`,
          );
        }

        // The retried attempt's ActivityTaskStarted carries the first attempt's failure as lastFailure:
        // expanding that event shows it.
        const retried = page.locator('tr', { hasText: 'Activity Task Started' }).filter({ hasText: /Attempt\s*2/ });
        assert.equal(await retried.count(), 1, 'one exportImport attempt 2 in the history');
        await retried.click();
        const failureType = page.getByText('ExportKilled').first();
        await failureType.waitFor({ timeout: 15_000 });
        await failureType.scrollIntoViewIfNeeded();
        assert.match(await bodyText(page), /Last Failure[\s\S]*"type":\s*"ExportKilled"/);

        await mkdir('test-output', { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
        assert.ok(existsSync(SCREENSHOT));
      } finally {
        await context.close();
      }
    } finally {
      await h.close();
      await rm(profile, { recursive: true, force: true });
    }
  },
);
