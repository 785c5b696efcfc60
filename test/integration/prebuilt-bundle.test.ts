/**
 * Issue 15: the compiled worker (`bin/pgferry.js worker`, as in the production image) loads the
 * workflow bundle `npm run build` wrote instead of running webpack at start, and copies with it.
 * Needs `npm run build` first (npm test's pretest does it).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  REPO_ROOT,
  tableDigestOf,
  type CopyHarness,
} from '../support/copy-harness.js';

describe('prebuilt workflow bundle (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  before(async () => {
    h = await createCopyHarness({ name: 'prebuilt-bundle', worker: false });
  });
  after(async () => {
    await h?.close();
  });

  test('npm run build writes dist/workflow-bundle.js, and the compiled worker copies with it without bundling', async () => {
    assert.ok(existsSync(`${REPO_ROOT}dist/workflow-bundle.js`), 'run `npm run build` first');
    await makeTable(h.sourceUrl, { schema: 'public', table: 'bundled_orders' }, { to: 1_000 });
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('PGFERRY_') && !key.startsWith('TEMPORAL_')),
    );
    const worker = execa(process.execPath, ['bin/pgferry.js', 'worker'], {
      cwd: REPO_ROOT,
      env: { ...base, ...h.cliEnv, PGFERRY_LOG_FORMAT: 'json', PGFERRY_LOG_LEVEL: 'info' },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
    });
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        worker.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('worker on')) resolve();
        });
        void worker.then(() => reject(new Error(`worker exited early: ${stderr}`)));
      });
      const copy = await h.cli(
        ['copy', '--source', 'source', '--target', 'target', '--table', 'bundled_orders'].concat(['--wait', '--json']),
      );
      assertExitedOk(copy);
      assert.equal(parseJson<{ status: string }>(copy).status, 'COMPLETED');
      assert.deepEqual(
        await tableDigestOf(h.targetUrl, { schema: 'public', table: 'bundled_orders' }),
        await tableDigestOf(h.sourceUrl, { schema: 'public', table: 'bundled_orders' }),
      );
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
    const messages = stderr
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { message: string }).message);
    assert.ok(messages.some((message) => message.startsWith('worker on')));
    // The SDK logs this line (INFO) whenever it runs webpack at worker start.
    assert.ok(!messages.includes('Workflow bundle created'), `the compiled worker bundled:\n${messages.join('\n')}`);
  });
});
