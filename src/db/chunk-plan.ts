/**
 * The chunk plan on the target (`pgferry` schema), beside the chunk ledger: one row per copy in
 * `pgferry.chunk_plans` (which run made it, how many chunks) and one per chunk in
 * `pgferry.chunk_plan_ranges` (its range as JSON). planChunks stores the plan and returns only its
 * size, and each chunk reads its own range by number, so no Temporal payload carries the plan and
 * no history grows with the table (DESIGN.md C7): 10,000 chunks of long text keys are rows here,
 * not a 2 MB event. The plan belongs to the copy (every generation copies the same chunks); it is
 * removed with the copy's ledger when the copy publishes, fails or is collected by `pgferry gc`.
 */
import type pg from 'pg';
import type { ChunkRange, ConsistencyMode, PlannedChunk } from '../shared/chunk-spec.js';
import { ledgerKey } from './chunk-ledger.js';

const PLAN_TABLES: Record<string, string> = {
  chunk_plans: `CREATE TABLE IF NOT EXISTS pgferry.chunk_plans (
    copy_key text PRIMARY KEY,
    workflow_id text NOT NULL,
    run_id text NOT NULL,
    consistency text NOT NULL,
    chunks int NOT NULL,
    planned_at timestamptz NOT NULL DEFAULT now()
  )`,
  chunk_plan_ranges: `CREATE TABLE IF NOT EXISTS pgferry.chunk_plan_ranges (
    copy_key text NOT NULL REFERENCES pgferry.chunk_plans ON DELETE CASCADE,
    chunk int NOT NULL,
    range jsonb NOT NULL,
    PRIMARY KEY (copy_key, chunk)
  )`,
};

/** The run that made a plan: `copyId` is `workflowId/runId` (a run id holds no slash). */
export function planHolder(copyId: string): { workflowId: string; runId: string } {
  const slash = copyId.lastIndexOf('/');
  return { workflowId: copyId.slice(0, slash), runId: copyId.slice(slash + 1) };
}

/**
 * Creates the plan tables, only those the catalog says are missing (a role that may not create
 * in the schema copies once an administrator made them), inside the caller's transaction;
 * concurrent copies serialise on an advisory lock.
 */
async function ensurePlanTables(client: pg.ClientBase): Promise<void> {
  const present = async () => {
    const { rows } = await client.query<{ schema: boolean; tables: string[] }>(
      `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pgferry') AS schema,
              ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'pgferry' AND c.relkind = 'r') AS tables`,
    );
    return rows[0]!;
  };
  let state = await present();
  if (state.schema && Object.keys(PLAN_TABLES).every((table) => state.tables.includes(table))) return;
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('pgferry.chunk_plans'))`);
  state = await present();
  if (!state.schema) await client.query('CREATE SCHEMA IF NOT EXISTS pgferry');
  for (const [table, ddl] of Object.entries(PLAN_TABLES)) {
    if (!state.tables.includes(table)) await client.query(ddl);
  }
}

/**
 * Stores the copy's plan once, inside the caller's transaction: the first plan stored for a copy
 * is its plan, and a retried planChunks (whose first attempt committed but was not reported)
 * keeps it rather than writing a second one that a stale attempt could then overwrite.
 * @returns the number of chunks in the stored plan.
 */
export async function storePlan(
  client: pg.ClientBase,
  copyId: string,
  consistency: ConsistencyMode,
  chunks: PlannedChunk[],
): Promise<number> {
  chunks.forEach((chunk, index) => {
    if (chunk.n !== index) throw new Error(`chunk ${chunk.n} planned at position ${index}`);
  });
  await ensurePlanTables(client);
  const key = ledgerKey(copyId);
  const { workflowId, runId } = planHolder(copyId);
  const inserted = await client.query(
    `INSERT INTO pgferry.chunk_plans (copy_key, workflow_id, run_id, consistency, chunks)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (copy_key) DO NOTHING`,
    [key, workflowId, runId, consistency, chunks.length],
  );
  if (inserted.rowCount !== 1) {
    const { rows } = await client.query<{ chunks: number }>(
      'SELECT chunks FROM pgferry.chunk_plans WHERE copy_key = $1',
      [key],
    );
    return rows[0]!.chunks;
  }
  await client.query(
    `INSERT INTO pgferry.chunk_plan_ranges (copy_key, chunk, range)
     SELECT $1, (r.n - 1)::int, r.range FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS r(range, n)`,
    [key, JSON.stringify(chunks.map((chunk) => chunk.range))],
  );
  return chunks.length;
}

/** A chunk's range from the copy's stored plan; undefined when the plan has no such chunk. */
export async function plannedRange(
  client: pg.ClientBase,
  copyId: string,
  chunk: number,
): Promise<ChunkRange | undefined> {
  const { rows } = await client.query<{ range: ChunkRange }>(
    `SELECT range FROM pgferry.chunk_plan_ranges WHERE copy_key = $1 AND chunk = $2`,
    [ledgerKey(copyId), chunk],
  );
  return rows[0]?.range;
}

/** The ranges of the given chunks of the copy's plan, by chunk number. */
export async function plannedRanges(
  client: pg.ClientBase,
  copyId: string,
  chunks: readonly number[],
): Promise<Map<number, ChunkRange>> {
  if (chunks.length === 0 || !(await hasPlanTables(client))) return new Map();
  const { rows } = await client.query<{ chunk: number; range: ChunkRange }>(
    `SELECT chunk, range FROM pgferry.chunk_plan_ranges WHERE copy_key = $1 AND chunk = ANY($2::int[])`,
    [ledgerKey(copyId), chunks],
  );
  return new Map(rows.map((row) => [row.chunk, row.range]));
}

async function hasPlanTables(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    "SELECT to_regclass('pgferry.chunk_plan_ranges') IS NOT NULL AS found",
  );
  return rows[0]!.found;
}

/**
 * Removes what a chunked copy kept on the target, its plan and its chunk ledger (every
 * generation), inside the caller's transaction. For the run's end: publish, cleanup, a lease
 * taken over from a closed run, `pgferry gc`. A no-op for a copy that kept nothing (or a
 * target without the tables). Idempotent.
 */
export async function forgetChunkedCopy(client: pg.ClientBase, holder: { workflowId: string; runId: string }) {
  const key = ledgerKey(`${holder.workflowId}/${holder.runId}`);
  const { rows } = await client.query<{ plans: boolean; ledger: boolean }>(
    `SELECT to_regclass('pgferry.chunk_plans') IS NOT NULL AS plans,
            to_regclass('pgferry.chunk_generations') IS NOT NULL AS ledger`,
  );
  if (rows[0]!.ledger) await client.query('DELETE FROM pgferry.chunk_generations WHERE copy_key = $1', [key]);
  if (rows[0]!.plans) await client.query('DELETE FROM pgferry.chunk_plans WHERE copy_key = $1', [key]);
}

export interface StoredPlan {
  workflowId: string;
  runId: string;
  chunks: number;
  plannedAt: string;
}

/** Every chunk plan on the target, oldest first (`pgferry gc` asks Temporal about each run). */
export async function listPlans(client: pg.ClientBase): Promise<StoredPlan[]> {
  const { rows } = await client.query<{ found: boolean }>(
    "SELECT to_regclass('pgferry.chunk_plans') IS NOT NULL AS found",
  );
  if (!rows[0]!.found) return [];
  const plans = await client.query<{ workflow_id: string; run_id: string; chunks: number; planned_at: string }>(
    'SELECT workflow_id, run_id, chunks, planned_at::text FROM pgferry.chunk_plans ORDER BY planned_at',
  );
  return plans.rows.map((row) => ({
    workflowId: row.workflow_id,
    runId: row.run_id,
    chunks: row.chunks,
    plannedAt: row.planned_at,
  }));
}
