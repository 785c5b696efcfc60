/**
 * The long-running commands as a user runs them: `pgferry dev` prints one ready line and stops
 * its server on SIGTERM; `pgferry worker` shuts down gracefully; every command has --help.
 */
import { after, before, describe, it } from 'node:test';
import { canConnect } from '../support/network.js';
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import { findFreePort } from '../../src/dev/pg-cluster.js';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';

const CLI = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'] as const;

function pgferry(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; all: true }> {
  return execa(CLI[0], [...CLI.slice(1), ...args], { reject: false, all: true, env: { ...process.env, ...env } });
}

/** Resolves with the first stdout line matching `pattern`. */
function waitForLine(child: ResultPromise, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((candidate) => pattern.test(candidate));
      if (line) resolve(line);
    });
    void child.then((result) => reject(new Error(`exited before printing ${pattern}: ${String(result.all)}`)));
  });
}

describe('pgferry dev', () => {
  it('prints one ready line with the Temporal address and UI URL, serves both, and stops them on SIGTERM', async () => {
    const [port, uiPort] = [await findFreePort(), await findFreePort()];
    const dev = pgferry(['dev', '--port', String(port), '--ui-port', String(uiPort)], { PGFERRY_CONN_DEMO: '' });
    const line = await waitForLine(dev, /pgferry dev:/);
    assert.match(line, new RegExp(`Temporal at 127\\.0\\.0\\.1:${port}`));
    assert.match(line, new RegExp(`UI at http://127\\.0\\.0\\.1:${uiPort}`));
    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    assert.equal(ui.status, 200);
    assert.equal(await canConnect(`127.0.0.1:${port}`), true);

    dev.kill('SIGTERM');
    const result = await dev;
    assert.equal(result.exitCode, 0, String(result.all));
    assert.equal(await canConnect(`127.0.0.1:${port}`), false, 'the dev server still listens after pgferry dev exited');
    assert.equal(await canConnect(`127.0.0.1:${uiPort}`), false, 'the UI still listens after pgferry dev exited');
  });
});

describe('pgferry worker', () => {
  let server: DevServer;
  before(async () => {
    server = await startDevServer({ ui: false });
  });
  after(async () => {
    await server.teardown();
  });

  it('polls the task queue from TEMPORAL_ADDRESS and exits 0 on SIGTERM', async () => {
    const worker = pgferry(['worker'], {
      TEMPORAL_ADDRESS: server.address,
      PGFERRY_TASK_QUEUE: 'cli-worker-test',
      PGFERRY_CONN_SOURCE: 'postgres://nobody@127.0.0.1:1/none',
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      worker.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('worker on')) resolve();
      });
      void worker.then(() => reject(new Error(`worker exited early: ${stderr}`)));
    });
    assert.match(stderr, /task queue cli-worker-test, profiles: source/);
    assert.doesNotMatch(stderr, /nobody@/, 'the worker must not print connection URLs');
    worker.kill('SIGTERM');
    const result = await worker;
    assert.equal(result.exitCode, 0, String(result.all));
  });

  it('fails with one clear line when Temporal cannot be reached', async () => {
    const port = await findFreePort();
    const result = await pgferry(['worker'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.notEqual(result.exitCode, 0);
    assert.match(
      String(result.all),
      new RegExp(`pgferry: cannot start the worker against Temporal at 127\\.0\\.0\\.1:${port}`),
    );
  });
});

describe('pgferry --help', () => {
  for (const command of [
    [],
    ['copy'],
    ['status'],
    ['cancel'],
    ['list'],
    ['dev'],
    ['worker'],
    ['demo'],
    ['schedule'],
    ['setup'],
    ['schedule', 'update'],
  ]) {
    it(`documents ${command.join(' ') || 'the program'} with --help and exits 0`, async () => {
      const result = await pgferry([...command, '--help']);
      assert.equal(result.exitCode, 0, String(result.all));
      assert.match(String(result.all), /Usage: pgferry/);
    });
  }
});
