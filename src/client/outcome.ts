/**
 * What a finished or running copy looks like to a person or a program: the `--json` objects of
 * `copy --wait` and `status`, built from the workflow's description, result and history.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { CopyProgress, CopyTableResult } from '../shared/copy-spec.js';
import { namedFailure, type FailureSummary } from '../shared/failure-chain.js';
import type { ChunkStats } from '../shared/chunk-spec.js';
import type { CopiedWindow } from '../shared/incremental.js';
import { retryTransient, TemporalUnreachableError, type TemporalRetry } from './temporal-retry.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;

export type { FailureSummary };

export interface CopyOutcome {
  workflowId: string;
  runId: string;
  status: string;
  rows?: number;
  bytes?: number;
  durationMs?: number;
  /** A chunked copy's chunks (DESIGN.md, "Chunked copy"). */
  chunks?: ChunkStats;
  failure?: FailureSummary;
  /** Incremental copy: the window (low, high] and the rows in it. */
  window?: CopiedWindow;
  /** A cancel arrived once publish had begun: too late, the rows were published (status COMPLETED). */
  cancelRequestedDuringPublish?: boolean;
}

export interface AttemptSummary {
  activity: string;
  attempt: number;
  failureType: string;
  message: string;
}

/** Waits for the run to close and summarises it; never throws for a failed run. */
export async function awaitOutcome(handle: WorkflowHandle): Promise<CopyOutcome> {
  return (await awaitRun<CopyTableResult>(handle)).outcome;
}

/**
 * Like awaitOutcome, also returning the workflow's own result when it completed. With `retry`,
 * a server that stops answering is retried for the budget, then reported, never waited on forever.
 * @throws TemporalUnreachableError when Temporal did not answer within the retry budget.
 */
export async function awaitRun<R extends object>(
  handle: WorkflowHandle,
  retry?: TemporalRetry,
): Promise<{ outcome: CopyOutcome; result?: R }> {
  const hint = `the run may still be going on: see \`pgferry status ${handle.workflowId}\` once Temporal answers`;
  const call = <T>(what: string, fn: () => Promise<T>) => (retry ? retryTransient(what, retry, fn, { hint }) : fn());
  let result: R | undefined;
  let failure: FailureSummary | undefined;
  try {
    result = (await call(`waiting for ${handle.workflowId}`, () => handle.result())) as R;
  } catch (error) {
    if (error instanceof TemporalUnreachableError) throw error;
    failure = namedFailure(error);
  }
  const description = await call(`describing ${handle.workflowId}`, () => handle.describe());
  const durationMs = description.closeTime
    ? description.closeTime.getTime() - description.startTime.getTime()
    : undefined;
  const outcome: CopyOutcome = {
    workflowId: description.workflowId,
    runId: description.runId,
    status: description.status.name,
    ...(result && 'rows' in result ? { rows: result.rows as number, bytes: (result as { bytes?: number }).bytes } : {}),
    durationMs,
    ...(result && 'chunks' in result && result.chunks ? { chunks: result.chunks as ChunkStats } : {}),
    ...(failure ? { failure } : {}),
    ...(result && 'window' in result && result.window ? { window: result.window as CopiedWindow } : {}),
    ...(result && 'cancelRequestedDuringPublish' in result && result.cancelRequestedDuringPublish
      ? { cancelRequestedDuringPublish: true }
      : {}),
  };
  return { outcome, result };
}

/** Temporal's own timeout kinds, named the way pgferry names failures. */
const TIMEOUT_NAMES: Record<number, string> = {
  [temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT]: 'HeartbeatTimeout',
  [temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE]: 'StartToCloseTimeout',
  [temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]: 'ScheduleToStartTimeout',
  [temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE]: 'ScheduleToCloseTimeout',
};

/** The failure's type: an ApplicationFailure's own, a timeout's kind, or what ended it. */
function failureTypeOf(info: proto.temporal.api.failure.v1.IFailure | null | undefined): string | undefined {
  if (!info) return undefined;
  if (info.applicationFailureInfo?.type) return info.applicationFailureInfo.type;
  if (info.timeoutFailureInfo) return TIMEOUT_NAMES[info.timeoutFailureInfo.timeoutType ?? 0] ?? 'Timeout';
  if (info.canceledFailureInfo) return 'Cancelled';
  if (info.terminatedFailureInfo) return 'Terminated';
  return failureTypeOf(info.cause);
}

function failureOf(info: proto.temporal.api.failure.v1.IFailure | null | undefined): { type: string; message: string } {
  return { type: failureTypeOf(info) ?? 'Unknown', message: info?.message ?? '' };
}

/**
 * Every failed activity attempt of a run: retried attempts show in history as the next
 * attempt's `lastFailure`, final failures as failed events, and running ones as pending.
 */
export async function failedAttempts(client: Client, workflowId: string, runId?: string): Promise<AttemptSummary[]> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = await handle.fetchHistory();
  const names = new Map<string, string>();
  const startedAttempts = new Map<string, number>();
  const attempts: AttemptSummary[] = [];
  const EventType = temporal.api.enums.v1.EventType;
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      names.set(id, event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
    } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      const started = event.activityTaskStartedEventAttributes;
      startedAttempts.set(id, started?.attempt ?? 1);
      if (started?.lastFailure && (started.attempt ?? 1) > 1) {
        const activity = names.get(String(started.scheduledEventId)) ?? '?';
        attempts.push({
          activity,
          attempt: (started.attempt ?? 2) - 1,
          ...renameFailure(failureOf(started.lastFailure)),
        });
      }
    } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED) {
      const failed = event.activityTaskFailedEventAttributes;
      const activity = names.get(String(failed?.scheduledEventId)) ?? '?';
      const attempt = startedAttempts.get(String(failed?.startedEventId)) ?? 1;
      attempts.push({ activity, attempt, ...renameFailure(failureOf(failed?.failure)) });
    }
  }
  const description = await handle.describe();
  for (const pending of description.raw.pendingActivities ?? []) {
    if (pending.lastFailure) {
      attempts.push({
        activity: pending.activityType?.name ?? '?',
        attempt: (pending.attempt ?? 2) - 1,
        ...renameFailure(failureOf(pending.lastFailure)),
      });
    }
  }
  return attempts;
}

function renameFailure(failure: { type: string; message: string }): { failureType: string; message: string } {
  return { failureType: failure.type, message: failure.message };
}

/** The workflow's progress query, or undefined once it cannot answer (closed, no worker). */
export async function queryProgress(handle: WorkflowHandle): Promise<CopyProgress | undefined> {
  try {
    return await handle.query<CopyProgress>('progress');
  } catch {
    return undefined;
  }
}

/**
 * Live progress: the workflow's phase from the `progress` query, with rows, bytes and rate
 * from the running exportImport's last heartbeat.
 */
export async function liveProgress(handle: WorkflowHandle): Promise<CopyProgress | undefined> {
  const progress = await queryProgress(handle);
  if (!progress) return undefined;
  const description = await handle.describe().catch(() => undefined);
  const pending = description?.raw.pendingActivities?.find(
    (activity) => activity.activityType?.name === 'exportImport',
  );
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  if (!payload) return progress;
  const beat = defaultPayloadConverter.fromPayload<Partial<CopyProgress> & { bytesPerSecond?: number }>(payload);
  return {
    ...progress,
    rows: beat.rows ?? progress.rows,
    bytes: beat.bytes ?? progress.bytes,
    bytesPerSecond: beat.bytesPerSecond,
    sourceRows: progress.sourceRows,
    estimatedSourceRows: beat.estimatedSourceRows,
    attempt: pending?.attempt ?? progress.attempt,
  };
}
