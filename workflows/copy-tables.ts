/**
 * copyTables: a batch of copies as child workflows, at most `concurrency` at a time, each with
 * its own per-table workflow id (so a table already being copied is refused, not copied twice),
 * and one summary at the end. A failed table does not stop the others.
 */
import { executeChild, isCancellation, setCurrentDetails } from '@temporalio/workflow';
import { namedFailure } from '../src/shared/failure-chain.js';
import type { CopyTableInput } from '../src/shared/copy-spec.js';
import { copySummary } from '../src/shared/copy-defaults.js';
import { workflowIdForTarget } from '../src/shared/ids.js';
import { copySearchAttributes } from '../src/shared/search-attributes.js';
import type { CopiedWindow } from '../src/shared/incremental.js';
import { copyTable } from './copy-table.js';

export interface CopyTablesInput {
  copies: CopyTableInput[];
  concurrency: number;
}

export interface BatchItemResult {
  workflowId: string;
  summary: string;
  status: 'COMPLETED' | 'FAILED';
  rows?: number;
  bytes?: number;
  failure?: { type: string; message: string };
  /** Incremental copy: the window this table's run copied. */
  window?: CopiedWindow;
}

export interface CopyTablesResult {
  completed: number;
  failed: number;
  results: BatchItemResult[];
}

export async function copyTables(input: CopyTablesInput): Promise<CopyTablesResult> {
  const results: BatchItemResult[] = [];
  const pending = input.copies.map((copy, index) => ({ copy, index }));
  let done = 0;
  const report = () => setCurrentDetails(`${done} of ${input.copies.length} tables done`);
  report();

  async function lane(): Promise<void> {
    for (let next = pending.shift(); next; next = pending.shift()) {
      const { copy, index } = next;
      const workflowId = workflowIdForTarget(copy.target, copy.targetTable ?? copy.table);
      const summary = copySummary(copy);
      try {
        const result = await executeChild(copyTable, {
          workflowId,
          args: [copy],
          staticSummary: summary,
          typedSearchAttributes: copySearchAttributes(copy),
        });
        results[index] = {
          workflowId,
          summary,
          status: 'COMPLETED',
          rows: result.rows,
          bytes: result.bytes,
          ...(result.window ? { window: result.window } : {}),
        };
      } catch (error) {
        if (isCancellation(error)) throw error;
        results[index] = { workflowId, summary, status: 'FAILED', failure: namedFailure(error) };
      }
      done++;
      report();
    }
  }

  const lanes = Math.max(1, Math.min(input.concurrency, input.copies.length));
  await Promise.all(Array.from({ length: lanes }, () => lane()));
  const completed = results.filter((result) => result.status === 'COMPLETED').length;
  return { completed, failed: results.length - completed, results };
}
