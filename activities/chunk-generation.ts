/**
 * The ledger's bookkeeping around the chunks (src/db/chunk-ledger.ts): startChunkGeneration
 * makes a generation the copy's current one (the first, or a new one after `SnapshotLost`, whose
 * older rows leave staging first), and forgetChunks removes the copy's ledger once its chunks
 * are verified. The plan (chunk-plan.ts) stays for a re-copy after a count mismatch; publish or
 * cleanup removes it. Both are one target transaction and idempotent.
 */
import type { Databases } from '../src/db/databases.js';
import { inTransaction } from '../src/db/databases.js';
import { ensureLedger, forgetCopy, ledgerKey, startGeneration } from '../src/db/chunk-ledger.js';
import { quoteTable, type TableRef } from '../src/shared/table-name.js';
import { toFailure } from './failures.js';
import { chunkSessions } from './copy-chunk.js';

export interface StartChunkGenerationInput {
  target: string;
  copyId: string;
  generation: number;
  staging: TableRef;
}

export interface ForgetChunksInput {
  target: string;
  copyId: string;
  /** Staging, whose size the copy reports as its bytes. */
  staging?: TableRef;
}

export interface ForgetChunksResult {
  /** Size of the loaded staging table (heap and TOAST), as a single-stream copy reports. */
  stagedBytes?: number;
}

export function makeChunkGeneration(databases: Databases) {
  async function startChunkGeneration(input: StartChunkGenerationInput): Promise<void> {
    const key = ledgerKey(input.copyId);
    try {
      await databases.withClient(input.target, async (client) => {
        // Imports of older generations end first: their commits could otherwise wait on this
        // transaction while it waits on their staging lock.
        await client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name LIKE $1 AND application_name NOT LIKE $2 AND pid <> pg_backend_pid()
              AND (pg_has_role(usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))`,
          [`${chunkSessions(input.copyId)}%`, `${chunkSessions(input.copyId, input.generation)}%`],
        );
        await inTransaction(client, async () => {
          await ensureLedger(client);
          await startGeneration(client, key, input.generation, quoteTable(input.staging));
        });
      });
    } catch (error) {
      throw toFailure(error, 'import', 'starting a chunk generation');
    }
  }

  async function forgetChunks(input: ForgetChunksInput): Promise<ForgetChunksResult> {
    try {
      return await databases.withClient(input.target, async (client) => {
        await forgetCopy(client, ledgerKey(input.copyId));
        if (!input.staging) return {};
        // The chunks' own byte counts are progress samples, which miss a chunk shorter than the
        // sampling interval; the staged size is what the copy wrote, as a single stream reports.
        const size = await client.query<{ bytes: string }>('SELECT pg_table_size($1::regclass) AS bytes', [
          quoteTable(input.staging),
        ]);
        return { stagedBytes: Number(size.rows[0]?.bytes ?? 0) };
      });
    } catch (error) {
      throw toFailure(error, 'import', 'removing the chunk ledger');
    }
  }

  return { startChunkGeneration, forgetChunks };
}
