/**
 * Riding out a Temporal frontend that is busy, restarting or not up yet: thirty `pgferry copy`
 * commands started at once used to fail with "cannot reach Temporal" while the server was up and
 * busy. The CLI retries its connection, the start call and the wait on transient gRPC errors
 * for a bounded time (PGFERRY_TEMPORAL_RETRY, default 60s), then fails naming how long it tried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { DurationError, parseDuration } from '../shared/duration.js';
import { formatDuration } from '../shared/format.js';

/** How long the CLI keeps trying an unreachable or overloaded Temporal by default. */
export const DEFAULT_TEMPORAL_RETRY_MS = 60_000;

export interface TemporalRetry {
  /** The frontend's address, for messages. */
  address: string;
  /** Total time one operation may spend retrying. */
  budgetMs: number;
  /** Told once per operation when it starts waiting, for a person on stderr. */
  onWait?: (message: string) => void;
}

/** Raised when Temporal did not answer within the retry budget. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

/**
 * Reads PGFERRY_TEMPORAL_RETRY (a duration such as `60s` or `5m`).
 * @throws DurationError when it is set to something that is not a duration.
 */
export function temporalRetryBudgetMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.PGFERRY_TEMPORAL_RETRY;
  if (!value) return DEFAULT_TEMPORAL_RETRY_MS;
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw new DurationError(`PGFERRY_TEMPORAL_RETRY: ${error.message}`);
    throw error;
  }
}

/** gRPC status codes (grpc.status): DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE. */
const TRANSIENT_CODES = new Set<number>([4, 8, 10, 14]);

/** A gRPC error (or a client error caused by one) that a later call may not meet. */
export function isTransientTemporalError(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (isGrpcServiceError(current)) return TRANSIENT_CODES.has(current.code);
  }
  return false;
}

/**
 * Runs `fn`, retrying with backoff while it fails transiently (`isTransient`, by default a
 * transient gRPC status) until `retry.budgetMs` has passed since the first call.
 * @throws TemporalUnreachableError naming `what`, the address and the time tried; any other
 *   error of `fn` unchanged.
 */
export async function retryTransient<T>(
  what: string,
  retry: TemporalRetry,
  fn: () => Promise<T>,
  options: { isTransient?: (error: unknown) => boolean; hint?: string } = {},
): Promise<T> {
  const { isTransient = isTransientTemporalError, hint } = options;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error)) throw error;
      const elapsed = Date.now() - started;
      if (elapsed >= retry.budgetMs) {
        throw new TemporalUnreachableError(
          `${what}: Temporal at ${retry.address} did not answer; tried for ${formatDuration(elapsed)} ` +
            `(${attempt} attempts, PGFERRY_TEMPORAL_RETRY=${formatDuration(retry.budgetMs)})` +
            (hint ? `; ${hint}` : ''),
          { cause: error },
        );
      }
      if (attempt === 1) {
        retry.onWait?.(
          `${what}: Temporal at ${retry.address} does not answer yet; retrying for up to ${formatDuration(retry.budgetMs)}`,
        );
      }
      const backoff = Math.min(250 * 1.6 ** (attempt - 1), 5_000);
      await sleep(Math.min(backoff, Math.max(retry.budgetMs - elapsed, 0)));
    }
  }
}

/**
 * Starts a workflow, retrying transient errors for the budget. A start that reached the server
 * but whose answer was lost comes back as "already started" on the retry: when the running
 * execution was started by this very client (its identity, since the first attempt), that
 * execution is ours and is returned instead of being reported as another copy.
 * @throws WorkflowExecutionAlreadyStartedError when another client's execution holds the id.
 */
export async function startWithRetry<H extends WorkflowHandle>(
  client: Client,
  workflowId: string,
  retry: TemporalRetry,
  start: () => Promise<H & { firstExecutionRunId: string }>,
): Promise<H & { firstExecutionRunId: string }> {
  const since = Date.now();
  let failedTransiently = false;
  try {
    return await retryTransient('starting the workflow', retry, async () => {
      try {
        return await start();
      } catch (error) {
        if (isTransientTemporalError(error)) failedTransiently = true;
        throw error;
      }
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError) || !failedTransiently) throw error;
    const runId = await runStartedBy(client, workflowId, since);
    if (!runId) throw error;
    return Object.assign(client.workflow.getHandle(workflowId, runId) as H, { firstExecutionRunId: runId });
  }
}

/** The running execution's run id when this client started it at or after `since`. */
async function runStartedBy(client: Client, workflowId: string, since: number): Promise<string | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  if (description.status.name !== 'RUNNING' || description.startTime.getTime() < since - 1_000) return undefined;
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId: description.runId },
    maximumPageSize: 1,
  });
  const identity = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.identity;
  return identity === client.options.identity ? description.runId : undefined;
}
