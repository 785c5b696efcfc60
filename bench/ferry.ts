/**
 * pgferry itself, two ways: the exportImport activity alone (in-process, under
 * MockActivityEnvironment, after an untimed createStaging), and a whole `copy --mode replace`
 * through a Temporal dev server and an in-process worker, timed by the run's start-to-close.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  createActivities,
  type Activities,
  type CreateStagingResult,
  type ExportImportInput,
  type ExportImportResult,
  type PublishResult,
} from '../activities/index.js';
import { temporalRunIsOpen } from '../activities/run-status.js';
import { awaitOutcome } from '../src/client/outcome.js';
import { startCopy } from '../src/client/start-copy.js';
import type { ConnectionProfile } from '../src/config/connections.js';
import { Databases } from '../src/db/databases.js';
import { startDevServer, type DevServer } from '../src/dev/dev-server.js';
import type { CopyPhase, CopyTableInput, CopyTableResult } from '../src/shared/copy-spec.js';
import type { TableRef } from '../src/shared/table-name.js';
import { createPgferryWorker, type PgferryWorker } from '../src/worker/create-worker.js';

export const TASK_QUEUE = 'pgferry-bench';
const quietLogger = new DefaultLogger('ERROR');

function activityEnvironment(): MockActivityEnvironment {
  return new MockActivityEnvironment(
    {
      startToCloseTimeoutMs: 60 * 60_000,
      scheduleToCloseTimeoutMs: 60 * 60_000,
      workflowExecution: { workflowId: 'pgferry:bench:exportImport', runId: '00000000-0000-0000-0000-0000000000be' },
    },
    { logger: quietLogger },
  );
}

export interface Ferry {
  server: DevServer;
  /** Untimed: (re)creates staging for `table` on the target, as the workflow's first step. */
  createStaging(table: TableRef): Promise<CreateStagingResult>;
  /** Timed: exportImport from `source` into the staging just created; seconds and rows. */
  exportImport(
    table: TableRef,
    staging: CreateStagingResult,
  ): Promise<{ seconds: number; rows: number; bytes: number }>;
  /** A replace publish of `staging` into `table`, as the workflow's last step. */
  publish(table: TableRef, staging: CreateStagingResult, expectedRows: number, key: string): Promise<PublishResult>;
  /** A whole copy through Temporal; seconds are the run's start-to-close. */
  copy(
    input: Omit<CopyTableInput, 'mode'>,
    taskQueue?: string,
  ): Promise<{ seconds: number; result: CopyTableResult; workflowId: string }>;
  close(): Promise<void>;
}

/** Starts the dev server (no UI) and an in-process worker on {@link TASK_QUEUE}. */
export async function startFerry(profiles: Map<string, ConnectionProfile>, psqlPath: string): Promise<Ferry> {
  const server = await startDevServer({ ui: false });
  const databases = new Databases(profiles);
  // Activity-level steps run outside a worker: leases ask the dev server through its client.
  const activities: Activities = createActivities({
    databases,
    psqlPath,
    runIsOpen: temporalRunIsOpen(() => server.env.client),
  });
  let worker: PgferryWorker | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await createPgferryWorker({
      connection: server.env.nativeConnection,
      settings: { address: server.address, namespace: server.namespace, taskQueue: TASK_QUEUE },
      profiles,
      psqlPath,
    });
    running = worker.run();
  } catch (error) {
    await server.teardown();
    throw error;
  }
  return {
    server,
    createStaging: (table) =>
      activityEnvironment().run(activities.createStaging, {
        source: 'source',
        target: 'target',
        sourceTable: table,
        targetTable: table,
        mode: 'replace' as const,
      }),
    async exportImport(table, staging) {
      const started = performance.now();
      const input: ExportImportInput = {
        source: 'source',
        target: 'target',
        sourceTable: table,
        staging: staging.staging,
        columns: staging.columns,
        selectForm: staging.selectForm,
        format: 'binary',
        verify: 'count',
        stallTimeoutMs: 60_000,
      };
      const result = await activityEnvironment().run<
        [ExportImportInput],
        ExportImportResult,
        Activities['exportImport']
      >(activities.exportImport, input);
      return { seconds: (performance.now() - started) / 1000, rows: result.importedRows, bytes: result.bytes };
    },
    publish: (table, staging, expectedRows, key) =>
      activityEnvironment().run(activities.publish, {
        target: 'target',
        targetTable: table,
        staging: staging.staging,
        columns: staging.columns,
        primaryKey: staging.primaryKey,
        mode: 'replace' as const,
        publishKey: key,
        expectedRows,
      }),
    async copy(input, taskQueue = TASK_QUEUE) {
      const handle = await startCopy(server.env.client, { ...input, mode: 'replace' }, { taskQueue });
      const outcome = await awaitOutcome(handle);
      if (outcome.status !== 'COMPLETED' || outcome.durationMs === undefined) {
        throw new Error(`copy ${outcome.workflowId} ended ${outcome.status}: ${outcome.failure?.message ?? ''}`);
      }
      const result = await handle.result();
      return { seconds: outcome.durationMs / 1000, result, workflowId: handle.workflowId };
    },
    async close() {
      worker?.shutdown();
      await running?.catch(() => undefined);
      await databases.end();
      await server.teardown();
    },
  };
}

export type PhaseSeconds = Partial<Record<CopyPhase, number>>;

/** Phase durations of a copy in seconds, from the workflow's own result. */
export function phaseSeconds(result: CopyTableResult): PhaseSeconds {
  return Object.fromEntries(Object.entries(result.phaseDurationsMs).map(([phase, ms]) => [phase, ms / 1000]));
}
