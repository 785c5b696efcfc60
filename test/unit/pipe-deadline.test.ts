/**
 * pipeDeadline: an attempt's pipe stops before Temporal would time it out, whichever of its
 * timeouts comes first (activities/pipe-deadline.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pipeDeadline } from '../../activities/pipe-deadline.js';

const MINUTE = 60_000;
/** When the activity was first scheduled. */
const T = Date.UTC(2026, 11, 3);

describe('pipeDeadline', () => {
  test('start-to-close alone: the attempt start plus the timeout, less 5 s', () => {
    const info = { startToCloseTimeoutMs: 10 * MINUTE, scheduleToCloseTimeoutMs: 0, scheduledTimestampMs: 0 };
    assert.equal(pipeDeadline(1_000_000, info), 1_000_000 + 10 * MINUTE - 5_000);
  });

  test('a short timeout keeps nine tenths of itself', () => {
    const info = { startToCloseTimeoutMs: 10_000, scheduleToCloseTimeoutMs: 0, scheduledTimestampMs: 0 };
    assert.equal(pipeDeadline(0, info), 9_000);
  });

  test('a late retry ends with what is left of the schedule-to-close budget', () => {
    // First scheduled at T with a budget of 70 min; this attempt starts at T + 65 min with 60 min to run.
    const info = { startToCloseTimeoutMs: 60 * MINUTE, scheduleToCloseTimeoutMs: 70 * MINUTE, scheduledTimestampMs: T };
    assert.equal(pipeDeadline(T + 65 * MINUTE, info), T + 70 * MINUTE - 5_000);
  });

  test('an early attempt still ends at its own start-to-close', () => {
    const info = { startToCloseTimeoutMs: 60 * MINUTE, scheduleToCloseTimeoutMs: 70 * MINUTE, scheduledTimestampMs: T };
    assert.equal(pipeDeadline(T + 1_000, info), T + 1_000 + 60 * MINUTE - 5_000);
  });

  test('an unknown first scheduling leaves the budget to Temporal', () => {
    const info = { startToCloseTimeoutMs: 60 * MINUTE, scheduleToCloseTimeoutMs: 70 * MINUTE, scheduledTimestampMs: 0 };
    assert.equal(pipeDeadline(T + 65 * MINUTE, info), T + 65 * MINUTE + 60 * MINUTE - 5_000);
  });

  test('no timeout: no deadline', () => {
    assert.equal(
      pipeDeadline(0, { startToCloseTimeoutMs: 0, scheduleToCloseTimeoutMs: 0, scheduledTimestampMs: 5 }),
      undefined,
    );
  });
});
