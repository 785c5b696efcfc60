/**
 * holdSnapshot: the snapshot every chunk of a `--consistency snapshot` copy reads (DESIGN.md C4).
 * It opens a REPEATABLE READ transaction on the source, exports its snapshot, hands the id to
 * the copy by signal and then keeps the transaction open, checking the connection and
 * heartbeating, until the copy cancels it. The snapshot lives exactly as long as this
 * transaction: when the connection or the worker is lost, the copy learns it as `SnapshotLost`
 * (or a heartbeat timeout) and starts a new generation in a fresh snapshot.
 *
 * Not idempotent by nature: a retry would export a different snapshot, so it runs once per
 * generation and the workflow decides what follows.
 */
import { CancelledFailure, Context, log } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { FailureType } from '../src/shared/failure-types.js';
import { formatTable, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { snapshotReadySignal } from '../src/shared/chunk-signals.js';
import { failure, toFailure } from './failures.js';

export interface HoldSnapshotInput {
  source: string;
  table: TableRef;
  generation: number;
}

const CHECK_INTERVAL_MS = 2_000;

export function makeHoldSnapshot(databases: Databases) {
  return async function holdSnapshot(input: HoldSnapshotInput): Promise<void> {
    const context = Context.current();
    const workflow = context.info.workflowExecution;
    if (!workflow) throw failure(FailureType.InvalidCopySpec, 'holdSnapshot runs only for a workflow');
    let client: pg.Client | undefined;
    try {
      client = await databases.connect(input.source, `pgferry/snapshot/g${input.generation}`);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [
        quoteTable(input.table),
      ]);
      if (!exists.rows[0]?.oid) {
        throw failure(FailureType.SourceTableNotFound, `source table ${formatTable(input.table)} does not exist`);
      }
      const snapshotId = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
      await context.client.workflow
        .getHandle(workflow.workflowId, workflow.runId)
        .signal(snapshotReadySignal, { generation: input.generation, snapshotId });
      log.info('holding the source snapshot', { snapshotId, generation: input.generation });
      for (;;) {
        context.heartbeat({ snapshotId, generation: input.generation });
        await context.sleep(CHECK_INTERVAL_MS);
        await client.query('SELECT 1');
      }
    } catch (error) {
      if (context.cancellationSignal.aborted || error instanceof CancelledFailure) {
        throw error instanceof CancelledFailure ? error : new CancelledFailure('snapshot released');
      }
      const named = toFailure(error, 'export', 'holding the source snapshot');
      if (named.nonRetryable) throw named;
      throw failure(FailureType.SnapshotLost, `the source snapshot was lost: ${named.message}`, undefined, named);
    } finally {
      await client?.end().catch(() => undefined);
    }
  };
}
