/**
 * Stopping `pgferry dev` stops everything it started (issue 12 item 9): stopped with SIGTERM
 * mid-copy, it left the Temporal server listening and a psql running, and the `copy --wait`
 * waiting on it hung. Real processes throughout: `pgferry dev` and `pgferry copy --wait` as
 * subprocesses, real clusters, a paced source that keeps the copy mid-stream.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { createPgClusters, findFreePort, type PgCluster } from '../../src/dev/pg-cluster.js';
import {
  makePacedView,
  REPO_ROOT,
  setPace,
  waitFor,
  waitForRowsImported,
  waitUntilGone,
} from '../support/copy-harness.js';
import { requirePsql } from '../support/copy-world.js';
import { canConnect } from '../support/network.js';
import { forceKill } from '../support/processes.js';

const VIEW = { schema: 'public', table: 'dev_paced' };

/** Descendants of `root` (children, grandchildren, ...), read from /proc. */
function descendants(root: number): { pid: number; comm: string }[] {
  const parents = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue;
      parents.set(Number(entry), { ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  const found: { pid: number; comm: string }[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, info] of parents) {
      if (info.ppid === parent) {
        found.push({ pid, comm: info.comm });
        queue.push(pid);
      }
    }
  }
  return found;
}

function spawnCli(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const subprocess = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...env },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
  });
  subprocess.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  subprocess.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { subprocess, stdout: () => stdout, stderr: () => stderr };
}

describe('stopping pgferry dev', () => {
  let clusters: PgCluster[] = [];
  const started: number[] = [];

  before(async () => {
    requirePsql();
    clusters = await createPgClusters(['devstop-src', 'devstop-tgt']);
    await makePacedView(clusters[0]!.url(), VIEW, 200_000);
  });

  after(async () => {
    forceKill(started);
    await Promise.all(clusters.map((cluster) => cluster.destroy()));
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} mid-copy stops the server, the UI, the worker's psql, and the waiting copy reports the lost server`, async () => {
      const [source, target] = clusters as [PgCluster, PgCluster];
      const [port, uiPort, metricsPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
      const dev = spawnCli(['dev', '--port', String(port), '--ui-port', String(uiPort)], {
        PGFERRY_CONN_SOURCE: source.url(),
        PGFERRY_CONN_TARGET: target.url(),
        PGFERRY_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
      });
      started.push(dev.subprocess.pid!);
      await waitFor(
        'pgferry dev to be ready',
        () => (/pgferry dev: Temporal at/.test(dev.stdout()) ? true : undefined),
        120_000,
      );

      await setPace(source.url(), 20);
      const copy = spawnCli(['copy', '--source', 'source', '--target', 'target', '--table', VIEW.table, '--wait'], {
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        PGFERRY_TEMPORAL_RETRY: '10s',
      });
      started.push(copy.subprocess.pid!);
      await waitForRowsImported(target.url());
      const before = descendants(dev.subprocess.pid!);
      const psqlPids = before.filter((child) => child.comm === 'psql').map((child) => child.pid);
      assert.equal(psqlPids.length, 2, `dev runs the export and import psql: ${JSON.stringify(before)}`);
      // The dev worker serves metrics like `pgferry worker` does: the pipe in flight shows.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^pgferry_pipes_in_flight\{[^}]*\} 1$/m, metrics);

      process.kill(dev.subprocess.pid!, signal);
      const devEnd = await dev.subprocess;
      await setPace(source.url(), 0);

      // Killed by its own signal means it never ran its shutdown (what happened before the fix).
      assert.equal(devEnd.signal, undefined, dev.stderr());
      assert.equal(devEnd.exitCode, 0, dev.stderr());
      const left = before.filter((child) => isLive(child.pid));
      assert.deepEqual(left, [], `processes dev started outlived it: ${JSON.stringify(left)}`);
      await waitUntilGone(psqlPids);
      assert.equal(await canConnect(`127.0.0.1:${port}`), false, 'the Temporal server stopped');
      assert.equal(await canConnect(`127.0.0.1:${uiPort}`), false, 'the UI stopped');

      const copyEnd = await copy.subprocess;
      assert.notEqual(copyEnd.exitCode, 0);
      assert.match(copy.stderr(), new RegExp(`Temporal at 127\\.0\\.0\\.1:${port} did not answer; tried for`));
    });
  }
});

function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
