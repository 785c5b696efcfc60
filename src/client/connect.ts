/** A Temporal client from the environment contract (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE). */
import { Client, Connection } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';
import { retryTransient, temporalRetryBudgetMs, type TemporalRetry } from './temporal-retry.js';

export interface ConnectedClient {
  client: Client;
  settings: TemporalSettings;
  /** How later calls (start, wait) ride out a busy or restarting server. */
  retry: TemporalRetry;
  close(): Promise<void>;
}

const say = (message: string) => console.error(`pgferry: ${message}`);

/**
 * Connects, retrying for the budget (PGFERRY_TEMPORAL_RETRY, default 60s): a server that is
 * starting or too busy to accept the connection at once is waited for.
 * @throws TemporalUnreachableError naming the address and how long it tried.
 */
export async function connectClient(
  settings: TemporalSettings = temporalSettings(),
  retry: TemporalRetry = { address: settings.address, budgetMs: temporalRetryBudgetMs(), onWait: say },
): Promise<ConnectedClient> {
  const deadline = Date.now() + retry.budgetMs;
  const connection = await retryTransient(
    'cannot reach Temporal',
    retry,
    // Each attempt waits up to 5 s for the channel, never past the end of the budget.
    () =>
      Connection.connect({
        address: settings.address,
        connectTimeout: Math.max(1_000, Math.min(5_000, deadline - Date.now())),
      }),
    {
      // Every failure to connect (refused, timed out, reset) may pass: the server may be starting.
      isTransient: () => true,
      hint: 'set TEMPORAL_ADDRESS, or start one with `pgferry dev`',
    },
  );
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    retry,
    close: () => connection.close(),
  };
}
