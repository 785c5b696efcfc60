/** A Temporal client from the environment contract (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE). */
import { Client, Connection } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';

export interface ConnectedClient {
  client: Client;
  settings: TemporalSettings;
  close(): Promise<void>;
}

export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<ConnectedClient> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: settings.address, connectTimeout: '5s' });
  } catch (error) {
    throw new Error(
      `cannot reach Temporal at ${settings.address} (set TEMPORAL_ADDRESS, or start one with \`pgferry dev\`)`,
      { cause: error },
    );
  }
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    close: () => connection.close(),
  };
}
