/** What every bench command does around its own measurements. */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { findPsql } from '../src/pipe/launcher.js';
import { startFerry, type Ferry } from './ferry.js';
import { createBenchWorld, prepareData, type BenchWorld } from './world.js';

/** Stops Temporal and the worker (reporting, not throwing, a failure to), then the clusters. */
export async function tearDown(ferry: Ferry | undefined, world: BenchWorld, say: (message: string) => void) {
  await ferry?.close().catch((error: unknown) => say(`stopping Temporal: ${String(error)}`));
  await world.close();
}

/** Runs a command's main; a failure is reported on stderr and sets a failing exit code. */
export async function runCommand(main: () => Promise<void>, say: (message: string) => void): Promise<void> {
  try {
    await main();
  } catch (error) {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  }
}

/**
 * The bench's two clusters with `rows` rows in the source table, the dev server and a worker:
 * `measure` runs with them, and everything is torn down after, whatever it did.
 */
export async function withBenchFerry(
  rows: number,
  say: (message: string) => void,
  measure: (world: BenchWorld, ferry: Ferry) => Promise<void>,
): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const world = await createBenchWorld(say);
  let ferry: Ferry | undefined;
  try {
    say(`generating ${rows} rows`);
    await prepareData(world, rows, 1);
    ferry = await startFerry(world.profiles, findPsql()!);
    await measure(world, ferry);
  } finally {
    await tearDown(ferry, world, say);
  }
}
