/**
 * The environment contract (docs/design.md, "CLI and environment"): where Temporal is, how to reach it, and which task queue
 * pgferry uses. The connection comes from Temporal's own client configuration
 * (`@temporalio/envconfig`): the same `TEMPORAL_*` variables and config-file profiles as the
 * `temporal` CLI (address, namespace, API key, TLS and mTLS, `TEMPORAL_PROFILE`,
 * `TEMPORAL_CONFIG_FILE`); nothing about the connection is pgferry's own. Read once at the edge;
 * everything below takes these values as arguments.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/** TLS, API key and gRPC metadata of a profile; the same shape for the client and the worker. */
export type TemporalConnectionOptions = Pick<NativeConnectionOptions, 'tls' | 'apiKey' | 'metadata'>;

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** How to connect beyond the address; absent for a plain local server. */
  connection?: TemporalConnectionOptions;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/**
 * Reads the Temporal client configuration (config-file profile, then `TEMPORAL_*` overrides) and
 * PGFERRY_TASK_QUEUE, with pgferry's defaults for address and namespace.
 * @throws Error when TEMPORAL_PROFILE names a profile the config file lacks, or a TLS file is unreadable.
 */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const defined = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
  let config: ReturnType<typeof loadClientConnectConfig>;
  try {
    config = loadClientConnectConfig({ overrideEnvVars: defined });
  } catch (error) {
    throw new Error(`cannot read the Temporal client configuration: ${(error as Error).message}`, { cause: error });
  }
  const { address, tls, apiKey, metadata } = config.connectionOptions;
  const connection = Object.fromEntries(
    Object.entries({ tls, apiKey, metadata }).filter(([, value]) => value !== undefined),
  ) as TemporalConnectionOptions;
  return {
    address: address || DEFAULT_TEMPORAL_ADDRESS,
    namespace: config.namespace || 'default',
    taskQueue: env.PGFERRY_TASK_QUEUE || 'pgferry',
    ...(Object.keys(connection).length > 0 ? { connection } : {}),
  };
}
