/**
 * A Temporal client from the environment contract: Temporal's client configuration (TEMPORAL_*
 * variables, config-file profiles: address, namespace, API key, TLS, mTLS).
 */
import { Client, Connection } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';
import { diagnoseTls } from './tls-probe.js';
import { retryTransient, temporalRetryBudgetMs, type TemporalRetry } from './temporal-retry.js';

export interface ConnectedClient {
  client: Client;
  settings: TemporalSettings;
  retry: TemporalRetry;
  close(): Promise<void>;
}

const say = (message: string) => console.error(`pgferry: ${message}`);

/** A TLS handshake the server refused: no retry can fix a certificate. */
class TemporalTlsError extends Error {
  override name = 'TemporalTlsError';
}

/**
 * Connects, retrying for the budget (PGFERRY_TEMPORAL_RETRY, default 60s): a server that is
 * starting or too busy to accept the connection at once is waited for. A TLS refusal (missing
 * client certificate, untrusted CA) is explained at once instead.
 * @throws TemporalUnreachableError naming the address and how long it tried, or an Error naming the TLS problem.
 */
export async function connectClient(
  settings: TemporalSettings = temporalSettings(),
  retry: TemporalRetry = { address: describeEndpoint(settings), budgetMs: temporalRetryBudgetMs(), onWait: say },
): Promise<ConnectedClient> {
  const deadline = Date.now() + retry.budgetMs;
  let tlsChecked = false;
  const connection = await retryTransient(
    'cannot reach Temporal',
    retry,
    async () => {
      try {
        // Each attempt waits up to 5 s for the channel, never past the end of the budget.
        return await Connection.connect({
          ...settings.connection,
          address: settings.address,
          connectTimeout: Math.max(1_000, Math.min(5_000, deadline - Date.now())),
        });
      } catch (error) {
        if (!tlsChecked) {
          tlsChecked = true;
          const tlsProblem = await diagnoseTls(settings);
          if (tlsProblem) {
            throw new TemporalTlsError(`cannot connect to Temporal at ${describeEndpoint(settings)}: ${tlsProblem}`, {
              cause: error,
            });
          }
        }
        throw error;
      }
    },
    {
      // Every other failure to connect (refused, timed out, reset) may pass: the server may be starting.
      isTransient: (error) => !(error instanceof TemporalTlsError),
      hint: 'set TEMPORAL_ADDRESS and the TEMPORAL_TLS_* variables or TEMPORAL_PROFILE, or start one with `pgferry dev`',
    },
  );
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    retry,
    close: () => connection.close(),
  };
}

/** `host:port`, with how the connection is secured; never the key or certificate contents. */
export function describeEndpoint(settings: TemporalSettings): string {
  const tls = settings.connection?.tls;
  const secured = tls && typeof tls === 'object' && tls.clientCertPair ? 'mTLS' : tls ? 'TLS' : undefined;
  return secured ? `${settings.address} over ${secured}` : settings.address;
}
