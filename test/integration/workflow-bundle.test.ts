/**
 * The sandbox boundary: the workflows bundle with Temporal's own bundler, which refuses Node
 * built-ins, and the bundle carries no database driver, process library or activity code.
 * `tsc` cannot see such a leak; this test can. A deliberately leaky workflow shows the check
 * has teeth.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker/create-worker.js';

const quiet = new DefaultLogger('ERROR');

describe('workflow bundle', { timeout: 120_000 }, () => {
  let code: string;

  before(async () => {
    ({ code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quiet }));
  });

  test('the workflows bundle for the sandbox and include copyTable', () => {
    assert.match(code, /copyTable/);
    // Module paths are kept in the bundle, so the absence checks below are meaningful.
    assert.match(code, /node_modules\/@temporalio\/workflow\//);
  });

  test('the bundle requires no Node built-in', () => {
    assert.doesNotMatch(code, /require\(["'](node:)?(fs|path|os|child_process|crypto|net|http|https|stream)["']\)/);
    assert.doesNotMatch(code, /["']node:[a-z_]+["']/);
  });

  test('the bundle holds neither pg nor execa nor the activity implementations', () => {
    assert.doesNotMatch(code, /require\(["'](pg|execa|pg-[a-z-]+)["']\)/);
    assert.doesNotMatch(code, /node_modules\/(pg|pg-[a-z-]+|execa)\//);
    assert.doesNotMatch(code, /activities\/(export-import|create-staging|publish|verify-counts)\./);
    assert.doesNotMatch(code, /src\/(pipe|db|config)\//);
  });

  test('a workflow that imports pg does not bundle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgferry-leaky-'));
    try {
      const leaky = join(dir, 'workflows.js');
      await writeFile(leaky, `import pg from 'pg';\nexport async function leaky() { return typeof pg.Client; }\n`);
      const nodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
      const messages: string[] = [];
      const collecting = new DefaultLogger('WARN', (entry) => messages.push(entry.message));
      await assert.rejects(
        bundleWorkflowCode({
          workflowsPath: leaky,
          logger: collecting,
          // The file lives outside the checkout: let it resolve packages from ours.
          webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, modules: [nodeModules] } }),
        }),
        /Webpack finished with errors/,
      );
      // pg's own require of a Node built-in is what the sandbox bundler refuses.
      assert.match(
        messages.join('\n'),
        /Can't resolve '(util|net|dns|crypto|events|stream)' in '[^']*node_modules\/pg/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
