/**
 * Chunks of an incremental window (issue 16: "a large window can be chunked with the same
 * flags"). The window (low, high] is cut into ranges of the cursor column: (low, b1], (b1, b2],
 * ..., (bk, +∞), where b1 < b2 < ... < bk are cursor values about `rows per chunk` apart in the
 * cursor's order. A range holds every row of its values, so equal values are never split and a
 * row is in exactly one chunk (C1), whatever snapshot the bounds were read in: every chunk then
 * reads the one snapshot the copy's holder exported (C4, `--consistency snapshot`). The last range
 * is open above: it reads up to the cursor's maximum in that snapshot, which is the window's
 * high, and publish reads it back as max(cursor) of staging (staging holds exactly the window's
 * rows, each chunk verified against its export). `--consistency chunk` is refused: chunks read
 * in different snapshots could see a row whose cursor moved in two ranges or in none, and the
 * window would not land exactly once.
 *
 * Planned only when the window can be bigger than a chunk: `--chunk-rows` given, or the table's
 * heap above the default chunk size; otherwise nothing is counted. Read-only: idempotent.
 * Failures: InvalidCopySpec; the caller maps the rest.
 */
import type pg from 'pg';
import { DEFAULT_CHUNK_BYTES, type ChunkingOptions, type PlannedChunk } from '../src/shared/chunk-spec.js';
import { FailureType } from '../src/shared/failure-types.js';
import type { PlannedWindow } from '../src/shared/incremental.js';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { cursorLiteral } from '../src/db/window-filter.js';
import { failure } from './failures.js';

/** The cursor column and where the window starts, as planWindow read them. */
export type WindowStart = Pick<PlannedWindow, 'type' | 'low'> & { column: string };

/** Rows per chunk: `--chunk-rows`, else about DEFAULT_CHUNK_BYTES of heap; undefined: the table is smaller. */
async function rowsPerChunk(client: pg.ClientBase, table: TableRef, chunking: ChunkingOptions) {
  if (chunking.chunkRows !== undefined) return chunking.chunkRows;
  const { rows } = await client.query<{ bytes: string; tuples: string }>(
    `SELECT sum(pg_relation_size(c.oid))::text AS bytes, sum(greatest(c.reltuples, 0))::bigint::text AS tuples
       FROM pg_class c
      WHERE c.relkind = 'r'
        AND (c.oid = $1::regclass OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))`,
    [quoteTable(table)],
  );
  const bytes = Number(rows[0]?.bytes ?? 0);
  const tuples = Number(rows[0]?.tuples ?? 0);
  if (bytes <= DEFAULT_CHUNK_BYTES || tuples <= 0) return undefined;
  return Math.max(1, Math.round((tuples * DEFAULT_CHUNK_BYTES) / bytes));
}

/**
 * The window's chunks, or none when it fits in one (the single-stream path).
 * @throws ApplicationFailure InvalidCopySpec under `--consistency chunk`.
 */
export async function planWindowChunks(
  client: pg.ClientBase,
  table: TableRef,
  window: WindowStart,
  chunking: ChunkingOptions,
): Promise<PlannedChunk[]> {
  if (chunking.consistency === 'chunk') {
    throw failure(
      FailureType.InvalidCopySpec,
      '--consistency chunk cannot copy an incremental window exactly once (chunks read in different ' +
        'snapshots could see a row whose cursor moved in two ranges or in none): use --consistency snapshot',
    );
  }
  const perChunk = await rowsPerChunk(client, table, chunking);
  if (perChunk === undefined) return [];
  const column = quoteIdent(window.column);
  const low = window.low === null ? undefined : cursorLiteral(window.low, window.type);
  const above = low ? ` WHERE ${column} > ${low}` : ` WHERE ${column} IS NOT NULL`;
  // Every perChunk-th value in cursor order; equal values collapse into one bound.
  const { rows } = await client.query<{ bound: string }>(
    `SELECT bound FROM (
       SELECT ${column}::text AS bound, row_number() OVER (ORDER BY ${column}) AS rn
         FROM ${quoteTable(table)}${above}) numbered
      WHERE rn % $1 = 0 ORDER BY rn`,
    [perChunk],
  );
  const bounds = [...new Set(rows.map((row) => row.bound))].map((bound) => cursorLiteral(bound, window.type));
  if (bounds.length === 0) return [];
  const uppers: (string | undefined)[] = [...bounds, undefined];
  return uppers.map((upper, n) => {
    const lower = n === 0 ? low : bounds[n - 1];
    return {
      n,
      range: {
        kind: 'key' as const,
        relation: table,
        columns: [window.column],
        ...(lower ? { lower: [lower] } : {}),
        ...(upper ? { upper: [upper] } : {}),
      },
    };
  });
}
