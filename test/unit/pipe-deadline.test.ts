/**
 * pipeDeadline: an attempt's pipe stops before Temporal would time it out, whichever of its
 * timeouts comes first (activities/pipe-deadline.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pipeDeadline, type DeadlineInfo } from '../../activities/pipe-deadline.js';

const MINUTE = 60_000;
/** The server's time of the activity's first scheduling. */
const T = Date.UTC(2026, 11, 3);

function info(overrides: Partial<DeadlineInfo>): DeadlineInfo {
  return {
    startToCloseTimeoutMs: 0,
    scheduleToCloseTimeoutMs: 0,
    scheduledTimestampMs: T,
    currentAttemptScheduledTimestampMs: T,
    ...overrides,
  };
}

describe('pipeDeadline', () => {
  test('start-to-close alone: the attempt start plus the timeout, less 5 s', () => {
    assert.equal(
      pipeDeadline(1_000_000, info({ startToCloseTimeoutMs: 10 * MINUTE })),
      1_000_000 + 10 * MINUTE - 5_000,
    );
  });

  test('a short timeout keeps nine tenths of itself', () => {
    assert.equal(pipeDeadline(0, info({ startToCloseTimeoutMs: 10_000 })), 9_000);
  });

  test('a late retry ends with what is left of the schedule-to-close budget', () => {
    // A 70 min budget; this attempt was scheduled 65 min after the first, with 60 min to run.
    const late = info({
      startToCloseTimeoutMs: 60 * MINUTE,
      scheduleToCloseTimeoutMs: 70 * MINUTE,
      currentAttemptScheduledTimestampMs: T + 65 * MINUTE,
    });
    assert.equal(pipeDeadline(T + 65 * MINUTE, late), T + 70 * MINUTE - 5_000);
  });

  test("the budget is measured in the server's time: a worker clock an hour ahead ends at the same point of the attempt", () => {
    const late = info({
      startToCloseTimeoutMs: 60 * MINUTE,
      scheduleToCloseTimeoutMs: 70 * MINUTE,
      currentAttemptScheduledTimestampMs: T + 65 * MINUTE,
    });
    const workerStart = T + 65 * MINUTE + 60 * MINUTE;
    assert.equal(pipeDeadline(workerStart, late), workerStart + 5 * MINUTE - 5_000);
  });

  test('an early attempt still ends at its own start-to-close', () => {
    const early = info({ startToCloseTimeoutMs: 60 * MINUTE, scheduleToCloseTimeoutMs: 70 * MINUTE });
    assert.equal(pipeDeadline(T + 1_000, early), T + 1_000 + 60 * MINUTE - 5_000);
  });

  test('unknown scheduling times leave the budget to Temporal', () => {
    const unknown = info({
      startToCloseTimeoutMs: 60 * MINUTE,
      scheduleToCloseTimeoutMs: 70 * MINUTE,
      scheduledTimestampMs: 0,
      currentAttemptScheduledTimestampMs: 0,
    });
    assert.equal(pipeDeadline(T, unknown), T + 60 * MINUTE - 5_000);
  });

  test('no timeout: no deadline', () => {
    assert.equal(pipeDeadline(0, info({})), undefined);
  });
});
