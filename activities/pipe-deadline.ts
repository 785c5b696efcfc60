/**
 * When an activity's pipe stops on its own: before Temporal would time the attempt out, with
 * room left to kill both psql, await them and report a typed failure (CopyStalled, "did not
 * finish before the activity deadline"). Without it the server times the attempt out with a bare
 * timeout, and its psql run on until a heartbeat learns of it.
 */
import type { Info } from '@temporalio/activity';

/** Leave this much of the timeout (at most a tenth of it) for killing, awaiting and reporting. */
const DEADLINE_MARGIN_MS = 5_000;

export type DeadlineInfo = Pick<
  Info,
  'startToCloseTimeoutMs' | 'scheduleToCloseTimeoutMs' | 'scheduledTimestampMs' | 'currentAttemptScheduledTimestampMs'
>;

/**
 * The pipe's `deadlineAt` for an attempt started at `startedAt` (this worker's clock): the sooner
 * of its start-to-close timeout and what is left of the activity's schedule-to-close budget, less
 * the margin; undefined when neither is set. What is left of the budget is the difference of two
 * server timestamps (the first scheduling and this attempt's), so a worker whose clock is off
 * from the server's does not move the deadline.
 */
export function pipeDeadline(startedAt: number, info: DeadlineInfo): number | undefined {
  const runFor: number[] = [];
  if (info.startToCloseTimeoutMs > 0) runFor.push(info.startToCloseTimeoutMs);
  if (
    info.scheduleToCloseTimeoutMs > 0 &&
    info.scheduledTimestampMs > 0 &&
    info.currentAttemptScheduledTimestampMs > 0
  ) {
    const spent = Math.max(0, info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs);
    runFor.push(info.scheduleToCloseTimeoutMs - spent);
  }
  if (runFor.length === 0) return undefined;
  const shortest = Math.min(...[info.startToCloseTimeoutMs, info.scheduleToCloseTimeoutMs].filter((ms) => ms > 0));
  return startedAt + Math.min(...runFor) - Math.min(DEADLINE_MARGIN_MS, shortest / 10);
}
