/**
 * The demo: a dev server with its UI, two throwaway clusters, the seeded source table, a
 * worker, and one copy through the workflow; then the result and a check that the target's
 * rows equal the source's.
 */
import { createPgClusters, type PgCluster } from './pg-cluster.js';
import { startDevServer, type DevServer } from './dev-server.js';
import { DEMO_TABLE, seedDemoTable, tableDigest } from './seed.js';
import { createPgferryWorker, type PgferryWorker } from '../worker/create-worker.js';
import { startCopy } from '../client/start-copy.js';
import { awaitOutcome, type CopyOutcome } from '../client/outcome.js';
import type { ConnectionProfile } from '../config/connections.js';

export interface DemoResult {
  outcome: CopyOutcome;
  uiLink?: string;
  elapsedMs: number;
  sourceDigest: { rows: number; digest: string };
  targetDigest: { rows: number; digest: string };
}

export interface RunningDemo {
  result: DemoResult;
  server: DevServer;
  clusters: PgCluster[];
  stop(): Promise<void>;
}

/** Runs the demo and leaves everything running until `stop()`. */
export async function runDemo(options: { onProgress?: (message: string) => void } = {}): Promise<RunningDemo> {
  const say = options.onProgress ?? (() => undefined);
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    // Started side by side; each registers its cleanup as soon as it exists, so a failure of
    // one never leaks the other.
    const [serverStarted, clustersStarted] = await Promise.allSettled([
      startDevServer({ onProgress: say }).then((server) => {
        cleanups.push(() => server.teardown());
        return server;
      }),
      createPgClusters(['source', 'target'], say).then((clusters) => {
        cleanups.push(...clusters.map((cluster) => () => cluster.destroy()));
        return clusters;
      }),
    ]);
    if (serverStarted.status === 'rejected') throw serverStarted.reason;
    if (clustersStarted.status === 'rejected') throw clustersStarted.reason;
    const server = serverStarted.value;
    const [source, target] = clustersStarted.value as [PgCluster, PgCluster];
    say('Seeding public."고객_주문" (100,000 rows) on the source cluster');
    await seedDemoTable(source.url());

    const profiles = new Map<string, ConnectionProfile>([
      ['source', { name: 'source', url: source.url() }],
      ['target', { name: 'target', url: target.url() }],
    ]);
    const worker: PgferryWorker = await createPgferryWorker({
      connection: server.env.nativeConnection,
      settings: { address: server.address, namespace: server.namespace, taskQueue: 'pgferry' },
      profiles,
    });
    const running = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await running;
    });

    say('Copying source:public.고객_주문 → target:public.고객_주문 (replace)');
    const copyStarted = Date.now();
    const handle = await startCopy(
      server.env.client,
      { source: 'source', target: 'target', table: DEMO_TABLE, mode: 'replace' },
      { taskQueue: 'pgferry' },
    );
    const outcome = await awaitOutcome(handle);
    const [sourceDigest, targetDigest] = await Promise.all([
      tableDigest(source.url(), DEMO_TABLE),
      outcome.status === 'COMPLETED' ? tableDigest(target.url(), DEMO_TABLE) : { rows: 0, digest: 'not copied' },
    ]);
    const uiLink = server.uiUrl
      ? `${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(handle.workflowId)}`
      : undefined;
    return {
      result: { outcome, uiLink, elapsedMs: Date.now() - copyStarted, sourceDigest, targetDigest },
      server,
      clusters: [source, target],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
