/**
 * A real Temporal dev server, two real clusters (profiles `source`, `target`) and an in-process
 * pgferry worker, with the pgferry CLI driven as a subprocess against them: what the schedule and
 * UI tests share. Every part is real; anything missing fails `startScheduleHarness`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { DevServer } from '../../src/dev/dev-server.js';
import { createCopyHarness, type CliResult } from './copy-harness.js';

export interface ScheduleHarness {
  server: DevServer;
  world: { sourceUrl: string; targetUrl: string };
  client: Client;
  taskQueue: string;
  /** Runs `pgferry <args>` (tsx, from the sources); never rejects on a non-zero exit. */
  cli(args: string[]): Promise<CliResult>;
  /** `pgferry <args> --json` that must succeed; returns the parsed stdout. */
  cliJson<T>(args: string[]): Promise<T>;
  close(): Promise<void>;
}

export interface ScheduleHarnessOptions {
  /** Names the task queue and the clusters' directories. */
  taskQueue: string;
  /** Serve the Temporal web UI (default false). */
  ui?: boolean;
}

/** The copy harness (dev server, two clusters, in-process worker, CLI) as the schedule tests use it. */
export async function startScheduleHarness(options: ScheduleHarnessOptions): Promise<ScheduleHarness> {
  const h = await createCopyHarness({ name: options.taskQueue, ui: options.ui });
  return {
    server: h.server,
    world: { sourceUrl: h.sourceUrl, targetUrl: h.targetUrl },
    client: h.client,
    taskQueue: h.taskQueue,
    cli: (args) => h.cli(args),
    async cliJson<T>(args: string[]) {
      const result = await h.cli([...args, '--json']);
      if (result.exitCode !== 0) {
        throw new Error(`pgferry ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      }
      return JSON.parse(result.stdout) as T;
    },
    close: () => h.close(),
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
