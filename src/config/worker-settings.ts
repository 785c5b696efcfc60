/**
 * The worker's own settings (DESIGN.md "Operations"), read once at the edge:
 *   PGFERRY_MAX_PIPES        concurrent pipes (psql pairs) per worker; default 2 per CPU core
 *   PGFERRY_SHUTDOWN_GRACE   on SIGTERM, how long running pipes may finish before they are
 *                            cancelled so another worker retries them; default 30s
 *   PGFERRY_METRICS_ADDRESS  host:port of the Prometheus endpoint; unset: no endpoint
 */
import { availableParallelism } from 'node:os';
import { parseDuration } from '../shared/duration.js';

export interface WorkerSettings {
  maxPipes: number;
  shutdownGraceMs: number;
  metricsAddress: string | undefined;
}

export const DEFAULT_SHUTDOWN_GRACE = '30s';

/** Raised for a worker setting that cannot be used; the message names the variable. */
export class WorkerSettingsError extends Error {
  override name = 'WorkerSettingsError';
}

/** Two pipes per core: a pipe is two psql processes mostly waiting on the two servers. */
export function defaultMaxPipes(): number {
  return 2 * availableParallelism();
}

/**
 * Reads the worker's variables with their defaults.
 * @throws WorkerSettingsError for a value that is not a positive integer, a duration or host:port.
 */
export function workerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const maxPipes = env.PGFERRY_MAX_PIPES?.trim() ? Number(env.PGFERRY_MAX_PIPES) : defaultMaxPipes();
  if (!Number.isInteger(maxPipes) || maxPipes < 1) {
    throw new WorkerSettingsError(`PGFERRY_MAX_PIPES must be a positive integer, not ${env.PGFERRY_MAX_PIPES}`);
  }
  let shutdownGraceMs: number;
  try {
    shutdownGraceMs = parseDuration(env.PGFERRY_SHUTDOWN_GRACE?.trim() || DEFAULT_SHUTDOWN_GRACE);
  } catch {
    throw new WorkerSettingsError(
      `PGFERRY_SHUTDOWN_GRACE must be a duration such as 30s or 2m, not ${env.PGFERRY_SHUTDOWN_GRACE}`,
    );
  }
  const metricsAddress = env.PGFERRY_METRICS_ADDRESS?.trim() || undefined;
  if (metricsAddress !== undefined && !/^(?:\[[0-9a-f:]+\]|[^:\s]+):\d{1,5}$/i.test(metricsAddress)) {
    throw new WorkerSettingsError(
      `PGFERRY_METRICS_ADDRESS must be host:port, such as 0.0.0.0:9464, not ${metricsAddress}`,
    );
  }
  return { maxPipes, shutdownGraceMs, metricsAddress };
}
