/**
 * `pgferry gc`: finds what copies that are no longer running left on a target (staging tables
 * and their leases) and drops it. Whose a staging table is comes from its lease (lease.ts) or,
 * without one, from the comment createStaging writes on it; Temporal says whether that run is
 * still open. A running copy's staging is never touched; a table nobody can be named for is
 * reported and left alone. Each drop re-checks the lease under its row lock, fences the closed
 * run's sessions first, and drops staging, lease and the run's chunk plan and ledger in one
 * transaction. Chunk plans name their run too (chunk-plan.ts): a closed run's plan and ledger go
 * even when it left no staging (a copy refused after planning, or whose cleanup removed staging
 * before this version removed plans with it).
 */
import type pg from 'pg';
import type { Databases } from '../db/databases.js';
import { inTransaction } from '../db/databases.js';
import { formatTable, quoteTable, type TableRef } from '../shared/table-name.js';
import { fenceBackends, runBackends } from '../../activities/attempt-fence.js';
import { listLeases, type RunIsOpen } from '../../activities/lease.js';
import { forgetChunkedCopy, listPlans } from '../db/chunk-plan.js';

export type GarbageItem = StagingGarbage | ChunkPlanGarbage;

export interface StagingGarbage {
  kind: 'staging';
  /** Staging table as a person reads it (`schema.table`, quoted only where needed). */
  staging: string;
  workflowId?: string;
  runId?: string;
  /** Recorded in pgferry.leases (else found by its comment, or not attributable). */
  leased: boolean;
  /** dropped (or would be, with dryRun), kept because its run is open, or unattributed. */
  action: 'dropped' | 'kept' | 'unattributed';
}

/** A chunked copy's plan and ledger (chunk-plan.ts), for a run that left no staging behind. */
export interface ChunkPlanGarbage {
  kind: 'chunk-plan';
  workflowId: string;
  runId: string;
  chunks: number;
  action: 'dropped' | 'kept';
}

export interface CollectGarbageOptions {
  databases: Databases;
  target: string;
  runIsOpen: RunIsOpen;
  dryRun: boolean;
}

interface StagingRow {
  schema: string;
  table: string;
  comment: string | null;
}

function attribution(comment: string | null): { workflowId: string; runId: string } | undefined {
  try {
    const parsed = JSON.parse(comment ?? '') as { pgferry?: string; workflowId?: unknown; runId?: unknown };
    if (parsed.pgferry === 'staging' && typeof parsed.workflowId === 'string' && typeof parsed.runId === 'string') {
      return { workflowId: parsed.workflowId, runId: parsed.runId };
    }
  } catch {
    // Not pgferry's comment.
  }
  return undefined;
}

async function stagingTables(client: pg.ClientBase): Promise<StagingRow[]> {
  const { rows } = await client.query<StagingRow>(
    `SELECT n.nspname AS schema, c.relname AS table, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname LIKE 'pgferry\\_stg\\_%' AND c.relkind = 'r'
      ORDER BY 1, 2`,
  );
  return rows;
}

async function hasLeaseTable(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>("SELECT to_regclass('pgferry.leases') IS NOT NULL AS found");
  return rows[0]!.found;
}

/** Drops one closed run's staging (and its lease, unless another run took it meanwhile). */
async function drop(client: pg.ClientBase, staging: TableRef, holder: { workflowId: string; runId: string }) {
  await inTransaction(client, async () => {
    await client.query('SET LOCAL lock_timeout = 30000');
    if (await hasLeaseTable(client)) {
      const { rows } = await client.query<{ run_id: string }>(
        'SELECT run_id FROM pgferry.leases WHERE staging_schema = $1 AND staging_table = $2 FOR UPDATE',
        [staging.schema, staging.table],
      );
      // A new run of the same workflow id re-uses the staging name: then it is no longer garbage.
      if (rows[0] && rows[0].run_id !== holder.runId) return;
      await client.query('DELETE FROM pgferry.leases WHERE staging_schema = $1 AND staging_table = $2', [
        staging.schema,
        staging.table,
      ]);
    }
    await fenceBackends(client, runBackends(holder.workflowId, holder.runId));
    await client.query(`DROP TABLE IF EXISTS ${quoteTable(staging)}`);
    await forgetChunkedCopy(client, holder);
  });
}

/** Chunk plans (and ledgers) of closed runs that have no staging among `seen` runs. */
async function collectPlans(
  client: pg.ClientBase,
  options: CollectGarbageOptions,
  seen: Set<string>,
): Promise<ChunkPlanGarbage[]> {
  const items: ChunkPlanGarbage[] = [];
  for (const plan of await listPlans(client)) {
    if (seen.has(`${plan.workflowId}/${plan.runId}`)) continue;
    const base = { kind: 'chunk-plan' as const, workflowId: plan.workflowId, runId: plan.runId, chunks: plan.chunks };
    if (await options.runIsOpen(plan.workflowId, plan.runId)) {
      items.push({ ...base, action: 'kept' });
      continue;
    }
    if (!options.dryRun) await inTransaction(client, () => forgetChunkedCopy(client, plan));
    items.push({ ...base, action: 'dropped' });
  }
  return items;
}

/** Lists (and unless dryRun, drops) the staging tables and leases of runs that are closed. */
export async function collectGarbage(options: CollectGarbageOptions): Promise<GarbageItem[]> {
  const { databases, target, runIsOpen, dryRun } = options;
  return databases.withClient(target, async (client) => {
    const leases = (await hasLeaseTable(client)) ? await listLeases(client) : [];
    const byStaging = new Map(leases.map((lease) => [formatTable(lease.staging), lease]));
    const candidates = new Map<string, { staging: TableRef; holder?: { workflowId: string; runId: string } }>();
    for (const lease of leases) {
      candidates.set(formatTable(lease.staging), { staging: lease.staging, holder: lease });
    }
    for (const row of await stagingTables(client)) {
      const staging = { schema: row.schema, table: row.table };
      if (!candidates.has(formatTable(staging)))
        candidates.set(formatTable(staging), { staging, holder: attribution(row.comment) });
    }
    const items: GarbageItem[] = [];
    const seen = new Set<string>();
    for (const [name, { staging, holder }] of candidates) {
      const leased = byStaging.has(name);
      if (!holder) {
        items.push({ kind: 'staging', staging: name, leased, action: 'unattributed' });
        continue;
      }
      seen.add(`${holder.workflowId}/${holder.runId}`);
      const base = {
        kind: 'staging' as const,
        staging: name,
        workflowId: holder.workflowId,
        runId: holder.runId,
        leased,
      };
      if (await runIsOpen(holder.workflowId, holder.runId)) {
        items.push({ ...base, action: 'kept' });
        continue;
      }
      if (!dryRun) await drop(client, staging, holder);
      items.push({ ...base, action: 'dropped' });
    }
    items.push(...(await collectPlans(client, options, seen)));
    return items;
  });
}
