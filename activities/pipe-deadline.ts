/**
 * When an activity's pipe stops on its own: before Temporal's start-to-close timeout, with room
 * left to kill both psql, await them and report a typed failure (CopyStalled, "did not finish
 * before the activity deadline"). Without it the server times the attempt out with a bare
 * timeout, and its psql run on until a heartbeat learns of it.
 */

/** Leave this much of start-to-close (at most a tenth of it) for killing, awaiting and reporting. */
const DEADLINE_MARGIN_MS = 5_000;

/** The pipe's `deadlineAt` for an attempt started at `startedAt`; undefined without a start-to-close timeout. */
export function pipeDeadline(startedAt: number, startToCloseTimeoutMs: number | undefined): number | undefined {
  if (!startToCloseTimeoutMs) return undefined;
  return startedAt + startToCloseTimeoutMs - Math.min(DEADLINE_MARGIN_MS, startToCloseTimeoutMs / 10);
}
