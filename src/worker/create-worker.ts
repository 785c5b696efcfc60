/**
 * The pgferry worker: copyTable workflows and the activities, on one task queue. Any number of
 * workers can share the queue; each resolves connection profiles from its own environment.
 *
 * Pipes are capped per worker (PGFERRY_MAX_PIPES) by a second SDK Worker in the same process
 * that polls only the pipe queue (task-queues.ts) with maxConcurrentActivityTaskExecutions set
 * to the cap. A full worker then stops asking for pipes, so the server hands them to a worker
 * with room, and the main Worker keeps taking workflow tasks and the cheap activities. A
 * semaphore inside exportImport would instead accept a pipe it cannot start, holding it (and its
 * timeouts) while another worker idles, and would leave nothing to stop a worker from taking
 * more pipes than it can run.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { HEARTBEAT_THROTTLE_MS } from '../../activities/export-import.js';
import { loadConnectionProfiles, type ConnectionProfiles } from '../config/connections.js';
import { temporalSettings, type TemporalSettings } from '../config/environment.js';
import { workerSettings, type WorkerSettings } from '../config/worker-settings.js';
import { pipeTaskQueue } from '../shared/task-queues.js';
import { Databases } from '../db/databases.js';
import { findPsql } from '../pipe/launcher.js';
import { sweepAbandonedWorkDirs } from '../pipe/work-dirs.js';
import { prebuiltWorkflowBundle, workflowsPath } from './workflow-bundle.js';

export { workflowsPath } from './workflow-bundle.js';

export interface PgferryWorkerOptions {
  connection?: NativeConnection;
  settings?: TemporalSettings;
  profiles?: ConnectionProfiles;
  /** psql to run; default: `psql` on PATH. */
  psqlPath?: string;
  /** Time running activities get to finish on shutdown before they are cancelled; default PGFERRY_SHUTDOWN_GRACE. */
  shutdownGraceTime?: string | number;
  /** Pipes this worker runs at once; default PGFERRY_MAX_PIPES. */
  maxPipes?: number;
  /** PGFERRY_* worker settings; default: read from the environment. */
  workerSettings?: WorkerSettings;
}

export interface PgferryWorker {
  /** Workflows and the cheap activities, on the main task queue. */
  worker: Worker;
  /** Pipes only, on the pipe queue, at most `maxPipes` at once. */
  pipeWorker: Worker;
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
  const ops = options.workerSettings ?? workerSettings();
  const shutdownGraceTime = options.shutdownGraceTime ?? ops.shutdownGraceMs;
  const ownConnection = options.connection
    ? undefined
    : await NativeConnection.connect({ ...settings.connection, address: settings.address });
  const connection = options.connection ?? ownConnection!;
  // Through the Runtime logger, so PGFERRY_LOG_FORMAT=json keeps every line JSON.
  const databases = new Databases(options.profiles ?? loadConnectionProfiles(), (profile, error) => {
    Runtime.instance().logger.warn(`idle connection to profile ${profile} failed: ${error.message}`, { profile });
  });
  const activities = createActivities({ databases, psqlPath: options.psqlPath ?? findPsql() });
  // FIFOs and tag files that a worker killed on this machine could not remove (work-dirs.ts).
  void sweepAbandonedWorkDirs().then((removed) => {
    if (removed.length === 0) return;
    Runtime.instance().logger.info(`removed ${removed.length} pipe directories left by ended workers`, { removed });
  });
  // The main Worker keeps exportImport too, for runs that older workflow code scheduled on the
  // main queue before pipes had their own; new runs schedule it on the pipe queue only.
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    ...workflowSource(),
    activities,
    shutdownGraceTime,
    // Progress heartbeats reach the server within a second, not 80% of the heartbeat timeout later.
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
  });
  const pipeWorker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: pipeTaskQueue(settings.taskQueue),
    // A chunk of a chunked copy is a pipe too.
    activities: { exportImport: activities.exportImport, copyChunk: activities.copyChunk },
    maxConcurrentActivityTaskExecutions: options.maxPipes ?? ops.maxPipes,
    shutdownGraceTime,
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
  });
  const workers = [worker, pipeWorker];
  const shutdown = () => {
    // The SDK also starts shutting down on SIGINT/SIGTERM by itself; a second request throws.
    for (const each of workers) if (each.getState() === 'RUNNING') each.shutdown();
  };
  return {
    worker,
    pipeWorker,
    async run() {
      const runs = workers.map((each) => each.run());
      try {
        // Half a worker (pipes without workflows, or the reverse) is no worker: one ending stops both.
        await Promise.all(
          runs.map((running) =>
            running.catch((error: unknown) => {
              shutdown();
              throw error;
            }),
          ),
        );
      } finally {
        await Promise.allSettled(runs);
        await databases.end();
        await ownConnection?.close();
      }
    },
    shutdown,
  };
}

function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const workflowBundle = prebuiltWorkflowBundle();
  return workflowBundle ? { workflowBundle } : { workflowsPath: workflowsPath() };
}
