/**
 * Issue 2: `pgferry demo` works end to end: a real dev server, two real throwaway clusters, the
 * seeded 100,000-row table copied through the workflow, and the target's rows equal to the
 * source's.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { canConnect } from '../support/network.js';
import { runDemo, type RunningDemo } from '../../src/dev/demo.js';
import { DEMO_TABLE, tableDigest } from '../../src/dev/seed.js';

describe('pgferry demo (issue 2)', { timeout: 300_000 }, () => {
  let demo: RunningDemo | undefined;

  before(async () => {
    demo = await runDemo();
  });
  after(async () => {
    await demo?.stop();
  });

  test('the demo copy completes with 100,000 rows', () => {
    const { outcome } = demo!.result;
    assert.equal(outcome.status, 'COMPLETED', JSON.stringify(outcome.failure));
    assert.equal(outcome.rows, 100_000);
    assert.equal(outcome.workflowId, 'pgferry:target:public.고객_주문');
  });

  test("the target's rows equal the source's rows", async () => {
    const { sourceDigest, targetDigest } = demo!.result;
    assert.equal(sourceDigest.rows, 100_000);
    assert.deepEqual(targetDigest, sourceDigest);
    // Read again here rather than trusting the demo's own comparison.
    const [source, target] = demo!.clusters;
    assert.ok(source && target);
    assert.deepEqual(await tableDigest(target.url(), DEMO_TABLE), await tableDigest(source.url(), DEMO_TABLE));
  });

  test('stop() stops the dev server and removes both clusters', async () => {
    const running = demo!;
    await running.stop();
    demo = undefined;
    assert.equal(await canConnect(running.server.address), false);
    for (const cluster of running.clusters) assert.equal(existsSync(cluster.dataDir), false, cluster.dataDir);
  });
});
