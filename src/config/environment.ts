/**
 * The environment contract (docs/design.md, "CLI and environment"): where Temporal is and which task queue pgferry uses.
 * Read once at the edge; everything below takes these values as arguments.
 */
export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** Reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and PGFERRY_TASK_QUEUE with their defaults. */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS || DEFAULT_TEMPORAL_ADDRESS,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.PGFERRY_TASK_QUEUE || 'pgferry',
  };
}
