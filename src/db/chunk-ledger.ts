/**
 * The chunk ledger on the target (`pgferry` schema): one row per committed chunk, written in the
 * chunk's own import transaction (DESIGN.md C2), so a row exists exactly when the chunk's rows
 * are in staging. The primary key (copy, generation, chunk) makes a stale attempt's commit fail
 * instead of duplicating (C3); the foreign key to the copy's current generation makes an attempt
 * of an abandoned generation fail at its commit, after its rows were removed from staging (C4).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

const LEDGER_DDL = `CREATE SCHEMA IF NOT EXISTS pgferry;
CREATE TABLE IF NOT EXISTS pgferry.chunk_generations (
  copy_key text NOT NULL,
  generation int NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (copy_key, generation)
);
CREATE TABLE IF NOT EXISTS pgferry.chunk_ledger (
  copy_key text NOT NULL,
  generation int NOT NULL,
  chunk int NOT NULL,
  exported_rows bigint NOT NULL,
  imported_rows bigint NOT NULL,
  digest numeric,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (copy_key, generation, chunk),
  FOREIGN KEY (copy_key, generation) REFERENCES pgferry.chunk_generations ON DELETE CASCADE
)`;

/** The ledger's key of a copy: a hash of its `workflowId/runId`, safe to write into psql's script. */
export function ledgerKey(copyId: string): string {
  return createHash('sha256').update(copyId).digest('hex').slice(0, 32);
}

/** Creates the ledger tables once per database; concurrent copies serialise on an advisory lock. */
export async function ensureLedger(client: pg.ClientBase): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('pgferry.chunk_ledger'))`);
  await client.query(LEDGER_DDL);
}

/**
 * Makes `generation` the copy's only one, inside the caller's transaction: the older
 * generations' ledger rows go (cascade) and, from the second generation on, their rows leave
 * staging. Deleting a generation row waits for chunk commits that reference it, so none of
 * them can land after the TRUNCATE. Idempotent.
 */
export async function startGeneration(
  client: pg.ClientBase,
  key: string,
  generation: number,
  quotedStaging: string,
): Promise<void> {
  const older = await client.query('DELETE FROM pgferry.chunk_generations WHERE copy_key = $1 AND generation <> $2', [
    key,
    generation,
  ]);
  if ((older.rowCount ?? 0) > 0) await client.query(`TRUNCATE ${quotedStaging}`);
  await client.query(
    'INSERT INTO pgferry.chunk_generations (copy_key, generation) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [key, generation],
  );
}

/** Removes a finished or abandoned copy's ledger. Idempotent. */
export async function forgetCopy(client: pg.ClientBase, key: string): Promise<void> {
  await client.query('DELETE FROM pgferry.chunk_generations WHERE copy_key = $1', [key]);
}

export interface LedgerRow {
  exportedRows: number;
  importedRows: number;
  digest: string | null;
}

/** The chunk's ledger row, when the chunk has committed. */
export async function committedChunk(
  client: pg.ClientBase,
  key: string,
  generation: number,
  chunk: number,
): Promise<LedgerRow | undefined> {
  const result = await client.query<{ exported: string; imported: string; digest: string | null }>(
    `SELECT exported_rows::text AS exported, imported_rows::text AS imported, digest::text AS digest
       FROM pgferry.chunk_ledger WHERE copy_key = $1 AND generation = $2 AND chunk = $3`,
    [key, generation, chunk],
  );
  const row = result.rows[0];
  return row && { exportedRows: Number(row.exported), importedRows: Number(row.imported), digest: row.digest };
}

/**
 * What the supervisor writes into the commit-token FIFO of a chunk's import: the ledger row and
 * COMMIT, read by psql's `\i` right after the COPY, so `:ROW_COUNT` is the import's own count.
 * Only hex, integers and a decimal digest reach the script.
 */
export function ledgerCommitSql(
  key: string,
  generation: number,
  chunk: number,
  exportedRows: number,
  digest: string | undefined,
): string {
  if (!/^[0-9a-f]{32}$/.test(key)) throw new Error('ledger key must be 32 hex digits');
  for (const n of [generation, chunk, exportedRows]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a ledger number: ${n}`);
  }
  if (digest !== undefined && !/^-?\d+$/.test(digest)) throw new Error('digest must be an integer');
  return (
    'INSERT INTO pgferry.chunk_ledger (copy_key, generation, chunk, exported_rows, imported_rows, digest) ' +
    `VALUES ('${key}', ${generation}, ${chunk}, ${exportedRows}, :ROW_COUNT, ${digest ?? 'NULL'});\nCOMMIT;\n`
  );
}
