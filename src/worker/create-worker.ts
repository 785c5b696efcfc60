/**
 * The pgferry worker: copyTable workflows and the activities, on one task queue. Any number of
 * workers can share the queue; each resolves connection profiles from its own environment.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { HEARTBEAT_THROTTLE_MS } from '../../activities/export-import.js';
import { loadConnectionProfiles, type ConnectionProfiles } from '../config/connections.js';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';
import { Databases } from '../db/databases.js';
import { findExecutable } from '../pipe/launcher.js';
import { prebuiltWorkflowBundle, workflowsPath } from './workflow-bundle.js';

export { workflowsPath } from './workflow-bundle.js';

export interface PgferryWorkerOptions {
  connection?: NativeConnection;
  settings?: TemporalSettings;
  profiles?: ConnectionProfiles;
  /** psql to run; default: `psql` on PATH. */
  psqlPath?: string;
  /** Time running activities get to finish on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

export interface PgferryWorker {
  worker: Worker;
  /** Runs until shutdown() or a fatal error; closes pools and the connection it opened. */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * Creates a worker ready to run: compiled, it loads the prebuilt workflow bundle when there is
 * one; under tsx it bundles the workflow sources.
 */
export async function createPgferryWorker(options: PgferryWorkerOptions = {}): Promise<PgferryWorker> {
  const settings = options.settings ?? temporalSettings();
  const ownConnection = options.connection
    ? undefined
    : await NativeConnection.connect({ ...settings.connection, address: settings.address });
  const connection = options.connection ?? ownConnection!;
  // Through the Runtime logger, so PGFERRY_LOG_FORMAT=json keeps every line JSON.
  const databases = new Databases(options.profiles ?? loadConnectionProfiles(), (profile, error) => {
    Runtime.instance().logger.warn(`idle connection to profile ${profile} failed: ${error.message}`, { profile });
  });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    ...workflowSource(),
    activities: createActivities({ databases, psqlPath: options.psqlPath ?? findExecutable('psql') }),
    shutdownGraceTime: options.shutdownGraceTime ?? '10s',
    // Progress heartbeats reach the server within a second, not 80% of the heartbeat timeout later.
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await databases.end();
        await ownConnection?.close();
      }
    },
    shutdown() {
      // The SDK also starts shutting down on SIGINT/SIGTERM by itself; a second request throws.
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}

function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const workflowBundle = prebuiltWorkflowBundle();
  return workflowBundle ? { workflowBundle } : { workflowsPath: workflowsPath() };
}
