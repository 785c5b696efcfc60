/**
 * Scheduled copies on Temporal Schedules. The schedule id comes from the user; every action
 * starts copyTable with the same options as a manual start (summary, search attributes), and
 * the workflow id of the target table, to which Temporal appends the scheduled time.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOverlapPolicy,
  type ScheduleSpec,
} from '@temporalio/client';
import type { CopyTableInput } from '../shared/copy-spec.js';
import { copySummary } from '../shared/copy-defaults.js';
import { workflowIdForTarget } from '../shared/ids.js';
import { copyWorkflowOptions } from './start-copy.js';
import { explainStartFailure } from './namespace-setup.js';

/** The overlap policies by their CLI names; `skip` never lets two scheduled copies onto one table. */
export const OVERLAP_POLICIES = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
} as const satisfies Record<string, ScheduleOverlapPolicy>;

export type OverlapName = keyof typeof OVERLAP_POLICIES;

/** When a schedule fires: one cron expression or one fixed interval (milliseconds). */
export type CopyScheduleTiming = { cron: string } | { everyMs: number };

export interface CreateCopyScheduleOptions {
  scheduleId: string;
  input: CopyTableInput;
  taskQueue: string;
  timing: CopyScheduleTiming;
  timezone?: string;
  overlap?: OverlapName;
  catchupWindowMs?: number;
  jitterMs?: number;
  paused?: boolean;
  note?: string;
}

/** Raised when the schedule id is taken by a schedule that has not been deleted. */
export class ScheduleExistsError extends Error {
  override name = 'ScheduleExistsError';
  constructor(readonly scheduleId: string) {
    super(`schedule ${scheduleId} already exists (see \`pgferry schedule describe ${scheduleId}\`)`);
  }
}

/** Raised when Temporal rejects the spec: a cron expression it cannot parse, an unknown time zone. */
export class InvalidScheduleSpecError extends Error {
  override name = 'InvalidScheduleSpecError';
}

/** What `pgferry schedule create` recorded about the copy, kept in the schedule's memo for `list`. */
interface CopyScheduleMemo {
  summary: string;
  spec: string;
}

/**
 * The schedule's timing as pgferry wrote it, kept in the action's memo: unlike the schedule's
 * memo, the action can be changed by `schedule update`, and Temporal keeps a cron expression
 * only as compiled calendars.
 */
export interface CopyScheduleTimingMemo {
  spec: string;
  timing: CopyScheduleTiming;
  timezone?: string;
}

/** The key of {@link CopyScheduleTimingMemo} in the action's memo. */
export const TIMING_MEMO_KEY = 'pgferrySchedule';

/** The timing memo of a schedule's action, when pgferry wrote one. */
export function timingMemoOf(memo: Record<string, unknown> | undefined): CopyScheduleTimingMemo | undefined {
  const value = memo?.[TIMING_MEMO_KEY];
  return value && typeof value === 'object' ? (value as CopyScheduleTimingMemo) : undefined;
}

/** `1d`, `6h`, `90s`: the largest unit that divides the duration exactly. */
export function formatInterval(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const unit = units.find(([, size]) => ms >= size && ms % size === 0);
  return unit ? `${ms / unit[1]}${unit[0]}` : `${ms}ms`;
}

/** `cron "0 3 * * *" (Asia/Seoul)`, `every 6h`. */
export function timingText(timing: CopyScheduleTiming, timezone?: string): string {
  const base = 'cron' in timing ? `cron "${timing.cron}"` : `every ${formatInterval(timing.everyMs)}`;
  return timezone ? `${base} (${timezone})` : base;
}

/**
 * Creates the schedule. Not idempotent: a second create with the same id fails.
 * @throws ScheduleExistsError when the id is taken; InvalidScheduleSpecError when Temporal
 *   rejects the cron expression or time zone; SearchAttributesMissingError when the namespace
 *   lacks pgferry's search attributes. Nothing is created in any of these cases.
 */
export async function createCopySchedule(client: Client, options: CreateCopyScheduleOptions): Promise<ScheduleHandle> {
  const { input, timing } = options;
  const spec: ScheduleSpec = {
    ...('cron' in timing ? { cronExpressions: [timing.cron] } : { intervals: [{ every: timing.everyMs }] }),
    ...(options.timezone ? { timezone: options.timezone } : {}),
    ...(options.jitterMs ? { jitter: options.jitterMs } : {}),
  };
  const memo: CopyScheduleMemo = { summary: copySummary(input), spec: timingText(timing, options.timezone) };
  try {
    return await client.schedule.create({
      scheduleId: options.scheduleId,
      spec,
      action: {
        type: 'startWorkflow',
        workflowType: 'copyTable',
        workflowId: workflowIdForTarget(input.target, input.targetTable ?? input.table),
        ...copyWorkflowOptions(input, options.taskQueue),
        memo: {
          [TIMING_MEMO_KEY]: {
            spec: memo.spec,
            timing,
            ...(options.timezone ? { timezone: options.timezone } : {}),
          } satisfies CopyScheduleTimingMemo,
        },
      },
      policies: {
        overlap: OVERLAP_POLICIES[options.overlap ?? 'skip'],
        ...(options.catchupWindowMs ? { catchupWindow: options.catchupWindowMs } : {}),
      },
      memo: { pgferry: memo },
      state: { paused: options.paused ?? false, ...(options.note ? { note: options.note } : {}) },
    });
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) throw new ScheduleExistsError(options.scheduleId);
    // The SDK turns the server's "Invalid schedule spec: ..." into a TypeError with the reason.
    if (error instanceof TypeError) throw new InvalidScheduleSpecError(error.message, { cause: error });
    throw await explainStartFailure(client, error);
  }
}

/** One run a schedule started, with the outcome read from its workflow. */
export interface ScheduledRun {
  workflowId: string;
  runId: string;
  scheduledAt: string;
  takenAt: string;
  status: string;
  closeTime?: string;
}

/** A schedule as `describe` shows it; JSON-serialisable. */
export interface CopyScheduleInfo {
  scheduleId: string;
  spec: string;
  summary?: string;
  workflowId?: string;
  taskQueue?: string;
  overlap: string;
  catchupWindowMs: number;
  paused: boolean;
  note?: string;
  nextRunTimes: string[];
  actionsTaken: number;
  actionsSkippedOverlap: number;
  actionsMissedCatchupWindow: number;
  running: string[];
  recentRuns: ScheduledRun[];
}

function memoOf(memo: Record<string, unknown> | undefined): Partial<CopyScheduleMemo> {
  const value = memo?.pgferry;
  return value && typeof value === 'object' ? value : {};
}

/** The spec from the memo, or rendered from Temporal's description for schedules made elsewhere. */
function specText(description: ScheduleDescription): string {
  const recorded = timingMemoOf(description.action.memo)?.spec ?? memoOf(description.memo).spec;
  if (recorded) return recorded;
  const { intervals, calendars, timezone } = description.spec;
  const parts = [
    ...(intervals ?? []).map((interval) => `every ${formatInterval(Number(interval.every))}`),
    ...(calendars?.length ? [`${calendars.length} calendar spec(s)`] : []),
  ];
  return (parts.join(', ') || 'no times') + (timezone ? ` (${timezone})` : '');
}

async function runOutcome(client: Client, workflowId: string, runId: string) {
  try {
    const run = await client.workflow.getHandle(workflowId, runId).describe();
    return { status: run.status.name, closeTime: run.closeTime?.toISOString() };
  } catch {
    // Retention may have removed the run already.
    return { status: 'UNKNOWN' };
  }
}

/**
 * Describes a schedule, with the status of each recent run.
 * @throws ScheduleNotFoundError for an unknown or deleted schedule.
 */
export async function describeCopySchedule(client: Client, scheduleId: string): Promise<CopyScheduleInfo> {
  const description = await client.schedule.getHandle(scheduleId).describe();
  const { action, info, state, policies } = description;
  const recentRuns = await Promise.all(
    info.recentActions.map(async (recent): Promise<ScheduledRun> => {
      const { workflowId, firstExecutionRunId } = recent.action.workflow;
      return {
        workflowId,
        runId: firstExecutionRunId,
        scheduledAt: recent.scheduledAt.toISOString(),
        takenAt: recent.takenAt.toISOString(),
        ...(await runOutcome(client, workflowId, firstExecutionRunId)),
      };
    }),
  );
  return {
    scheduleId,
    spec: specText(description),
    summary: action.staticSummary ?? memoOf(description.memo).summary,
    workflowId: action.workflowId,
    taskQueue: action.taskQueue,
    overlap: policies.overlap ?? 'SKIP',
    catchupWindowMs: policies.catchupWindow,
    paused: state.paused,
    note: state.note || undefined,
    nextRunTimes: info.nextActionTimes.map((time) => time.toISOString()),
    actionsTaken: info.numActionsTaken,
    actionsSkippedOverlap: info.numActionsSkippedOverlap,
    actionsMissedCatchupWindow: info.numActionsMissedCatchupWindow,
    running: info.runningActions.map((running) => running.workflow.workflowId),
    recentRuns,
  };
}

/** A schedule as `list` shows it. */
export interface CopyScheduleListEntry {
  scheduleId: string;
  spec?: string;
  summary?: string;
  paused: boolean;
  note?: string;
  nextRunTime?: string;
}

/**
 * Lists the schedules that start copyTable. Listing is eventually consistent in Temporal; spec
 * and summary are read from each schedule's description, so an update shows at once.
 */
export async function listCopySchedules(client: Client): Promise<CopyScheduleListEntry[]> {
  const entries: CopyScheduleListEntry[] = [];
  for await (const schedule of client.schedule.list()) {
    if (schedule.action?.workflowType !== 'copyTable') continue;
    const memo = memoOf(schedule.memo);
    const current = await client.schedule
      .getHandle(schedule.scheduleId)
      .describe()
      .catch(() => undefined);
    entries.push({
      scheduleId: schedule.scheduleId,
      spec: current ? specText(current) : memo.spec,
      summary: current?.action.staticSummary ?? memo.summary,
      paused: schedule.state.paused,
      note: schedule.state.note || undefined,
      nextRunTime: schedule.info.nextActionTimes[0]?.toISOString(),
    });
  }
  return entries.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/**
 * The overlap policy for a trigger or backfill: the one asked for, else the schedule's own.
 * (The SDK's trigger would default to ALLOW_ALL, which could put two copies onto one table.)
 */
async function overlapFor(handle: ScheduleHandle, overlap: OverlapName | undefined): Promise<ScheduleOverlapPolicy> {
  if (overlap) return OVERLAP_POLICIES[overlap];
  return (await handle.describe()).policies.overlap ?? 'SKIP';
}

/**
 * Starts one run now, under the schedule's overlap policy unless `overlap` is given: with `skip`
 * and a copy running, nothing starts.
 * @throws ScheduleNotFoundError for an unknown or deleted schedule.
 */
export async function triggerCopySchedule(client: Client, scheduleId: string, overlap?: OverlapName): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId);
  await handle.trigger(await overlapFor(handle, overlap));
}

/**
 * Takes the actions the spec names between `start` and `end` as if that time passed now, under
 * the schedule's overlap policy unless `overlap` is given (`buffer-all` runs them one by one).
 * @throws ScheduleNotFoundError for an unknown or deleted schedule.
 */
export async function backfillCopySchedule(
  client: Client,
  scheduleId: string,
  window: { start: Date; end: Date; overlap?: OverlapName },
): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId);
  await handle.backfill({ start: window.start, end: window.end, overlap: await overlapFor(handle, window.overlap) });
}

export { ScheduleNotFoundError };
