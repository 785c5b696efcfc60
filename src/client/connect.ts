/**
 * A Temporal client from the environment contract: Temporal's client configuration (TEMPORAL_*
 * variables, config-file profiles: address, namespace, API key, TLS, mTLS).
 */
import { Client, Connection } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';
import { diagnoseTls } from './tls-probe.js';

export interface ConnectedClient {
  client: Client;
  settings: TemporalSettings;
  close(): Promise<void>;
}

/**
 * Connects and checks the server answers.
 * @throws Error naming the address (and TLS, when on) when Temporal cannot be reached or refuses the connection.
 */
export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<ConnectedClient> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...settings.connection, address: settings.address, connectTimeout: '5s' });
  } catch (error) {
    const tlsProblem = await diagnoseTls(settings);
    if (tlsProblem) {
      throw new Error(`cannot connect to Temporal at ${describeEndpoint(settings)}: ${tlsProblem}`, { cause: error });
    }
    throw new Error(
      `cannot reach Temporal at ${describeEndpoint(settings)} (set TEMPORAL_ADDRESS and the TEMPORAL_TLS_* variables or TEMPORAL_PROFILE, or start one with \`pgferry dev\`)`,
      { cause: error },
    );
  }
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    close: () => connection.close(),
  };
}

/** `host:port`, with how the connection is secured; never the key or certificate contents. */
export function describeEndpoint(settings: TemporalSettings): string {
  const tls = settings.connection?.tls;
  const secured = tls && typeof tls === 'object' && tls.clientCertPair ? 'mTLS' : tls ? 'TLS' : undefined;
  return secured ? `${settings.address} over ${secured}` : settings.address;
}
