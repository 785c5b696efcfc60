/**
 * A local Temporal dev server (`temporal server start-dev`) with the web UI and pgferry's search
 * attributes registered, for `pgferry dev`, the demo and the integration tests.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { PGFERRY_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';
import { findFreePort } from './pg-cluster.js';
import { locateTemporalCli } from './temporal-cli.js';

/** A running dev server; {@link DevServer.teardown} stops it. */
export interface DevServer {
  /** Frontend gRPC address, `127.0.0.1:<port>`. */
  address: string;
  /** `http://127.0.0.1:<uiPort>` when the UI is on. */
  uiUrl?: string;
  namespace: string;
  env: TestWorkflowEnvironment;
  /** Closes the connections and stops the server process. Idempotent. */
  teardown(): Promise<void>;
}

export interface StartDevServerOptions {
  /** Frontend port; a free loopback port when not given. */
  port?: number;
  /** UI port; a free loopback port when not given and the UI is on. */
  uiPort?: number;
  /** Serve the web UI (default true). */
  ui?: boolean;
  /** Register pgferry's search attributes at start (default true); false leaves the namespace as `pgferry setup` finds it. */
  searchAttributes?: boolean;
  onProgress?: (message: string) => void;
}

const NAMESPACE = 'default';

/**
 * The dev server's dynamic config, which docker/temporal-dynamic-config.yaml repeats for compose
 * (a test checks that it does). A copy is a chain of short activities, and both settings cut the
 * server's time between one activity's end and the next one's start:
 * - Eager activity execution: the worker that completes a workflow task gets the activity it just
 *   scheduled in the same response, not through the matching service. Back-to-back empty-table
 *   copies went from 490 ms to 130 ms.
 * - The transfer queue's read rate: every workflow task and every activity that is not eager
 *   reaches matching through the history shard's transfer queue, whose reader the server limits
 *   to 20 reads a second per shard by default, so steps that follow each other faster wait up to
 *   50 ms each. A workflow running 40 no-op activities in turn measured 100 ms an activity at the
 *   default and 16 ms at 1,000; empty-table copies went from about 300 ms to 260 ms. The reader
 *   still reads only when there are new tasks, so an idle server does not poll more.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, boolean | number>> = {
  'system.enableActivityEagerExecution': true,
  'history.transferProcessorMaxPollRPS': 1000,
};

const UI_READY_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 3;

/**
 * Starts the dev server on 127.0.0.1 and, when the UI is on, waits until the UI answers HTTP 200.
 * Ports that were picked here (not given) are re-picked if another process takes them first.
 * @throws Error when the CLI cannot be located or built, the server does not start, or the UI
 *   does not answer within 30 s (the server is stopped before throwing).
 */
export async function startDevServer(options: StartDevServerOptions = {}): Promise<DevServer> {
  const { ui = true, onProgress = () => {} } = options;
  const executable = await locateTemporalCli({ onProgress });
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort());
    const uiPort = ui ? (options.uiPort ?? (await findFreePort())) : undefined;
    onProgress(`Starting the Temporal dev server on 127.0.0.1:${port}` + (uiPort ? ` (UI on port ${uiPort})` : ''));
    let env: TestWorkflowEnvironment;
    try {
      env = await TestWorkflowEnvironment.createLocal({
        server: {
          executable,
          ip: '127.0.0.1',
          port,
          ui,
          uiPort,
          namespace: NAMESPACE,
          searchAttributes: (options.searchAttributes ?? true) ? PGFERRY_SEARCH_ATTRIBUTES : [],
          // The SDK turns this into `--log-format pretty --log-level warn`: the server is quiet unless something is wrong.
          log: { format: 'pretty', level: 'warn' },
          extraArgs: Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
            '--dynamic-config-value',
            `${key}=${JSON.stringify(value)}`,
          ]),
        },
      });
    } catch (error) {
      const portsChosenHere = options.port === undefined && (!ui || options.uiPort === undefined);
      if (portsChosenHere && attempt < START_ATTEMPTS) continue;
      throw new Error(`the Temporal dev server did not start on 127.0.0.1:${port}`, { cause: error });
    }

    let stopped: Promise<void> | undefined;
    const teardown = (): Promise<void> => (stopped ??= env.teardown());
    const uiUrl = uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`;
    if (uiUrl) {
      try {
        await waitForHttpOk(uiUrl, UI_READY_TIMEOUT_MS);
      } catch (error) {
        await teardown();
        throw error;
      }
    }
    return { address: env.address, uiUrl, namespace: NAMESPACE, env, teardown };
  }
}

/** The UI server starts alongside the frontend but may bind a moment later, so poll briefly. */
async function waitForHttpOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    }
    await sleep(250);
  }
  throw new Error(`the Temporal UI at ${url} did not answer 200 within ${timeoutMs / 1000}s (last: ${last})`);
}
