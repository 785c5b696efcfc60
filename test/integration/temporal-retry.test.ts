/**
 * The CLI rides out a Temporal frontend that is not up yet or too busy, for a bounded time
 * (issue 12 item 8): thirty `pgferry copy` commands started at once failed five times with
 * "cannot reach Temporal" while the server was up and busy, after a single 5 s connect attempt.
 * Real processes: the CLI as a subprocess, a real dev server started after it, real clusters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { createPgClusters, findFreePort, type PgCluster } from '../../src/dev/pg-cluster.js';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { createPgferryWorker, type PgferryWorker } from '../../src/worker/create-worker.js';
import { makeTable, parseJson, REPO_ROOT, tableDigestOf, waitFor } from '../support/copy-harness.js';
import { requirePsql } from '../support/copy-world.js';
import type { CopyOutcome } from '../../src/client/outcome.js';

const TABLE = { schema: 'public', table: 'late_t' };

/** `pgferry <args>` with exactly `env` (plus PATH and HOME), collecting stderr as it comes. */
function spawnCli(args: string[], env: Record<string, string>) {
  let stderr = '';
  const subprocess = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...env },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
  });
  subprocess.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { subprocess, stderr: () => stderr };
}

describe('the CLI retries Temporal for a bounded time', () => {
  let clusters: PgCluster[] = [];
  let server: DevServer | undefined;
  let worker: PgferryWorker | undefined;
  let running: Promise<void> | undefined;

  before(async () => {
    requirePsql();
    clusters = await createPgClusters(['retry-src', 'retry-tgt']);
    await makeTable(clusters[0]!.url(), TABLE, { to: 5_000 });
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await server?.teardown();
    await Promise.all(clusters.map((cluster) => cluster.destroy()));
  });

  test('with no server at all, copy fails after the bound, naming the address and the time it tried', async () => {
    const address = `127.0.0.1:${await findFreePort()}`;
    const cli = spawnCli(['copy', '--source', 'source', '--target', 'target', '--table', 'late_t', '--wait'], {
      TEMPORAL_ADDRESS: address,
      PGFERRY_TEMPORAL_RETRY: '3s',
    });
    const result = await cli.subprocess;
    assert.equal(result.exitCode, 1, cli.stderr());
    assert.match(
      cli.stderr(),
      new RegExp(
        `cannot reach Temporal: Temporal at ${address} did not answer; tried for \\d+\\.\\ds \\(\\d+ attempts`,
      ),
    );
  });

  test('a copy started before the server listens starts once the server comes up, and completes', async () => {
    const [source, target] = clusters as [PgCluster, PgCluster];
    const port = await findFreePort();
    const taskQueue = 'pgferry-test-late-server';
    const cli = spawnCli(
      ['copy', '--source', 'source', '--target', 'target', '--table', 'late_t', '--wait', '--json'],
      {
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        PGFERRY_TASK_QUEUE: taskQueue,
        PGFERRY_TEMPORAL_RETRY: '2m',
      },
    );
    // The CLI is waiting for a server that is not there yet (its retry notice proves it).
    await waitFor('the CLI to wait for Temporal', () => (/does not answer yet/.test(cli.stderr()) ? true : undefined));
    server = await startDevServer({ port, ui: false });
    worker = await createPgferryWorker({
      connection: server.env.nativeConnection,
      settings: { address: server.address, namespace: server.namespace, taskQueue },
      profiles: loadConnectionProfiles({ PGFERRY_CONN_SOURCE: source.url(), PGFERRY_CONN_TARGET: target.url() }),
    });
    running = worker.run();
    const result = await cli.subprocess;
    const outcome = parseJson<CopyOutcome>({
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout),
      stderr: cli.stderr(),
    });
    assert.equal(outcome.status, 'COMPLETED', cli.stderr());
    assert.deepEqual(await tableDigestOf(target.url(), TABLE), await tableDigestOf(source.url(), TABLE));
  });
});
