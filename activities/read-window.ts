/**
 * The incremental window's two ends. planWindow (an activity, the run's first step) checks the
 * cursor column on the source and reads the watermark on the target: the low end. readHighMark
 * runs inside the export's snapshot (export-import.ts) and reads the column's maximum there: the
 * high end, so the rows exported are exactly those of (low, high]. Every bound is computed and
 * compared in SQL in the column's own type; JavaScript only carries the text.
 *
 * Failures: InvalidCopySpec (replace mode, a missing or unorderable column, a --since or
 * --lookback the type cannot take), SourceTableNotFound, and the connection failures of toFailure.
 * Idempotent: reads only.
 */
import { log } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { readWatermark } from '../src/db/watermarks.js';
import { readCursorColumn } from '../src/db/cursor-column.js';
import { cursorLiteral } from '../src/db/window-filter.js';
import { parseDuration } from '../src/shared/duration.js';
import type { CopyMode } from '../src/shared/copy-spec.js';
import { FailureType } from '../src/shared/failure-types.js';
import {
  incrementalProblem,
  isTimeCursor,
  NULL_CURSOR_COUNT_LIMIT,
  WATERMARK_AHEAD_TOLERANCE,
  type CursorType,
  type IncrementalSpec,
  type PlannedWindow,
} from '../src/shared/incremental.js';
import { formatTable, quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';
import { failure, toFailure } from './failures.js';

/** The copy as the workflow knows it, with its incremental flags. */
export interface PlanWindowInput {
  source: string;
  target: string;
  sourceTable: TableRef;
  targetTable: TableRef;
  mode: CopyMode;
  incremental: IncrementalSpec;
}

/** The cursor column on the source, or InvalidCopySpec naming what is wrong. */
async function cursorOf(
  client: pg.ClientBase,
  table: TableRef,
  column: string,
): Promise<{ type: CursorType; indexed: boolean | undefined; notNull: boolean }> {
  const found = await readCursorColumn(client, table, column);
  if (!found) {
    throw failure(
      FailureType.InvalidCopySpec,
      `--incremental-by: ${formatTable(table)} has no column ${quoteIdent(column)}`,
    );
  }
  if (!found.type) {
    throw failure(
      FailureType.InvalidCopySpec,
      `--incremental-by: column ${quoteIdent(column)} is ${found.shown}, not an orderable cursor type ` +
        '(timestamptz, timestamp, date, smallint, integer, bigint, numeric)',
    );
  }
  return { type: found.type, indexed: found.indexed, notNull: found.notNull };
}

/**
 * Rows whose cursor is NULL, up to NULL_CURSOR_COUNT_LIMIT + 1: no window holds them, so no run
 * copies them, and the run says so. Asked only of an indexed column (a btree index finds NULLs),
 * so the count is an index lookup, never another scan of the table.
 */
async function countNullCursors(client: pg.ClientBase, table: TableRef, column: string): Promise<number> {
  // Statistics that still remember many NULLs could make a scan look cheaper; it is not when the
  // NULLs are gone. The setting ends with planWindow's transaction.
  await client.query('SET LOCAL enable_seqscan = off');
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT FROM ${quoteTable(table)} WHERE ${quoteIdent(column)} IS NULL ` +
      `LIMIT ${NULL_CURSOR_COUNT_LIMIT + 1}) AS nulls`,
  );
  return rows[0]!.n;
}

/**
 * Whether a time cursor's watermark lies more than WATERMARK_AHEAD_TOLERANCE ahead of the
 * source's clock (CopiedWindow.watermarkAhead), compared in SQL in the column's type: the
 * session's TimeZone is UTC, so a `timestamp` compares with UTC wall-clock time.
 */
async function isAheadOfClock(client: pg.ClientBase, watermark: string, type: CursorType): Promise<boolean> {
  if (!isTimeCursor(type)) return false;
  const { rows } = await client.query<{ ahead: boolean }>(
    `SELECT $1::${type} > (now() + $2::interval)::${type} AS ahead`,
    [watermark, WATERMARK_AHEAD_TOLERANCE],
  );
  return rows[0]!.ahead;
}

/** A value through the type's own input and output, on the source; InvalidCopySpec when it is not one. */
async function normalised(client: pg.ClientBase, value: string, type: CursorType, flag: string): Promise<string> {
  await client.query('SAVEPOINT pgferry_cursor_value');
  try {
    const { rows } = await client.query<{ value: string }>(`SELECT $1::${type}::text AS value`, [value]);
    return rows[0]!.value;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('22')) throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_cursor_value');
    throw failure(FailureType.InvalidCopySpec, `${flag}: "${value}" is not a ${type} value`);
  }
}

/** A --lookback in the cursor type's terms: an interval for time cursors, a count of values for numbers. */
type Lookback = { millis: number } | { count: string };

/**
 * The --lookback as the cursor's type takes it; InvalidCopySpec when it cannot. Checked on every
 * run, the first included: a schedule whose lookback does not fit its cursor fails its first run,
 * not the second one at 3 a.m. after a first run that looked fine.
 */
function lookbackFor(type: CursorType, lookback: string): Lookback {
  const text = lookback.trim();
  if (isTimeCursor(type)) {
    try {
      return { millis: parseDuration(text) };
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw failure(FailureType.InvalidCopySpec, `--lookback: the cursor is a ${type}: ${why}`);
    }
  }
  if (!/^\d+$/.test(text)) {
    throw failure(
      FailureType.InvalidCopySpec,
      `--lookback: the cursor is a ${type}: give a whole number of values to re-read, not "${lookback}"`,
    );
  }
  return { count: text };
}

/**
 * The watermark minus the lookback, computed in the cursor's own type. A lookback reaching below
 * the type's range (a smallint cursor near -32768, a date near 4713 BC) re-reads from the start
 * (null), which is what it asks for, instead of failing every run on 22003/22008 "out of range".
 */
async function lookedBack(
  client: pg.ClientBase,
  watermark: string,
  type: CursorType,
  lookback: Lookback,
): Promise<string | null> {
  if ('millis' in lookback) {
    return lowerInType(client, `($1::${type} - make_interval(secs => $2::float8 / 1000))::${type}`, [
      watermark,
      lookback.millis,
    ]);
  }
  return lowerInType(client, `($1::numeric - $2::numeric)::${type}`, [watermark, lookback.count]);
}

/** `expression` as text; null when it falls outside its type's range (22003 numeric, 22008 datetime). */
async function lowerInType(client: pg.ClientBase, expression: string, values: unknown[]): Promise<string | null> {
  // planWindow reads in one transaction: the savepoint keeps it usable after an out-of-range error.
  await client.query('SAVEPOINT pgferry_lookback');
  try {
    const { rows } = await client.query<{ low: string }>(`SELECT (${expression})::text AS low`, values);
    await client.query('RELEASE SAVEPOINT pgferry_lookback');
    return rows[0]!.low;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '22003' && code !== '22008') throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_lookback');
    return null;
  }
}

/** planWindow over the worker's pools; see the module header for its failures. Reads only: idempotent. */
export function makePlanWindow(databases: Databases) {
  /** Where this run's window starts; see the module header. */
  return async function planWindow(input: PlanWindowInput): Promise<PlannedWindow> {
    const problem = incrementalProblem(input.incremental, input.mode);
    if (problem) throw failure(FailureType.InvalidCopySpec, problem);
    const { column, since, lookback } = input.incremental;
    const key = {
      targetTable: formatTable(input.targetTable),
      sourceProfile: input.source,
      sourceTable: formatTable(input.sourceTable),
      column,
    };
    try {
      const stored = await databases.withClient(input.target, (client) => readWatermark(client, key));
      return await databases.withClient(input.source, async (client) => {
        await client.query('BEGIN READ ONLY');
        try {
          const { type, indexed, notNull } = await cursorOf(client, input.sourceTable, column);
          if (indexed === false) {
            log.warn('no index leads with the cursor column on the source: each run scans the whole table', {
              table: formatTable(input.sourceTable),
              column,
            });
          }
          const nullCursorRows =
            indexed === true && !notNull ? await countNullCursors(client, input.sourceTable, column) : 0;
          if (nullCursorRows > 0) {
            log.warn('rows whose cursor column is NULL on the source are in no window and never copied', {
              table: formatTable(input.sourceTable),
              column,
              rows: nullCursorRows,
            });
          }
          const start = since === undefined ? null : await normalised(client, since, type, '--since');
          const back = lookback ? lookbackFor(type, lookback) : undefined;
          const watermark = stored ? await normalised(client, stored.watermark, type, 'the stored watermark') : null;
          const low = watermark === null ? start : back ? await lookedBack(client, watermark, type, back) : watermark;
          const watermarkAhead = watermark !== null && (await isAheadOfClock(client, watermark, type));
          if (watermarkAhead) {
            log.warn('the watermark is ahead of the source clock: rows changed from now on sort below it', {
              table: formatTable(input.sourceTable),
              column,
            });
          }
          return {
            key,
            type,
            watermark: stored?.watermark ?? null,
            low,
            ...(indexed === false ? { cursorIndexed: false as const } : {}),
            ...(nullCursorRows > 0 ? { nullCursorRows } : {}),
            ...(watermarkAhead ? { watermarkAhead: true as const } : {}),
          };
        } finally {
          await client.query('ROLLBACK');
        }
      });
    } catch (error) {
      throw toFailure(error, 'export', `planning the window of ${formatTable(input.sourceTable)} by ${column}`);
    }
  };
}

/**
 * The cursor's maximum above `low`, read by the client holding the export's snapshot; null
 * when no row is above it (an empty window).
 *
 * Written as the first value in descending order rather than `max(col) WHERE col > low`: rows
 * above the watermark are newer than the column's statistics, so the planner takes the window for
 * a row or two and aggregates over an index scan of all of it (the bench's 20,000-row window:
 * 20,000 heap fetches, 10-16 ms; a million-row window would be read twice). Ordered with LIMIT 1
 * the scan runs backwards and stops at the first visible row; without an index both forms scan.
 * `IS NOT NULL` keeps NULLs, first in descending order, out as max() does.
 */
export async function readHighMark(
  client: pg.ClientBase,
  table: TableRef,
  window: Pick<PlannedWindow, 'type' | 'low'> & { column: string },
): Promise<string | null> {
  const column = quoteIdent(window.column);
  const above = window.low === null ? '' : ` AND w.${column} > ${cursorLiteral(window.low, window.type)}`;
  // Qualified: a bare name in ORDER BY would mean the output column if the cursor were named `high`.
  const { rows } = await client.query<{ high: string }>(
    `SELECT w.${column}::text AS high FROM ${quoteTable(table)} AS w WHERE w.${column} IS NOT NULL${above} ` +
      `ORDER BY w.${column} DESC LIMIT 1`,
  );
  return rows[0]?.high ?? null;
}
