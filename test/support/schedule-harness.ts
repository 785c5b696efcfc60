/**
 * A real Temporal dev server, two real clusters (profiles `source`, `target`) and an in-process
 * pgferry worker, with the pgferry CLI driven as a subprocess against them: what the schedule and
 * UI tests share. Every part is real; anything missing fails `startScheduleHarness`.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execa, type Result } from 'execa';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { createPgferryWorker, type PgferryWorker } from '../../src/worker/create-worker.js';
import { createCopyWorld, type CopyWorld } from './copy-world.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface ScheduleHarness {
  server: DevServer;
  world: CopyWorld;
  client: Client;
  taskQueue: string;
  /** Environment for the CLI: Temporal address, task queue and the two profiles. */
  env: NodeJS.ProcessEnv;
  /** Runs `pgferry <args>` (tsx, from the sources); never rejects on a non-zero exit. */
  cli(args: string[]): Promise<Result<{ reject: false }>>;
  /** `pgferry <args> --json` that must succeed; returns the parsed stdout. */
  cliJson<T>(args: string[]): Promise<T>;
  close(): Promise<void>;
}

export interface ScheduleHarnessOptions {
  taskQueue: string;
  /** Serve the Temporal web UI (default false). */
  ui?: boolean;
}

/** The worker's INFO lines (bundle stats, state changes) would bury the test output. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier harness in this process.
  }
}

export async function startScheduleHarness(options: ScheduleHarnessOptions): Promise<ScheduleHarness> {
  quietRuntime();
  const server = await startDevServer({ ui: options.ui ?? false });
  let world: CopyWorld | undefined;
  let worker: PgferryWorker | undefined;
  let running: Promise<void> | undefined;
  const close = async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await world?.close();
    await server.teardown();
  };
  try {
    world = await createCopyWorld();
    const settings = { address: server.address, namespace: server.namespace, taskQueue: options.taskQueue };
    worker = await createPgferryWorker({
      connection: server.env.nativeConnection,
      settings,
      profiles: world.profiles,
      psqlPath: world.psqlPath,
      shutdownGraceTime: '2s',
    });
    running = worker.run();
  } catch (error) {
    await close();
    throw error;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    PGFERRY_TASK_QUEUE: options.taskQueue,
    PGFERRY_CONN_SOURCE: world.sourceUrl,
    PGFERRY_CONN_TARGET: world.targetUrl,
  };
  const cli = (args: string[]) =>
    execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO,
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
  return {
    server,
    world,
    client: server.env.client,
    taskQueue: options.taskQueue,
    env,
    cli,
    async cliJson<T>(args: string[]) {
      const result = await cli([...args, '--json']);
      if (result.exitCode !== 0) {
        throw new Error(`pgferry ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      }
      return JSON.parse(result.stdout) as T;
    },
    close,
  };
}

/**
 * Polls `check` until it returns a value other than undefined; fails after `timeoutMs` with
 * `what` and the last value seen. A bound on hanging, not a timing assertion.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 500 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
