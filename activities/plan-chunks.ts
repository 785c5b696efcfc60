/**
 * planChunks: decides, before anything starts, whether a copy runs in chunks and which. A heap
 * table (each leaf of a partitioned one) above the chunk size is cut into heap block ranges, the
 * last one open-ended so that rows in blocks added later are read too (C1: every chunk reads the
 * same snapshot, so a row is in exactly one block range). `--consistency chunk` cuts by ranges of
 * the primary key (or a unique key on NOT NULL columns), and refuses a table with neither as
 * InvalidCopySpec. A table below the chunk size gets no chunks: the single-stream path.
 * The plan is stored on the target beside the chunk ledger (src/db/chunk-plan.ts) and only its
 * size is returned: no payload or history event grows with the table (C7). Read-only on the
 * source; the first plan stored for a copy stays its plan, so idempotent.
 */
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { FailureType } from '../src/shared/failure-types.js';
import { formatTable, quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import {
  DEFAULT_CHUNK_BYTES,
  type ChunkingOptions,
  type ConsistencyMode,
  type PlannedChunk,
} from '../src/shared/chunk-spec.js';
import { inTransaction } from '../src/db/databases.js';
import { storePlan } from '../src/db/chunk-plan.js';
import { failure, toFailure } from './failures.js';

export interface PlanChunksInput {
  source: string;
  /** Where the plan is stored (`pgferry` schema), beside the chunk ledger. */
  target: string;
  /** `workflowId/runId` of the copy: the plan's key. */
  copyId: string;
  table: TableRef;
  chunking: ChunkingOptions;
}

export interface PlanChunksResult {
  consistency: ConsistencyMode;
  /** Chunks in the stored plan; 0: copy in one stream. */
  total: number;
  /**
   * The whole plan, as results recorded before the plan was stored on the target carried it
   * (a history from then replays with it); never set by this version.
   */
  chunks?: PlannedChunk[];
}

interface HeapRelation {
  relation: TableRef;
  blocks: number;
  rows: number;
}

/** The heap relations holding the table's rows (its leaves when partitioned), with their size. */
async function heapRelations(client: pg.ClientBase, table: TableRef): Promise<HeapRelation[] | undefined> {
  const kind = await client.query<{ relkind: string }>('SELECT relkind::text FROM pg_class WHERE oid = $1::regclass', [
    quoteTable(table),
  ]);
  if (!['r', 'p'].includes(kind.rows[0]?.relkind ?? '')) return undefined;
  const result = await client.query<{ schema: string; name: string; blocks: string; rows: string }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text AS blocks,
            greatest(c.reltuples, 0)::bigint::text AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND (c.oid = $1::regclass OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))
      ORDER BY 1, 2`,
    [quoteTable(table)],
  );
  return result.rows.map((row) => ({
    relation: { schema: row.schema, table: row.name },
    blocks: Number(row.blocks),
    rows: Number(row.rows),
  }));
}

/** Block ranges of `blocksPerChunk` per relation; the last of each relation is open-ended. */
function ctidChunks(relations: HeapRelation[], blocksPerChunk: (relation: HeapRelation) => number): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  for (const relation of relations) {
    const step = Math.max(1, blocksPerChunk(relation));
    for (let start = 0; ; start += step) {
      const last = start + step >= relation.blocks;
      chunks.push({
        n: chunks.length,
        range: {
          kind: 'ctid',
          relation: relation.relation,
          startBlock: start,
          ...(last ? {} : { endBlock: start + step }),
        },
      });
      if (last) break;
    }
  }
  return chunks;
}

/** The primary key, else a non-partial unique index on NOT NULL columns; undefined when none. */
async function chunkKey(client: pg.ClientBase, table: TableRef): Promise<string[] | undefined> {
  const result = await client.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid, i.indisprimary
     HAVING bool_and(a.attnotnull) AND bool_and(k.attnum > 0)
      ORDER BY i.indisprimary DESC, count(*), i.indexrelid
      LIMIT 1`,
    [quoteTable(table)],
  );
  return result.rows[0]?.columns;
}

/** Key bounds every `rowsPerChunk` rows in key order, as typed SQL literals. */
async function keyBounds(
  client: pg.ClientBase,
  table: TableRef,
  columns: string[],
  rowsPerChunk: number,
): Promise<string[][]> {
  const keys = columns.map(quoteIdent).join(', ');
  const literals = columns
    .map((column) => `quote_literal(${quoteIdent(column)}) || '::' || pg_typeof(${quoteIdent(column)})::text`)
    .join(', ');
  const result = await client.query<{ bound: string[] }>(
    `SELECT ARRAY[${literals}] AS bound
       FROM (SELECT ${keys}, row_number() OVER (ORDER BY ${keys}) AS rn FROM ${quoteTable(table)}) AS t
      WHERE rn % $1 = 0 ORDER BY rn`,
    [rowsPerChunk],
  );
  return result.rows.map((row) => row.bound);
}

interface Plan {
  consistency: ConsistencyMode;
  chunks: PlannedChunk[];
}

export function makePlanChunks(databases: Databases) {
  async function plan(input: PlanChunksInput): Promise<Plan> {
    const consistency = input.chunking.consistency ?? 'snapshot';
    const chunkRows = input.chunking.chunkRows;
    try {
      return await databases.withClient(input.source, async (client) => {
        const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [
          quoteTable(input.table),
        ]);
        // createStaging names a missing table, as it does for every copy.
        if (!exists.rows[0]?.oid) return { consistency, chunks: [] };
        const relations = await heapRelations(client, input.table);
        if (consistency === 'chunk') {
          const key = relations && (await chunkKey(client, input.table));
          if (!key) {
            throw failure(
              FailureType.InvalidCopySpec,
              `--consistency chunk needs a primary key or a unique key on NOT NULL columns; ` +
                `${formatTable(input.table)} has neither (use --consistency snapshot)`,
            );
          }
          const rows = relations.reduce((sum, relation) => sum + relation.rows, 0);
          const perChunk = chunkRows ?? Math.max(1, Math.round((rows * DEFAULT_CHUNK_BYTES) / heapBytes(relations)));
          if (rows <= perChunk) return { consistency, chunks: [] };
          const bounds = await keyBounds(client, input.table, key, perChunk);
          const chunks = [...bounds, undefined].map((upper, n) => ({
            n,
            range: {
              kind: 'key' as const,
              relation: input.table,
              columns: key,
              ...(n > 0 ? { lower: bounds[n - 1] } : {}),
              ...(upper ? { upper } : {}),
            },
          }));
          return { consistency, chunks };
        }
        if (!relations) return { consistency, chunks: [] };
        const bytes = heapBytes(relations);
        const rows = relations.reduce((sum, relation) => sum + relation.rows, 0);
        const big = chunkRows === undefined ? bytes > DEFAULT_CHUNK_BYTES : rows > chunkRows;
        if (!big) return { consistency, chunks: [] };
        const chunks = ctidChunks(relations, (relation) =>
          chunkRows === undefined || relation.rows === 0
            ? Math.floor(DEFAULT_CHUNK_BYTES / BLOCK_BYTES)
            : Math.round((chunkRows * relation.blocks) / relation.rows),
        );
        return { consistency, chunks };
      });
    } catch (error) {
      throw toFailure(error, 'export', `planning chunks of ${formatTable(input.table)}`);
    }
  }

  return async function planChunks(input: PlanChunksInput): Promise<PlanChunksResult> {
    const { consistency, chunks } = await plan(input);
    if (chunks.length === 0) return { consistency, total: 0 };
    try {
      const total = await databases.withClient(input.target, (client) =>
        inTransaction(client, () => storePlan(client, input.copyId, consistency, chunks)),
      );
      return { consistency, total };
    } catch (error) {
      throw toFailure(error, 'import', `storing the chunk plan of ${formatTable(input.table)}`);
    }
  };
}

const BLOCK_BYTES = 8192;

function heapBytes(relations: HeapRelation[]): number {
  return Math.max(
    1,
    relations.reduce((sum, relation) => sum + relation.blocks * BLOCK_BYTES, 0),
  );
}
