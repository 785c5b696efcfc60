/**
 * The worker-side metrics of a pipe (src/shared/metrics.ts has the names): pipes in flight on
 * this worker, how long the running pipe of a table has been going, and how long its last
 * successful one took, so an alert can say "this copy runs far longer than last time".
 */
import type { Context } from '@temporalio/activity';
import { METRICS } from '../src/shared/metrics.js';

export interface PipeLabels {
  source: string;
  target: string;
  /** The source table, as `schema.table`. */
  table: string;
}

export interface PipeMetrics {
  /** The running pipe's age, from the heartbeat loop. */
  running(elapsedMs: number): void;
  /** Once, when the pipe has ended either way. */
  ended(succeeded: boolean, elapsedMs: number): void;
}

/** Counts the pipe as in flight from now until `ended`. */
export function startPipeMetrics(context: Context, labels: PipeLabels): PipeMetrics {
  const meter = context.metricMeter.withTags({ source: labels.source, target: labels.target });
  const inFlight = meter.createUpDownCounter?.(METRICS.pipesInFlight);
  const running = meter.createGauge(METRICS.pipeRunning, 'float', 's').withTags({ table: labels.table });
  const lastSuccess = meter.createGauge(METRICS.pipeLastSuccess, 'float', 's').withTags({ table: labels.table });
  inFlight?.add(1);
  return {
    running: (elapsedMs) => running.set(elapsedMs / 1000),
    ended(succeeded, elapsedMs) {
      inFlight?.add(-1);
      running.set(0);
      if (succeeded) lastSuccess.set(elapsedMs / 1000);
    },
  };
}
