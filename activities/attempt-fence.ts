/**
 * Who a backend belongs to, and ending the backends of attempts that can no longer report.
 * Every pgferry session on the target carries `pgferry/<workflow tag>/<run tag>/a<attempt>/<role>`
 * as its application_name (63 bytes at most), so a retry can terminate what an earlier attempt
 * of the same workflow left running (a lost worker's publish still waiting for a lock, a stopped
 * import holding staging) before it starts, and gc or a lease takeover can end a closed run's.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';

/** Short, stable tag for application_name (63-byte limit) from the workflow id. */
export function workflowTag(workflowId: string): string {
  return createHash('sha256').update(workflowId).digest('hex').slice(0, 12);
}

/** The last 8 hex digits of a run id, enough to tell the runs of one workflow apart. */
export function runTag(runId: string): string {
  return runId.replace(/-/g, '').slice(-8) || 'norun';
}

/** The running activity's workflow id, run id and attempt (activity id outside a workflow). */
export function currentAttempt(): { workflowId: string; runId: string; attempt: number } {
  const { info } = Context.current();
  return {
    workflowId: info.workflowExecution?.workflowId ?? info.activityId,
    runId: info.workflowExecution?.runId ?? '',
    attempt: info.attempt,
  };
}

/** application_name of this attempt's session for `role` (export, import, publish, ...). */
export function attemptApplicationName(role: string): string {
  const { workflowId, runId, attempt } = currentAttempt();
  return `pgferry/${workflowTag(workflowId)}/${runTag(runId)}/a${attempt}/${role}`;
}

/**
 * Terminates every other backend whose application_name matches `pattern` (a LIKE pattern) and
 * that this role may signal (its own role's, or any with pg_signal_backend): a backend of another
 * role would make pg_terminate_backend raise 42501. Returns how many were signalled.
 */
export async function fenceBackends(client: pg.ClientBase, pattern: string): Promise<number> {
  const result = await client.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name LIKE $1 AND pid <> pg_backend_pid()
        AND (pg_has_role(usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))`,
    [pattern],
  );
  return result.rowCount ?? 0;
}

/** LIKE pattern of every backend of one workflow (all its runs and attempts). */
export function workflowBackends(workflowId: string): string {
  return `pgferry/${workflowTag(workflowId)}/%`;
}

/** LIKE pattern of every backend of one run. */
export function runBackends(workflowId: string, runId: string): string {
  return `pgferry/${workflowTag(workflowId)}/${runTag(runId)}/%`;
}

/**
 * Ends backends left by earlier attempts of this workflow (a worker that died mid-copy), so a
 * stale session can never hold the staging lock or commit after this attempt starts. Only one
 * activity of a copy runs at a time, so every other backend of the workflow is stale.
 */
export async function fenceEarlierAttempts(databases: Databases, profile: string, workflowId: string): Promise<number> {
  return databases.withClient(profile, (client) => fenceBackends(client, workflowBackends(workflowId)));
}

/**
 * Runs `fn` on a dedicated target session named for this attempt, after fencing the earlier
 * attempts' sessions, heartbeating every `intervalMs` while it runs: a lost worker is noticed at
 * the heartbeat timeout, and the retry's fence ends the session it left behind.
 */
export async function withAttemptSession<T>(
  databases: Databases,
  profile: string,
  role: string,
  fn: (client: pg.ClientBase) => Promise<T>,
  intervalMs = 2_000,
): Promise<T> {
  const context = Context.current();
  const { workflowId } = currentAttempt();
  const stop = keepHeartbeating(context, { phase: role }, intervalMs);
  try {
    return await databases.withSession(profile, attemptApplicationName(role), async (client) => {
      await fenceBackends(client, workflowBackends(workflowId));
      return await fn(client);
    });
  } finally {
    stop();
  }
}

/**
 * Heartbeats `details` now and every `intervalMs` until the returned function is called. A local
 * activity cannot heartbeat (the workflow task's timeout stands in for it), so it sends none.
 */
export function keepHeartbeating(context: Context, details: unknown, intervalMs: number): () => void {
  if (context.info.isLocal) return () => undefined;
  context.heartbeat(details);
  const timer = setInterval(() => context.heartbeat(details), intervalMs);
  return () => clearInterval(timer);
}
