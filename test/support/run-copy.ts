/**
 * Runs the copy activities in-process with MockActivityEnvironment: createStaging, then
 * exportImport, the way the workflow does, with heartbeats recorded.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Info } from '@temporalio/activity';
import type {
  CreateStagingResult,
  ExportImportHeartbeat,
  ExportImportInput,
  ExportImportResult,
} from '../../activities/index.js';
import type { CopyFormat } from '../../src/shared/copy-spec.js';
import type { TableRef } from '../../src/shared/table-name.js';
import type { CopyWorld } from './copy-world.js';

/** Expected failures would otherwise log a WARN with a stack for every test. */
const quietLogger = new DefaultLogger('ERROR');

/**
 * A fresh environment per activity run (a cancelled one stays cancelled). The default
 * start-to-close of the mock (1 s) would put the pipe's deadline in the past, so it is raised.
 */
export function activityEnvironment(info: Partial<Info> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(
    {
      startToCloseTimeoutMs: 10 * 60_000,
      scheduleToCloseTimeoutMs: 10 * 60_000,
      workflowExecution: { workflowId: 'pgferry:target:test', runId: '00000000-0000-0000-0000-000000000001' },
      ...info,
    },
    { logger: quietLogger },
  );
}

/** Collects every heartbeat an environment receives. */
export function recordHeartbeats(env: MockActivityEnvironment): ExportImportHeartbeat[] {
  const beats: ExportImportHeartbeat[] = [];
  env.on('heartbeat', (details: unknown) => {
    if (details && typeof details === 'object' && 'bytes' in details) beats.push(details as ExportImportHeartbeat);
  });
  return beats;
}

export async function createStaging(
  world: CopyWorld,
  table: TableRef,
  source = 'source',
): Promise<CreateStagingResult> {
  return activityEnvironment().run(world.activities.createStaging, {
    source,
    target: 'target',
    sourceTable: table,
    targetTable: table,
    mode: 'replace' as const,
  });
}

export interface ExportImportOptions {
  format?: CopyFormat;
  stallTimeoutMs?: number;
  source?: string;
  env?: MockActivityEnvironment;
}

export function exportImportInput(
  table: TableRef,
  staging: Pick<CreateStagingResult, 'staging' | 'columns' | 'selectForm'>,
  options: ExportImportOptions = {},
): ExportImportInput {
  return {
    source: options.source ?? 'source',
    target: 'target',
    sourceTable: table,
    staging: staging.staging,
    columns: staging.columns,
    selectForm: staging.selectForm,
    format: options.format ?? 'binary',
    verify: 'count',
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
  };
}

/** Runs exportImport in `options.env` (or a fresh environment). */
export async function exportImport(
  world: CopyWorld,
  table: TableRef,
  staging: Pick<CreateStagingResult, 'staging' | 'columns' | 'selectForm'>,
  options: ExportImportOptions = {},
): Promise<ExportImportResult> {
  const env = options.env ?? activityEnvironment();
  return env.run(world.activities.exportImport, exportImportInput(table, staging, options));
}

/** createStaging then exportImport, as the workflow runs them. */
export async function copyToStaging(
  world: CopyWorld,
  table: TableRef,
  options: ExportImportOptions = {},
): Promise<{ staging: CreateStagingResult; result: ExportImportResult }> {
  const staging = await createStaging(world, table);
  const result = await exportImport(world, table, staging, options);
  return { staging, result };
}
