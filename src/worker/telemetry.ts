/**
 * The worker's Prometheus endpoint (PGFERRY_METRICS_ADDRESS): the SDK's runtime telemetry
 * serves its own worker metrics (pollers, task slots, latencies) and pgferry's, which workflows
 * and activities record through the SDK's metric meter (src/shared/metrics.ts), on one
 * `/metrics`. The runtime is process-wide and must be installed before the first connection.
 */
import type { RuntimeOptions, TelemetryOptions } from '@temporalio/worker';
import { DURATION_BUCKETS_SECONDS, METRICS } from '../shared/metrics.js';

/** Metrics options for a Prometheus endpoint at `bindAddress` (host:port, path /metrics). */
export function prometheusMetrics(bindAddress: string): NonNullable<TelemetryOptions['metrics']> {
  return {
    prometheus: {
      bindAddress,
      // Prometheus conventions: counters end in _total, durations are seconds.
      countersTotalSuffix: true,
      useSecondsForDurations: true,
      histogramBucketOverrides: {
        [METRICS.copyDuration]: DURATION_BUCKETS_SECONDS,
        [METRICS.phaseDuration]: DURATION_BUCKETS_SECONDS,
      },
    },
  };
}

/**
 * The runtime options of a worker process: `base` (its logging) plus the metrics endpoint when
 * `metricsAddress` is set. The runtime is process-wide, so both go into one Runtime.install.
 */
export function workerRuntimeOptions(base: RuntimeOptions, metricsAddress: string | undefined): RuntimeOptions {
  if (!metricsAddress) return base;
  return { ...base, telemetryOptions: { ...base.telemetryOptions, metrics: prometheusMetrics(metricsAddress) } };
}
