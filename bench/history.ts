/** Reading where a run's time went from its Temporal history, for the bench commands. */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Epoch milliseconds of a history event's time (a protobuf Timestamp). */
export function millis(
  time: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined,
): number {
  if (!time) return 0;
  const seconds = typeof time.seconds === 'number' ? time.seconds : (time.seconds?.toNumber() ?? 0);
  return seconds * 1000 + (time.nanos ?? 0) / 1e6;
}

/** One completed activity of a history, in ms from the history's first event. */
export interface ActivitySpan {
  type: string;
  scheduledAt: number;
  /** The last attempt's start (the scheduling time when the history has no started event). */
  startedAt: number;
  completedAt: number;
}

/** The completed activities of a history, in the order they completed. */
export function activitySpans(events: readonly HistoryEvent[]): ActivitySpan[] {
  const first = millis(events[0]?.eventTime);
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, number>();
  const spans: ActivitySpan[] = [];
  for (const event of events) {
    const at = millis(event.eventTime) - first;
    if (event.activityTaskScheduledEventAttributes) {
      const type = event.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      scheduled.set(String(event.eventId), { type, at });
    } else if (event.activityTaskStartedEventAttributes) {
      started.set(String(event.activityTaskStartedEventAttributes.scheduledEventId), at);
    } else if (event.activityTaskCompletedEventAttributes) {
      const key = String(event.activityTaskCompletedEventAttributes.scheduledEventId);
      const { type, at: scheduledAt } = scheduled.get(key) ?? { type: '?', at };
      spans.push({ type, scheduledAt, startedAt: started.get(key) ?? scheduledAt, completedAt: at });
    }
  }
  return spans;
}
