/**
 * pgferry's own metrics, recorded through the SDK's metric meter (the workflow's `metricMeter`,
 * an activity's `Context.current().metricMeter`) so they leave through the same runtime
 * telemetry as the SDK's worker metrics: one Prometheus endpoint (PGFERRY_METRICS_ADDRESS).
 * Every series is labelled by source and target profile. Workflow metrics are not emitted
 * while a history replays, so a copy is counted once. Pure module (workflows use it).
 *
 * The names below are what the Grafana dashboard and the alert rules in docker/ read; counters
 * gain `_total` on the endpoint (Prometheus convention).
 */
import { defineSearchAttributeKey, SearchAttributeType, type MetricMeter, type MetricTags } from '@temporalio/common';

/** Set by Temporal on runs a schedule started: its value, the schedule id, labels those copies. */
export const SCHEDULED_BY_ATTRIBUTE = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);

export const METRICS = {
  /** counter: rows of completed copies (rows published). */
  rowsCopied: 'pgferry_rows_copied',
  /** counter: bytes of completed copies (staged size). */
  bytesCopied: 'pgferry_bytes_copied',
  /** counter: copies that closed, by `status` (completed, failed, cancelled). */
  copies: 'pgferry_copies',
  /** counter: failed copies by failure `type` (DESIGN.md's failure table). */
  copyFailures: 'pgferry_copy_failures',
  /** histogram, seconds: whole copy, run start to close, by `status`. */
  copyDuration: 'pgferry_copy_duration_seconds',
  /** histogram, seconds: one phase of a copy, by `phase`. */
  phaseDuration: 'pgferry_phase_duration_seconds',
  /** up-down counter: pipes (psql pairs) running on this worker. */
  pipesInFlight: 'pgferry_pipes_in_flight',
  /** gauge, seconds: how long the running pipe of a table has run; 0 when none runs. */
  pipeRunning: 'pgferry_pipe_running_seconds',
  /** gauge, seconds: how long the last successful pipe of a table took. */
  pipeLastSuccess: 'pgferry_pipe_last_success_seconds',
} as const;

/** Bucket bounds in seconds for the duration histograms: 1 s to 6 h. */
export const DURATION_BUCKETS_SECONDS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

export interface CopyLabels extends MetricTags {
  source: string;
  target: string;
  /** The schedule that started the copy; empty for a copy started by hand. */
  schedule: string;
}

/** Recording side of a copy's metrics in the workflow. */
export function copyMetrics(meter: MetricMeter, labels: CopyLabels) {
  const tagged = meter.withTags(labels);
  const seconds = (ms: number) => Math.max(ms, 0) / 1000;
  return {
    phase(phase: string, ms: number): void {
      tagged.createHistogram(METRICS.phaseDuration, 'float', 's').record(seconds(ms), { phase });
    },
    completed(rows: number, bytes: number, ms: number): void {
      tagged.createCounter(METRICS.rowsCopied, 'rows').add(rows);
      tagged.createCounter(METRICS.bytesCopied, 'bytes').add(bytes);
      tagged.createCounter(METRICS.copies).add(1, { status: 'completed' });
      tagged.createHistogram(METRICS.copyDuration, 'float', 's').record(seconds(ms), { status: 'completed' });
    },
    failed(type: string, cancelled: boolean, ms: number): void {
      const status = cancelled ? 'cancelled' : 'failed';
      tagged.createCounter(METRICS.copies).add(1, { status });
      if (!cancelled) tagged.createCounter(METRICS.copyFailures).add(1, { type });
      tagged.createHistogram(METRICS.copyDuration, 'float', 's').record(seconds(ms), { status });
    },
  };
}
