/**
 * publish: moves staging into the target in one target transaction and drops staging.
 *   A target that does not exist yet: staging (shaped by createStaging) is renamed into its place
 *            and given its identity columns and primary key (target-definition.ts).
 *   replace: when createStaging made staging a logged twin of the target (table-swap.ts), staging
 *            gets the target's indexes and constraints first and then replaces the target under a
 *            momentary exclusive lock. Otherwise TRUNCATE + INSERT under an exclusive lock
 *            (indexes re-built after the load where that loses nothing: defer-indexes.ts). Either
 *            way readers wait and then see the new rows, never an empty or half-loaded table, and
 *            grants, indexes and dependent views survive.
 *            A target other tables reference is never emptied (referencing-keys.ts), and a replace
 *            that moves rows fires none of the target's user triggers, as a swap fires none
 *            (user-triggers.ts).
 *   append:  INSERT.
 *   upsert:  INSERT ... ON CONFLICT (primary key) DO UPDATE.
 * Every INSERT keeps copied identity values (OVERRIDING SYSTEM VALUE), and sequences owned by the
 * target's columns end at least at the copied maximum (owned-sequences.ts).
 * Idempotent: a row in pgferry.publications, written in the same transaction, marks the run as
 * published, so a retry after a committed-but-unreported attempt changes nothing. The same
 * transaction releases the run's lease on the target (lease.ts) and removes a chunked copy's
 * plan and ledger (chunk-plan.ts). It runs on a session named for
 * its attempt and heartbeats, so a lost worker's publish is noticed at the heartbeat timeout and
 * fenced by the retry (attempt-fence.ts).
 */
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { inTransaction } from '../src/db/databases.js';
import { formatTable, quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import type { CopyMode } from '../src/shared/copy-spec.js';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { toFailure } from './failures.js';
import { deferIndexes, type DeferredIndexes } from './defer-indexes.js';
import { FailureType } from '../src/shared/failure-types.js';
import { prepareSwap, swapBlockers, type PreparedSwap } from './table-swap.js';
import { formatCount } from '../src/shared/format.js';
import { adoptStagingAsTarget, targetMissing, type TargetDefinition } from '../src/db/target-definition.js';
import { advanceOwnedSequences } from './owned-sequences.js';
import { suspendUserTriggers } from './user-triggers.js';
import { referencingKeys, replaceReferencedRows } from './referencing-keys.js';
import { advanceIncrementalWatermark, type StagedWatermark } from './watermark-step.js';
import { ensureBookkeeping } from '../src/db/bookkeeping.js';
import { currentAttempt, withAttemptSession } from './attempt-fence.js';
import { releaseLease } from './lease.js';
import { forgetChunkedCopy } from '../src/db/chunk-plan.js';

export interface PublishInput {
  target: string;
  targetTable: TableRef;
  staging: TableRef;
  columns: string[];
  primaryKey: string[];
  mode: CopyMode;
  /** Unique per workflow run: makes a retried publish a no-op. */
  publishKey: string;
  /** Rows verifyCounts found in staging: publish refuses to move any other number. */
  expectedRows: number;
  lockTimeoutMs?: number;
  /** From createStaging: the target did not exist, and staging becomes it here, in publish's transaction. */
  createTarget?: TargetDefinition;
  /** Incremental copy: the watermark moves to the window's high mark in this transaction. */
  watermark?: StagedWatermark;
}

export interface PublishResult {
  rows: number;
  alreadyPublished: boolean;
  /** Indexes built after the load: on staging before a swap, or dropped and re-built on the target. */
  rebuiltIndexes: number;
  /** Staging replaced the target table (replace mode, table-swap.ts) instead of its rows moving. */
  swapped: boolean;
  /** Incremental copy whose high was read from staging (a chunked window): that high. */
  high?: string;
}

export interface DropStagingInput {
  target: string;
  staging: TableRef;
  /** The copy's target table: its lease is released when this run holds it. */
  targetTable?: TableRef;
}

/** A retried publish of a chunked window: the high its committed attempt advanced the watermark to. */
async function publishedHigh(client: pg.ClientBase, input: PublishInput): Promise<string | undefined> {
  const { rows } = await client.query<{ watermark: string }>(
    'SELECT watermark FROM pgferry.watermarks WHERE publish_key = $1',
    [input.publishKey],
  );
  return rows[0]?.watermark;
}

async function hasLeases(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>("SELECT to_regclass('pgferry.leases') IS NOT NULL AS found");
  return rows[0]!.found;
}

function moveRowsSql(input: PublishInput): string {
  const columns = input.columns.map(quoteIdent).join(', ');
  // The copied values of an ALWAYS identity column are kept, as for any other column.
  const insert = `INSERT INTO ${quoteTable(input.targetTable)} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM ${quoteTable(input.staging)}`;
  if (input.mode !== 'upsert') return insert;
  const key = input.primaryKey.map(quoteIdent).join(', ');
  const updates = input.columns
    .filter((column) => !input.primaryKey.includes(column))
    .map((column) => `${quoteIdent(column)} = EXCLUDED.${quoteIdent(column)}`);
  return `${insert} ON CONFLICT (${key}) ${updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`;
}

/**
 * Moves staging into the target and checks that exactly the verified rows moved; anything else
 * (staging changed since verifyCounts) rolls the whole publish back.
 */
async function moveRows(client: pg.ClientBase, input: PublishInput): Promise<number> {
  const sql = moveRowsSql(input);
  // ON CONFLICT DO NOTHING reports inserted rows only, so count staging itself in that case.
  const countsEveryRow = input.mode !== 'upsert' || input.columns.some((column) => !input.primaryKey.includes(column));
  const staged = countsEveryRow ? undefined : await countStaging(client, input.staging);
  const moved = (await client.query(sql)).rowCount ?? 0;
  assertVerifiedRows(staged ?? moved, input);
  return moved;
}

async function countStaging(client: pg.ClientBase, staging: TableRef): Promise<number> {
  return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteTable(staging)}`)).rows[0]!.n);
}

function assertVerifiedRows(rows: number, input: PublishInput): void {
  if (rows !== input.expectedRows) {
    // Not retryable here: staging will not change back; the run fails with the target untouched.
    throw ApplicationFailure.create({
      type: FailureType.CountMismatch,
      message: `publish found ${formatCount(rows)} rows in staging, verified ${formatCount(input.expectedRows)}; nothing published`,
      nonRetryable: true,
      details: [{ stagedRows: rows, expectedRows: input.expectedRows }],
    });
  }
}

async function emptyTarget(client: pg.ClientBase, target: TableRef): Promise<void> {
  await client.query('SAVEPOINT pgferry_truncate');
  try {
    await client.query(`TRUNCATE ${quoteTable(target)}`);
  } catch (error) {
    // TRUNCATE refuses tables referenced by foreign keys (0A000); DELETE honours them.
    if ((error as { code?: string }).code !== '0A000') throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_truncate');
    await client.query(`DELETE FROM ${quoteTable(target)}`);
  }
}

async function recordPublication(client: pg.ClientBase, input: PublishInput, rows: number): Promise<void> {
  await client.query(
    'INSERT INTO pgferry.publications (publish_key, target_table, mode, rows) VALUES ($1, $2, $3, $4)',
    [input.publishKey, formatTable(input.targetTable), input.mode, rows],
  );
}

/**
 * Readies a swap when createStaging made staging a logged twin of the target and the target still
 * allows one; checks the verified count on staging, which this transaction now holds locked.
 */
async function prepareReplacement(client: pg.ClientBase, input: PublishInput): Promise<PreparedSwap | undefined> {
  const { rows } = await client.query<{ logged: boolean }>(
    "SELECT relpersistence = 'p' AS logged FROM pg_class WHERE oid = $1::regclass",
    [quoteTable(input.staging)],
  );
  if (!rows[0]?.logged || (await swapBlockers(client, input.targetTable)).length > 0) return undefined;
  await client.query('SAVEPOINT pgferry_prepare_swap');
  let prepared: PreparedSwap;
  try {
    prepared = await prepareSwap(client, input.targetTable, input.staging);
  } catch (error) {
    // Rows that break the target's rules fail publish either way; a step this role may not take
    // (42501 giving staging the target's owner, say) or cannot (0A000) only rules out the swap.
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('42') && !code.startsWith('0A')) throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_prepare_swap');
    log.warn('replace moves rows: staging could not be made ready for a swap', {
      sqlState: code,
      error: String(error),
    });
    return undefined;
  }
  assertVerifiedRows(await countStaging(client, input.staging), input);
  return prepared;
}

export function makePublish(databases: Databases) {
  async function publish(input: PublishInput): Promise<PublishResult> {
    try {
      await databases.withClient(input.target, ensureBookkeeping);
      const holder = currentAttempt();
      let stagedHigh: string | undefined;
      const published = await withAttemptSession(databases, input.target, 'publish', async (client) => {
        return inTransaction(client, async () => {
          // The lease goes with the publish: committed together, or neither. So does what a
          // chunked copy kept on the target (its plan; its ledger, if forgetChunks did not run).
          await releaseLease(client, input.targetTable, holder);
          await forgetChunkedCopy(client, holder);
          await client.query(`SET LOCAL lock_timeout = ${Math.round(input.lockTimeoutMs ?? 30_000)}`);
          const done = await client.query<{ rows: string }>(
            'SELECT rows::text FROM pgferry.publications WHERE publish_key = $1',
            [input.publishKey],
          );
          if (done.rows[0]) {
            await client.query(`DROP TABLE IF EXISTS ${quoteTable(input.staging)}`);
            const high = input.watermark && !input.watermark.high ? await publishedHigh(client, input) : undefined;
            return {
              rows: Number(done.rows[0].rows),
              alreadyPublished: true,
              rebuiltIndexes: 0,
              swapped: false,
              ...(high ? { high } : {}),
            };
          }
          if (input.watermark) {
            const advancedTo = await advanceIncrementalWatermark(
              client,
              input.watermark,
              input.publishKey,
              input.staging,
            );
            // A chunked window's high is known only here: the result carries it.
            if (!input.watermark.high) stagedHigh = advancedTo;
          }
          if (input.createTarget && (await targetMissing(client, input.targetTable))) {
            assertVerifiedRows(await countStaging(client, input.staging), input);
            const indexes = await adoptStagingAsTarget(client, input.staging, input.targetTable, input.createTarget);
            await advanceOwnedSequences(client, input.targetTable);
            await recordPublication(client, input, input.expectedRows);
            return { rows: input.expectedRows, alreadyPublished: false, rebuiltIndexes: indexes, swapped: true };
          }
          // Before the target's lock: building staging's indexes keeps readers waiting for nothing.
          const prepared = input.mode === 'replace' ? await prepareReplacement(client, input) : undefined;
          const lockMode = input.mode === 'replace' ? 'ACCESS EXCLUSIVE' : 'ROW EXCLUSIVE';
          await client.query(`LOCK TABLE ${quoteTable(input.targetTable)} IN ${lockMode} MODE`);
          if (prepared && (await prepared.swap())) {
            await advanceOwnedSequences(client, input.targetTable);
            await recordPublication(client, input, input.expectedRows);
            return {
              rows: input.expectedRows,
              alreadyPublished: false,
              rebuiltIndexes: prepared.indexes,
              swapped: true,
            };
          }
          if (prepared) log.warn('replace moves rows: the target changed since staging was made, so no swap');
          // A replace that swaps fires no row trigger; one that moves rows fires none either.
          const triggers = input.mode === 'replace' ? await suspendUserTriggers(client, input.targetTable) : undefined;
          const references = input.mode === 'replace' ? await referencingKeys(client, input.targetTable) : undefined;
          let deferred: DeferredIndexes | undefined;
          let rows: number;
          if (references) {
            rows = await replaceReferencedRows(client, input, references, (key) =>
              moveRows(client, { ...input, mode: 'upsert', primaryKey: key }),
            );
          } else {
            if (input.mode === 'replace') {
              await emptyTarget(client, input.targetTable);
              deferred = await deferIndexes(client, input.targetTable);
            }
            rows = await moveRows(client, input);
            await deferred?.restore();
          }
          await advanceOwnedSequences(client, input.targetTable);
          await triggers?.restore();
          await recordPublication(client, input, rows);
          await client.query(`DROP TABLE ${quoteTable(input.staging)}`);
          return { rows, alreadyPublished: false, rebuiltIndexes: deferred?.count ?? 0, swapped: false };
        });
      });
      return stagedHigh ? { ...published, high: stagedHigh } : published;
    } catch (error) {
      throw toFailure(error, 'import', `publishing into ${formatTable(input.targetTable)}`);
    }
  }

  /** Drops staging; used on success paths that skipped publish and on failure and cancellation. */
  async function dropStaging(input: DropStagingInput): Promise<void> {
    const holder = currentAttempt();
    try {
      // The session fences this copy's earlier backends first: a stale import still holding
      // staging's lock would otherwise keep the DROP waiting until lock_timeout, leaving staging.
      await withAttemptSession(databases, input.target, 'cleanup', (client) =>
        inTransaction(client, async () => {
          await client.query('SET LOCAL lock_timeout = 30000');
          await client.query(`DROP TABLE IF EXISTS ${quoteTable(input.staging)}`);
          if (input.targetTable && (await hasLeases(client))) await releaseLease(client, input.targetTable, holder);
          await forgetChunkedCopy(client, holder);
        }),
      );
    } catch (error) {
      throw toFailure(error, 'import', `dropping staging ${formatTable(input.staging)}`);
    }
  }

  return { publish, dropStaging };
}
