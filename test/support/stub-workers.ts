/**
 * Workers for workflow tests with stubbed activities: the workflows and activities on the test's
 * task queue, and exportImport on its pipe queue too (pipes run on their own queue, see
 * src/shared/task-queues.ts), as a real pgferry worker polls both.
 */
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { pipeTaskQueue } from '../../src/shared/task-queues.js';
import { workflowsPath } from '../../src/worker/create-worker.js';

export interface StubWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Record<string, (input: never) => Promise<unknown>>;
}

export interface StubWorkers {
  /** Runs both until `until` settles, then shuts both down; returns what `until` returned. */
  runUntil<T>(until: Promise<T>): Promise<T>;
  /** Runs both until shutdown(). */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createStubWorkers(options: StubWorkersOptions): Promise<StubWorkers> {
  const { connection, namespace, taskQueue, activities } = options;
  const main = await Worker.create({ connection, namespace, taskQueue, workflowsPath: workflowsPath(), activities });
  const pipeActivities = activities.exportImport ? { exportImport: activities.exportImport } : {};
  const pipes = await Worker.create({
    connection,
    namespace,
    taskQueue: pipeTaskQueue(taskQueue),
    activities: pipeActivities,
  });
  return {
    runUntil: (until) => pipes.runUntil(main.runUntil(until)),
    run: async () => {
      await Promise.all([main.run(), pipes.run()]);
    },
    shutdown() {
      for (const worker of [main, pipes]) if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
