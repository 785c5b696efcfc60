/**
 * Starting a copy: the workflow id comes from the target table, so a second copy onto a table
 * while one runs is refused with the running workflow's id.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { copyTable } from '../../workflows/copy-table.js';
import type { CopyTableInput } from '../shared/copy-spec.js';
import { copySummary } from '../shared/copy-defaults.js';
import { workflowIdForTarget } from '../shared/ids.js';
import { MODE_ATTRIBUTE, SOURCE_ATTRIBUTE, TABLE_ATTRIBUTE, TARGET_ATTRIBUTE } from '../shared/search-attributes.js';
import { formatTable } from '../shared/table-name.js';
import type { TypedSearchAttributes } from '@temporalio/common';

/** Raised when the target table already has a running copy. */
export class CopyAlreadyRunningError extends Error {
  override name = 'CopyAlreadyRunningError';
  constructor(readonly workflowId: string) {
    super(`a copy onto this table is already running: workflow ${workflowId} (see \`pgferry status ${workflowId}\`)`);
  }
}

/** Search attributes for filtering a table's history in the UI. */
export function copySearchAttributes(input: CopyTableInput) {
  const target = input.targetTable ?? input.table;
  return [
    { key: SOURCE_ATTRIBUTE, value: input.source },
    { key: TARGET_ATTRIBUTE, value: input.target },
    { key: TABLE_ATTRIBUTE, value: formatTable(target) },
    { key: MODE_ATTRIBUTE, value: input.mode },
  ] satisfies ConstructorParameters<typeof TypedSearchAttributes>[0];
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
 */
export async function startCopy(
  client: Client,
  input: CopyTableInput,
  options: { taskQueue: string; workflowId?: string },
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof copyTable>> {
  const workflowId = options.workflowId ?? workflowIdForTarget(input.target, input.targetTable ?? input.table);
  try {
    return await client.workflow.start<typeof copyTable>('copyTable', {
      ...copyWorkflowOptions(input, options.taskQueue),
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new CopyAlreadyRunningError(workflowId);
    throw error;
  }
}
