/**
 * `pgferry schedule update`: changes a copy schedule in place (its id, history and running copy
 * stay): the timing (cron or interval, time zone, jitter), the policies (overlap, catch-up
 * window) and the copy's own flags (mode, verify, format, timeouts). The copy's source, target
 * and table are its identity and stay; another table is another schedule.
 */
import type { Client, ScheduleDescription, ScheduleSpec, ScheduleUpdateOptions } from '@temporalio/client';
import type { CopyTableInput } from '../shared/copy-spec.js';
import { workflowIdForTarget } from '../shared/ids.js';
import {
  InvalidScheduleSpecError,
  OVERLAP_POLICIES,
  TIMING_MEMO_KEY,
  timingMemoOf,
  timingText,
  type CopyScheduleTiming,
  type CopyScheduleTimingMemo,
  type OverlapName,
} from './schedules.js';
import { copyWorkflowOptions } from './start-copy.js';

export interface UpdateCopyScheduleOptions {
  timing?: CopyScheduleTiming;
  timezone?: string;
  jitterMs?: number;
  overlap?: OverlapName;
  catchupWindowMs?: number;
  /** The new copy input from the current one; only flags the user gave change. */
  input?: (current: CopyTableInput) => CopyTableInput;
}

/** A schedule whose action is not a pgferry copy (made by another tool). */
export class NotACopyScheduleError extends Error {
  override name = 'NotACopyScheduleError';
  constructor(readonly scheduleId: string) {
    super(`schedule ${scheduleId} does not start copyTable: pgferry does not change it`);
  }
}

function updatedSpec(previous: ScheduleDescription['spec'], options: UpdateCopyScheduleOptions): ScheduleSpec {
  const { timing } = options;
  const times: Partial<ScheduleSpec> = !timing
    ? {}
    : 'cron' in timing
      ? { cronExpressions: [timing.cron], calendars: [], intervals: [] }
      : { intervals: [{ every: timing.everyMs }], calendars: [], cronExpressions: [] };
  return {
    ...previous,
    ...times,
    ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
    ...(options.jitterMs !== undefined ? { jitter: options.jitterMs } : {}),
  };
}

function updatedTimingMemo(
  previous: CopyScheduleTimingMemo | undefined,
  options: UpdateCopyScheduleOptions,
): CopyScheduleTimingMemo | undefined {
  const timing = options.timing ?? previous?.timing;
  if (!timing) return undefined; // made before the timing memo existed and the timing is unchanged
  const timezone = options.timezone ?? previous?.timezone;
  return { spec: timingText(timing, timezone), timing, ...(timezone ? { timezone } : {}) };
}

/**
 * Updates the schedule atomically (Temporal retries the read-modify-write on a conflict).
 * Idempotent: the same options twice leave the same schedule.
 * @throws ScheduleNotFoundError for an unknown schedule; NotACopyScheduleError for a schedule
 *   that does not start copyTable; InvalidScheduleSpecError when Temporal rejects the new spec.
 *   Nothing changes in any of these cases.
 */
export async function updateCopySchedule(
  client: Client,
  scheduleId: string,
  options: UpdateCopyScheduleOptions,
): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId);
  try {
    await handle.update((previous): ScheduleUpdateOptions => {
      const { action } = previous;
      if (action.workflowType !== 'copyTable') throw new NotACopyScheduleError(scheduleId);
      const current = action.args?.[0] as CopyTableInput;
      const input = options.input ? options.input(current) : current;
      const timingMemo = updatedTimingMemo(timingMemoOf(action.memo), options);
      return {
        spec: updatedSpec(previous.spec, options),
        action: {
          type: 'startWorkflow',
          workflowType: 'copyTable',
          workflowId: workflowIdForTarget(input.target, input.targetTable ?? input.table),
          ...copyWorkflowOptions(input, action.taskQueue),
          memo: { ...action.memo, ...(timingMemo ? { [TIMING_MEMO_KEY]: timingMemo } : {}) },
        },
        policies: {
          ...previous.policies,
          ...(options.overlap ? { overlap: OVERLAP_POLICIES[options.overlap] } : {}),
          ...(options.catchupWindowMs !== undefined ? { catchupWindow: options.catchupWindowMs } : {}),
        },
        state: { paused: previous.state.paused, note: previous.state.note, ...remainingActions(previous) },
      };
    });
  } catch (error) {
    if (error instanceof TypeError) throw new InvalidScheduleSpecError(error.message, { cause: error });
    throw error;
  }
}

function remainingActions(previous: ScheduleDescription) {
  return previous.state.remainingActions === undefined ? {} : { remainingActions: previous.state.remainingActions };
}
