/**
 * publish's incremental step: the watermark advances in publish's transaction, after the
 * publications check, so a run that fails or is cancelled leaves it and a retried publish (a
 * no-op) advances it once. A watermark moved since the run planned fails the publish, rolled
 * back, naming the cause: copying the window again from a stale low would repeat rows.
 */
import type pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { advanceWatermark, WatermarkMovedError } from '../src/db/watermarks.js';
import { FailureType } from '../src/shared/failure-types.js';
import type { WatermarkAdvance } from '../src/shared/incremental.js';
import { formatTable, quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';

/**
 * The watermark publish advances. `high` absent (a chunked window, window-chunks.ts): the
 * cursor's maximum in staging, which holds exactly the window's rows as the export's snapshot
 * had them, so it is the maximum in that snapshot above low.
 */
export type StagedWatermark = Omit<WatermarkAdvance, 'high'> & { high?: string };

/** max(cursor) of staging, read in publish's transaction. @throws Error when staging is empty. */
async function stagedHigh(client: pg.ClientBase, staging: TableRef, column: string): Promise<string> {
  const { rows } = await client.query<{ high: string | null }>(
    `SELECT max(${quoteIdent(column)})::text AS high FROM ${quoteTable(staging)}`,
  );
  const high = rows[0]?.high;
  if (high === null || high === undefined) throw new Error(`staging ${formatTable(staging)} holds no window rows`);
  return high;
}

/**
 * Advances the watermark; returns the window's high it advanced to.
 * @throws ApplicationFailure TargetBusy (not retried) when the watermark moved since planning.
 */
export async function advanceIncrementalWatermark(
  client: pg.ClientBase,
  advance: StagedWatermark,
  publishKey: string,
  staging: TableRef,
): Promise<string> {
  const high = advance.high ?? (await stagedHigh(client, staging, advance.key.column));
  try {
    await advanceWatermark(client, { ...advance, high }, publishKey);
    return high;
  } catch (error) {
    if (!(error instanceof WatermarkMovedError)) throw error;
    throw ApplicationFailure.create({
      type: FailureType.TargetBusy,
      message: error.message,
      nonRetryable: true,
      cause: error,
    });
  }
}
