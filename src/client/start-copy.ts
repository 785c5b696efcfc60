/**
 * Starting a copy: the workflow id comes from the target table, so a second copy onto a table
 * while one runs is refused with the running workflow's id.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { createHash } from 'node:crypto';
import type { copyTable } from '../../workflows/copy-table.js';
import type { copyTables } from '../../workflows/copy-tables.js';
import type { CopyTableInput } from '../shared/copy-spec.js';
import { copySummary } from '../shared/copy-defaults.js';
import { workflowIdForTarget } from '../shared/ids.js';
import { copySearchAttributes } from '../shared/search-attributes.js';
import { explainStartFailure, missingSearchAttributes, SearchAttributesMissingError } from './namespace-setup.js';
import { startWithRetry, type TemporalRetry } from './temporal-retry.js';

/** Raised when the target table already has a running copy. */
export class CopyAlreadyRunningError extends Error {
  override name = 'CopyAlreadyRunningError';
  constructor(readonly workflowId: string) {
    super(
      `TargetBusy: a copy onto this table is already running: workflow ${workflowId} (see \`pgferry status ${workflowId}\`)`,
    );
  }
}

/** The workflow's start options shared by manual starts and schedules. */
export function copyWorkflowOptions(input: CopyTableInput, taskQueue: string) {
  return {
    taskQueue,
    args: [input] as [CopyTableInput],
    staticSummary: copySummary(input),
    typedSearchAttributes: copySearchAttributes(input),
  };
}

/**
 * Starts copyTable.
 * @throws CopyAlreadyRunningError when a copy onto the same target table is running.
 * @throws SearchAttributesMissingError when the namespace lacks pgferry's search attributes.
 */
export async function startCopy(
  client: Client,
  input: CopyTableInput,
  options: { taskQueue: string; workflowId?: string; retry?: TemporalRetry },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof copyTable>> {
  const workflowId = options.workflowId ?? workflowIdForTarget(input.target, input.targetTable ?? input.table);
  const start = () =>
    client.workflow.start<typeof copyTable>('copyTable', {
      ...copyWorkflowOptions(input, options.taskQueue),
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  try {
    return options.retry ? await startWithRetry(client, workflowId, options.retry, start) : await start();
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new CopyAlreadyRunningError(workflowId);
    throw await explainStartFailure(client, error);
  }
}

/** `pgferry-batch:<target>:<hash of the tables>`: the same batch always gets the same id. */
export function batchWorkflowId(inputs: readonly CopyTableInput[]): string {
  const tables = inputs.map((input) => workflowIdForTarget(input.target, input.targetTable ?? input.table)).sort();
  const digest = createHash('sha256').update(tables.join('\n')).digest('hex').slice(0, 12);
  return `pgferry-batch:${inputs[0]?.target ?? 'none'}:${digest}`;
}

/**
 * Starts copyTables: the tables as child workflows, `concurrency` at a time.
 * @throws CopyAlreadyRunningError when the same batch is running.
 * @throws SearchAttributesMissingError when the namespace lacks pgferry's search attributes:
 *   asked before the start, because the batch itself carries none and its children, which do,
 *   would fail inside the run rather than here.
 */
export async function startBatch(
  client: Client,
  inputs: CopyTableInput[],
  options: { taskQueue: string; concurrency: number; workflowId?: string; retry?: TemporalRetry },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof copyTables>> {
  const workflowId = options.workflowId ?? batchWorkflowId(inputs);
  // A namespace we may not describe is left to the children to find out.
  const missing = await missingSearchAttributes(client, client.options.namespace).catch(() => []);
  if (missing.length > 0) throw new SearchAttributesMissingError(client.options.namespace, missing);
  const start = () =>
    client.workflow.start<typeof copyTables>('copyTables', {
      taskQueue: options.taskQueue,
      workflowId,
      args: [{ copies: inputs, concurrency: options.concurrency }],
      staticSummary: `batch of ${inputs.length} tables → ${inputs[0]?.target ?? ''} (${options.concurrency} at a time)`,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  try {
    return options.retry ? await startWithRetry(client, workflowId, options.retry, start) : await start();
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new CopyAlreadyRunningError(workflowId);
    throw error;
  }
}
