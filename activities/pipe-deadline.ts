/**
 * When an activity's pipe stops on its own: before Temporal would time the attempt out, with
 * room left to kill both psql, await them and report a typed failure (CopyStalled, "did not
 * finish before the activity deadline"). Without it the server times the attempt out with a bare
 * timeout, and its psql run on until a heartbeat learns of it.
 */
import type { Info } from '@temporalio/activity';

/** Leave this much of the timeout (at most a tenth of it) for killing, awaiting and reporting. */
const DEADLINE_MARGIN_MS = 5_000;

export type DeadlineInfo = Pick<Info, 'startToCloseTimeoutMs' | 'scheduleToCloseTimeoutMs' | 'scheduledTimestampMs'>;

/**
 * The pipe's `deadlineAt` for an attempt started at `startedAt`: the sooner of its start-to-close
 * timeout and the activity's schedule-to-close (counted from its first scheduling, so a late
 * retry gets what is left of the budget), less the margin; undefined when neither is set.
 */
export function pipeDeadline(startedAt: number, info: DeadlineInfo): number | undefined {
  const ends: number[] = [];
  if (info.startToCloseTimeoutMs > 0) ends.push(startedAt + info.startToCloseTimeoutMs);
  if (info.scheduleToCloseTimeoutMs > 0 && info.scheduledTimestampMs > 0) {
    ends.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs);
  }
  if (ends.length === 0) return undefined;
  const shortest = Math.min(...[info.startToCloseTimeoutMs, info.scheduleToCloseTimeoutMs].filter((ms) => ms > 0));
  return Math.min(...ends) - Math.min(DEADLINE_MARGIN_MS, shortest / 10);
}
