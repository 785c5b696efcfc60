/**
 * After starting a copy without --wait, the CLI still waits (bounded) for createStaging to pass
 * or fail: that is where a busy target (TargetBusy) or a copy onto itself is refused, and the
 * person who typed `pgferry copy` must hear of it at once, not from a later `status`.
 */
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

/** `passed`: staging exists and the data is moving; `closed`: the run ended; `pending`: still deciding. */
export type StagingGate = 'passed' | 'closed' | 'pending';

/** Polls the run's history until createStaging completed or the run closed, at most `timeoutMs`. */
export async function awaitStagingGate(handle: WorkflowHandle, timeoutMs = 15_000): Promise<StagingGate> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const history = await handle.fetchHistory();
    const scheduled = new Set<string>();
    for (const event of history.events ?? []) {
      if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
        if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'createStaging') {
          scheduled.add(String(event.eventId));
        }
      } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
        if (scheduled.has(String(event.activityTaskCompletedEventAttributes?.scheduledEventId))) return 'passed';
      } else if (
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED ||
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED ||
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED ||
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED ||
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT
      ) {
        return 'closed';
      }
    }
    if (Date.now() > until) return 'pending';
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
