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

/** @throws ApplicationFailure TargetBusy (not retried) when the watermark moved since planning. */
export async function advanceIncrementalWatermark(
  client: pg.ClientBase,
  advance: WatermarkAdvance,
  publishKey: string,
): Promise<void> {
  try {
    await advanceWatermark(client, advance, publishKey);
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
