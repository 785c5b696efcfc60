/**
 * How long a query on the target waits while publish holds the target's lock, one copy each
 * way: swapping staging in, and moving rows (a view on the target rules the swap out). A reader
 * runs point queries back to back during publish only; its longest query is the wait a user's
 * dashboard would see.
 */
import pg from 'pg';
import type { Ferry } from './ferry.js';
import { TABLE, type BenchWorld } from './world.js';

export interface ReaderWait {
  path: 'swap' | 'rows';
  swapped: boolean;
  publishMs: number;
  longestReadMs: number;
  reads: number;
}

/** Runs `fn` while a reader queries the target table; returns the longest single read. */
async function whileReading<T>(
  url: string,
  fn: () => Promise<T>,
): Promise<{ value: T; longestMs: number; reads: number }> {
  const reader = new pg.Client({ connectionString: url });
  await reader.connect();
  let reading = true;
  let longestMs = 0;
  let reads = 0;
  const loop = (async () => {
    while (reading) {
      const started = performance.now();
      await reader.query(`SELECT id FROM ${TABLE.table} WHERE id = 42`);
      longestMs = Math.max(longestMs, performance.now() - started);
      reads += 1;
    }
  })();
  try {
    const value = await fn();
    reading = false;
    // The read in flight when publish commits is the one that waited: count it too.
    await loop;
    return { value, longestMs, reads };
  } finally {
    reading = false;
    await loop.catch(() => undefined);
    await reader.end();
  }
}

export async function measureReaderWait(world: BenchWorld, ferry: Ferry): Promise<ReaderWait[]> {
  const results: ReaderWait[] = [];
  for (const path of ['swap', 'rows'] as const) {
    await world.sql(
      'target',
      'ferry',
      path === 'rows'
        ? `CREATE VIEW bench_reader AS SELECT id FROM ${TABLE.table}`
        : 'DROP VIEW IF EXISTS bench_reader',
    );
    const staged = await ferry.createStaging(TABLE);
    const { rows } = await ferry.exportImport(TABLE, staged);
    const started = performance.now();
    const { value, longestMs, reads } = await whileReading(world.target.url('ferry'), () =>
      ferry.publish(TABLE, staged, rows, `bench/reader-wait/${path}/${Date.now()}`),
    );
    const publishMs = Math.round(performance.now() - started);
    results.push({ path, swapped: value.swapped, publishMs, longestReadMs: Math.round(longestMs), reads });
  }
  await world.sql('target', 'ferry', 'DROP VIEW IF EXISTS bench_reader');
  return results;
}
