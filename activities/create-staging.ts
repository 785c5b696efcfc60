/**
 * createStaging: checks the copy against both catalogs before any data moves and (re)creates an
 * empty staging table: for a target that does not exist, a logged table of the source's
 * definition (target-definition.ts) that publish renames into the target's place, so the target
 * is created only by publish; for a replace that publish can finish by swapping tables, a logged
 * twin of the target (table-swap.ts); otherwise UNLOGGED with the source's columns. It never
 * touches the target. Idempotent: one target transaction, re-runnable.
 * The same transaction takes the target's lease (lease.ts): another open run holding it fails
 * the copy as TargetBusy before anything changes; so does a source and target that are one table
 * on one server under two profile names (InvalidCopySpec). With `incremental` it plans the
 * window first (read-window.ts), so an incremental run needs no separate planWindow step.
 */
import { log } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { inTransaction } from '../src/db/databases.js';
import { readTableDefinition, type ColumnDefinition, type TableDefinition } from '../src/db/catalog.js';
import {
  missingCollations,
  newTargetStagingSql,
  readTargetDefinition,
  type TargetDefinition,
} from '../src/db/target-definition.js';
import { FailureType } from '../src/shared/failure-types.js';
import { formatTable, quoteIdent, quoteTable, sameTable, type TableRef } from '../src/shared/table-name.js';
import type { CopyMode } from '../src/shared/copy-spec.js';
import { failure, toFailure } from './failures.js';
import { refuseNonTableTarget, refuseUnreadableSource } from './relation-kinds.js';
import { stagingTableFor } from './staging.js';
import { createSwapStaging, swapBlockers } from './table-swap.js';
import { createSchemaIfMissing, ensureBookkeeping } from '../src/db/bookkeeping.js';
import { isSameTable, tableIdentity } from '../src/db/server-identity.js';
import { currentAttempt, withAttemptSession } from './attempt-fence.js';
import { takeLease, type RunIsOpen } from './lease.js';
import { makePlanWindow } from './read-window.js';
import type { IncrementalSpec, PlannedWindow } from '../src/shared/incremental.js';
import type { ChunkingOptions, PlannedChunk } from '../src/shared/chunk-spec.js';
import { planWindowChunks } from './window-chunks.js';
import { storePlan } from '../src/db/chunk-plan.js';

export interface CreateStagingInput {
  source: string;
  target: string;
  sourceTable: TableRef;
  targetTable: TableRef;
  mode: CopyMode;
  /** Incremental copy: plan the window first (planWindow's checks and reads), in this same step. */
  incremental?: IncrementalSpec;
  /** With `incremental`: the chunk flags, to cut a large window into chunks (window-chunks.ts). */
  chunking?: ChunkingOptions;
}

export interface CreateStagingResult {
  staging: TableRef;
  /** Data columns in source order; the same list is used by export, import and publish. */
  columns: string[];
  primaryKey: string[];
  /** Source is a partitioned table, view or similar: export with `COPY (SELECT ...)`. */
  selectForm: boolean;
  /** The target does not exist: publish creates it from this definition, inside its transaction. */
  createTarget?: TargetDefinition;
  /** With `incremental`: planWindow's answer, read before staging was created. */
  window?: PlannedWindow;
  /**
   * With `incremental`: how many chunks the window's plan holds when it is larger than a chunk
   * (the plan itself is stored on the target, chunk-plan.ts); absent: one stream.
   */
  windowChunks?: number;
}

const COPYABLE_KINDS = new Set(['r', 'p', 'v', 'm', 'f']);

/** A staging column: the source's type and collation, no constraint. */
function columnSql(column: ColumnDefinition): string {
  const collation = column.collation ? ` COLLATE ${column.collation}` : '';
  return `${quoteIdent(column.name)} ${column.type}${collation}`;
}

/** Lists how an existing target differs from the source, or nothing when compatible. */
function schemaDifferences(source: TableDefinition, target: TableDefinition): string[] {
  const targetColumns = new Map(target.columns.map((column) => [column.name, column]));
  const differences: string[] = [];
  for (const column of source.columns) {
    const match = targetColumns.get(column.name);
    if (!match) differences.push(`column ${quoteIdent(column.name)} is missing`);
    else if (match.type !== column.type) {
      differences.push(
        `column ${quoteIdent(column.name)} is ${match.type} on the target, ${column.type} on the source`,
      );
    }
  }
  return differences;
}

/**
 * Columns whose collation differs between source and target. The values copy unchanged, but sort
 * order, comparisons and unique indexes on the target follow its own collation: worth a warning,
 * not a refusal (a target may choose its collation on purpose).
 */
function collationDifferences(source: TableDefinition, target: TableDefinition): string[] {
  const targetColumns = new Map(target.columns.map((column) => [column.name, column]));
  return source.columns.flatMap((column) => {
    const match = targetColumns.get(column.name);
    if (!match || match.collation === column.collation) return [];
    const name = (collation: string | null) => collation ?? 'the default';
    return [
      `column ${quoteIdent(column.name)} collates as ${name(match.collation)} on the target, ${name(column.collation)} on the source`,
    ];
  });
}

/**
 * Upsert updates every column but the key, and PostgreSQL lets no UPDATE set a GENERATED ALWAYS
 * identity column (428C9): such a target would fail at publish, after the whole load. Refused
 * here, before anything changes, with the two ways out.
 */
async function refuseUnupdatableIdentity(client: pg.ClientBase, table: TableRef, primaryKey: string[]) {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = 'a'
      ORDER BY a.attnum`,
    [quoteTable(table)],
  );
  const columns = rows.map((row) => row.name).filter((name) => !primaryKey.includes(name));
  if (columns.length === 0) return;
  const quoted = quoteTable(table);
  throw failure(
    FailureType.InvalidCopySpec,
    `upsert cannot update ${columns.join(', ')} of ${formatTable(table)}: GENERATED ALWAYS AS IDENTITY and not in the ` +
      `primary key, so PostgreSQL refuses to update it. Make it BY DEFAULT (ALTER TABLE ${quoted} ALTER COLUMN ` +
      `${quoteIdent(columns[0]!)} SET GENERATED BY DEFAULT) or copy with --mode replace`,
  );
}

export function makeCreateStaging(databases: Databases, runIsOpen: RunIsOpen) {
  const planWindow = makePlanWindow(databases);
  return async function createStaging(input: CreateStagingInput): Promise<CreateStagingResult> {
    // A bad cursor column is refused before anything is created, as a separate planWindow would.
    const window = input.incremental && (await planWindow({ ...input, incremental: input.incremental }));
    const windowChunks = window && input.chunking ? await chunksOf(input, window, input.chunking) : [];
    const staged = await createStagingTable(input);
    if (!window) return staged;
    if (windowChunks.length === 0) return { ...staged, window };
    return { ...staged, window, windowChunks: await storeWindowPlan(input, windowChunks) };
  };

  /** Stores the window's chunks as this run's plan, as planChunks does for a whole table. */
  async function storeWindowPlan(input: CreateStagingInput, chunks: PlannedChunk[]): Promise<number> {
    const { workflowId, runId } = currentAttempt();
    return databases
      .withClient(input.target, (client) =>
        inTransaction(client, () => storePlan(client, `${workflowId}/${runId}`, 'snapshot', chunks)),
      )
      .catch((error: unknown) => {
        throw toFailure(error, 'import', `storing the chunk plan of the window of ${formatTable(input.sourceTable)}`);
      });
  }

  async function chunksOf(input: CreateStagingInput, window: PlannedWindow, chunking: ChunkingOptions) {
    const column = input.incremental!.column;
    return databases
      .withClient(input.source, (client) =>
        planWindowChunks(client, input.sourceTable, { column, type: window.type, low: window.low }, chunking),
      )
      .catch((error: unknown) => {
        throw toFailure(error, 'export', `planning the chunks of the window by ${column}`);
      });
  }

  async function createStagingTable(input: CreateStagingInput): Promise<CreateStagingResult> {
    const { sourceTable, targetTable } = input;
    if (input.source.toLowerCase() === input.target.toLowerCase() && sameTable(sourceTable, targetTable)) {
      throw failure(
        FailureType.InvalidCopySpec,
        `source and target are the same table: ${input.source}:${formatTable(sourceTable)}`,
      );
    }
    const source = await databases
      .withClient(input.source, async (client) => {
        const table = await readTableDefinition(client, sourceTable);
        if (!table) return undefined;
        await refuseUnreadableSource(client, sourceTable, table, `${input.source}:${formatTable(sourceTable)}`);
        return { ...table, create: await readTargetDefinition(client, sourceTable, table.primaryKey) };
      })
      .catch((error: unknown) => {
        throw toFailure(error, 'export', 'reading the source table definition');
      });
    if (!source) {
      throw failure(
        FailureType.SourceTableNotFound,
        `source table ${input.source}:${formatTable(sourceTable)} does not exist`,
      );
    }
    if (!COPYABLE_KINDS.has(source.kind) || source.columns.length === 0) {
      throw failure(
        FailureType.InvalidCopySpec,
        `${formatTable(sourceTable)} is not a table with columns that can be copied`,
      );
    }
    if (input.mode === 'upsert' && source.primaryKey.length === 0) {
      // Checked on the target below too; a new target gets the source's key, so both need one.
      const target = await databases.withClient(input.target, (client) => readTableDefinition(client, targetTable));
      if (!target || target.primaryKey.length === 0) {
        throw failure(
          FailureType.InvalidCopySpec,
          `upsert needs a primary key on ${input.target}:${formatTable(targetTable)}`,
        );
      }
    }

    await refuseCopyOntoItself(databases, input);

    const holder = currentAttempt();
    const staging = stagingTableFor(input.target, targetTable, holder.workflowId);
    try {
      await databases.withClient(input.target, ensureBookkeeping);
      return await withAttemptSession(databases, input.target, 'createStaging', (client) =>
        inTransaction(client, async () => {
          const stale = await takeLease(client, targetTable, holder, staging, runIsOpen);
          if (stale)
            log.warn('took over the lease of a closed run', { workflowId: stale.workflowId, runId: stale.runId });
          const existing = await readTableDefinition(client, targetTable);
          if (existing) {
            refuseNonTableTarget(existing, `${input.target}:${formatTable(targetTable)}`);
            const differences = schemaDifferences(source, existing);
            if (differences.length > 0) {
              throw failure(
                FailureType.SchemaMismatch,
                `target ${input.target}:${formatTable(targetTable)} is incompatible with the source: ${differences.join('; ')}`,
                { differences },
              );
            }
            if (input.mode === 'upsert' && existing.primaryKey.length === 0) {
              throw failure(
                FailureType.InvalidCopySpec,
                `upsert needs a primary key on ${input.target}:${formatTable(targetTable)}`,
              );
            }
            if (input.mode === 'upsert') await refuseUnupdatableIdentity(client, targetTable, existing.primaryKey);
            const collations = collationDifferences(source, existing);
            if (collations.length > 0) log.warn('target collations differ from the source', { collations });
          } else {
            const missing = await missingCollations(client, source.create);
            if (missing.length > 0) {
              throw failure(
                FailureType.SchemaMismatch,
                `target database ${input.target} lacks the collations the source's columns use: ${missing.join(', ')}`,
                { differences: missing.map((name) => `collation ${name} is missing`) },
              );
            }
            // Staging lives in the target's schema; the target itself is created by publish.
            await createSchemaIfMissing(client, targetTable.schema);
          }
          await client.query(`DROP TABLE IF EXISTS ${quoteTable(staging)}`);
          const blockers = input.mode === 'replace' && existing ? await swapBlockers(client, targetTable) : undefined;
          if (!existing) {
            await client.query(newTargetStagingSql(staging, source.create));
          } else if (blockers?.length === 0) {
            await createSwapStaging(client, targetTable, staging);
          } else {
            if (blockers) {
              log.info('replace will move rows: the target cannot be swapped', { blockers });
            }
            // UNLOGGED and constraint-free: the load writes no WAL and maintains no index; the
            // target's constraints apply when publish moves the rows. COPY FREEZE leaves nothing
            // for autovacuum to do, and a vacuum triggered by the load would compete with publish.
            const stagingColumns = source.columns.map(columnSql).join(', ');
            await client.query(
              `CREATE UNLOGGED TABLE ${quoteTable(staging)} (${stagingColumns})
                 WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)`,
            );
          }
          // Names its run, so `pgferry gc` can tell whose staging this is even without a lease.
          await client.query(
            `COMMENT ON TABLE ${quoteTable(staging)} IS ${client.escapeLiteral(JSON.stringify({ pgferry: 'staging', workflowId: holder.workflowId, runId: holder.runId }))}`,
          );
          return {
            staging,
            columns: source.columns.map((column) => column.name),
            primaryKey: existing?.primaryKey.length ? existing.primaryKey : source.primaryKey,
            selectForm: source.kind !== 'r',
            ...(existing ? {} : { createTarget: source.create }),
          };
        }),
      );
    } catch (error) {
      throw toFailure(error, 'import', `creating staging for ${formatTable(targetTable)}`);
    }
  }
}

/**
 * Refuses a copy whose source and target are one table on one server, whatever the profiles are
 * called, before anything changes. @throws InvalidCopySpec
 */
async function refuseCopyOntoItself(databases: Databases, input: CreateStagingInput): Promise<void> {
  const source = await databases
    .withClient(input.source, (client) => tableIdentity(client, input.sourceTable))
    .catch((error: unknown) => {
      throw toFailure(error, 'export', 'identifying the source server');
    });
  const target = await databases
    .withClient(input.target, (client) => tableIdentity(client, input.targetTable))
    .catch((error: unknown) => {
      throw toFailure(error, 'import', 'identifying the target server');
    });
  if (isSameTable(source, target)) {
    throw failure(
      FailureType.InvalidCopySpec,
      `source ${input.source}:${formatTable(input.sourceTable)} and target ${input.target}:${formatTable(input.targetTable)} ` +
        'are the same table on the same server: a copy onto itself is refused',
    );
  }
}
