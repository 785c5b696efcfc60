/**
 * One copy per target table (DESIGN "One copy per target table"): a row in `pgferry.leases` on
 * the target, keyed by the target table, names the run that loads it and its staging table.
 * createStaging takes it in its transaction; publish releases it in the publish transaction;
 * cleanup releases it when this run holds it. A lease held by another run that Temporal says is
 * still open makes the copy fail as TargetBusy, naming the holder; a closed run's lease is stale:
 * its backends are fenced, its staging dropped and the lease taken over, so it never blocks.
 */
import type pg from 'pg';
import { FailureType } from '../src/shared/failure-types.js';
import { formatTable, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { failure } from './failures.js';
import { fenceBackends, runBackends } from './attempt-fence.js';
import { forgetChunkedCopy } from '../src/db/chunk-plan.js';

/** Whether the workflow run is still open (running); a closed or unknown run is not. */
export type RunIsOpen = (workflowId: string, runId: string) => Promise<boolean>;

export interface LeaseHolder {
  workflowId: string;
  runId: string;
}

export interface Lease extends LeaseHolder {
  targetTable: string;
  staging: TableRef;
  acquiredAt: string;
}

interface LeaseRow {
  target_table: string;
  workflow_id: string;
  run_id: string;
  staging_schema: string;
  staging_table: string;
  acquired_at: string;
}

function leaseOf(row: LeaseRow): Lease {
  return {
    targetTable: row.target_table,
    workflowId: row.workflow_id,
    runId: row.run_id,
    staging: { schema: row.staging_schema, table: row.staging_table },
    acquiredAt: row.acquired_at,
  };
}

/** The lease key of a target table: its name as PostgreSQL prints it (quoted only where needed). */
export function leaseKey(table: TableRef): string {
  return formatTable(table);
}

/**
 * Takes the lease on `targetTable` for `holder` inside the caller's transaction (the row stays
 * locked until it ends). Re-entrant for the same run.
 * @returns the stale lease that was taken over, if any.
 * @throws TargetBusy when another open run holds the table.
 */
export async function takeLease(
  client: pg.ClientBase,
  targetTable: TableRef,
  holder: LeaseHolder,
  staging: TableRef,
  runIsOpen: RunIsOpen,
): Promise<Lease | undefined> {
  const key = leaseKey(targetTable);
  const values = [key, holder.workflowId, holder.runId, staging.schema, staging.table];
  const inserted = await client.query(
    `INSERT INTO pgferry.leases (target_table, workflow_id, run_id, staging_schema, staging_table)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_table) DO NOTHING`,
    values,
  );
  if (inserted.rowCount === 1) return undefined;
  // A concurrent taker's row is committed by now (the INSERT waited for it): lock and read it.
  const { rows } = await client.query<LeaseRow>(
    `SELECT target_table, workflow_id, run_id, staging_schema, staging_table, acquired_at::text
       FROM pgferry.leases WHERE target_table = $1 FOR UPDATE`,
    [key],
  );
  const current = rows[0] ? leaseOf(rows[0]) : undefined;
  if (current && (current.workflowId !== holder.workflowId || current.runId !== holder.runId)) {
    if (await runIsOpen(current.workflowId, current.runId)) {
      throw failure(
        FailureType.TargetBusy,
        `${formatTable(targetTable)} is being copied by workflow ${current.workflowId} (run ${current.runId}, ` +
          `since ${current.acquiredAt}); see \`pgferry status ${current.workflowId}\``,
        { holder: { workflowId: current.workflowId, runId: current.runId, acquiredAt: current.acquiredAt } },
      );
    }
    await removeStaleStaging(client, current);
  }
  await client.query(
    `INSERT INTO pgferry.leases (target_table, workflow_id, run_id, staging_schema, staging_table)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (target_table) DO UPDATE SET workflow_id = $2, run_id = $3, staging_schema = $4,
       staging_table = $5, acquired_at = now()`,
    values,
  );
  return current && current.runId !== holder.runId ? current : undefined;
}

/**
 * Ends a closed run's sessions, then drops its staging table and its chunk plan and ledger, if
 * it was a chunked copy (the caller removes the lease).
 */
export async function removeStaleStaging(client: pg.ClientBase, lease: Lease): Promise<void> {
  await fenceBackends(client, runBackends(lease.workflowId, lease.runId));
  await client.query(`DROP TABLE IF EXISTS ${quoteTable(lease.staging)}`);
  await forgetChunkedCopy(client, lease);
}

/** Releases the lease when `holder` holds it; a no-op otherwise. */
export async function releaseLease(client: pg.ClientBase, targetTable: TableRef, holder: LeaseHolder): Promise<void> {
  await client.query('DELETE FROM pgferry.leases WHERE target_table = $1 AND workflow_id = $2 AND run_id = $3', [
    leaseKey(targetTable),
    holder.workflowId,
    holder.runId,
  ]);
}

/** Every lease on the target, oldest first. */
export async function listLeases(client: pg.ClientBase): Promise<Lease[]> {
  const { rows } = await client.query<LeaseRow>(
    `SELECT target_table, workflow_id, run_id, staging_schema, staging_table, acquired_at::text
       FROM pgferry.leases ORDER BY acquired_at`,
  );
  return rows.map(leaseOf);
}
