/**
 * Incremental copies (DESIGN.md "Incremental copies"): the cursor column, the window a run copies
 * and the watermark that says where the last published window ended. Cursor values travel as the
 * text PostgreSQL prints for the column's own type and are only ever compared in SQL, cast back to
 * that type: a JavaScript `Date` loses microseconds and a `number` loses numeric(30,0) digits
 * beyond 2^53, and either would make a window skip or repeat rows. Pure module: sandbox-safe.
 */
import { formatCount } from './format.js';
import type { CopyMode } from './copy-spec.js';
import { DurationError, parseDuration } from './duration.js';

/**
 * The orderable cursor types, by the SQL name a literal is cast to. A closed list: these names
 * are the only type text ever written into SQL, so nothing the user types reaches it.
 */
export const CURSOR_TYPES = [
  'timestamp with time zone',
  'timestamp without time zone',
  'date',
  'smallint',
  'integer',
  'bigint',
  'numeric',
] as const;
export type CursorType = (typeof CURSOR_TYPES)[number];

/** Time cursors look back by an interval, number cursors by a count. */
export function isTimeCursor(type: CursorType): boolean {
  return type === 'timestamp with time zone' || type === 'timestamp without time zone' || type === 'date';
}

/** What the user asked for: `--incremental-by`, `--lookback`, `--since`. */
export interface IncrementalSpec {
  /** The cursor column, exactly as named on the source (an identifier, not SQL). */
  column: string;
  /** `10m`, `2h` (time cursors) or a whole number `N` (number cursors): re-read below the watermark. */
  lookback?: string;
  /** The first run's low bound, in the column's type (default: everything). */
  since?: string;
}

/** Which watermark a copy reads and advances: one per target table, source and cursor. */
export interface WatermarkKey {
  /** The target table, as formatTable prints it. */
  targetTable: string;
  sourceProfile: string;
  /** The source table, as formatTable prints it. */
  sourceTable: string;
  column: string;
}

/**
 * What planWindow found about the cursor column, each worth a warning (windowWarnings). The
 * planned window carries them, and the workflow copies them onto every window it reports.
 */
export interface CursorFindings {
  /**
   * false when no btree index on the source leads with the column (cursor-column.ts): the run
   * read the whole table to find its window, and so will every run until one is made. Absent
   * when indexed or unknown.
   */
  cursorIndexed?: false;
  /**
   * Rows on the source whose cursor is NULL, counted when the run planned: no window holds them,
   * so no incremental run copies them. Counted up to NULL_CURSOR_COUNT_LIMIT + 1, and only when
   * the column is nullable and indexed (the count is then an index lookup; unindexed, the index
   * warning comes first). Absent when there are none or they were not counted.
   */
  nullCursorRows?: number;
  /**
   * The stored watermark of a time cursor lies more than WATERMARK_AHEAD_TOLERANCE ahead of the
   * source's clock when the run planned: a future value (bad data, a test row) became the high
   * mark, and rows changed from now on sort below it, so no run copies them until the clock
   * passes it. Said on every run while it lasts. Absent otherwise.
   */
  watermarkAhead?: true;
}

/** planWindow's answer, before the export: where this run starts. */
export interface PlannedWindow extends CursorFindings {
  key: WatermarkKey;
  type: CursorType;
  /** The stored watermark when the run planned (null: none yet). Publish advances only from it. */
  watermark: string | null;
  /** Rows strictly above this are copied (null: from the start); below the watermark with --lookback. */
  low: string | null;
}

/** The window a run copied: (low, high], high read in the export's snapshot. */
export interface CopiedWindow extends CursorFindings {
  column: string;
  low: string | null;
  /** The column's maximum in the export's snapshot; null when no row is above low (empty window). */
  high: string | null;
  rows: number;
}

/**
 * How far ahead of the source's clock a time watermark may be before runs warn. A day: a
 * `timestamp` column holding local time in a zone east of UTC is hours ahead of the UTC clock
 * pgferry's sessions compare with, and that is no fault.
 */
export const WATERMARK_AHEAD_TOLERANCE = '1 day';

/** The NULL cursors a run counts at most; one more means "more than this". */
export const NULL_CURSOR_COUNT_LIMIT = 10_000;

/** What publish writes with the rows, in its transaction (watermarks.ts). */
export interface WatermarkAdvance {
  key: WatermarkKey;
  type: CursorType;
  /** The watermark planWindow read; another value found at publish means another run moved it. */
  previous: string | null;
  high: string;
}

/**
 * The incremental flags' own rules, checked by the CLI and again by the workflow's first
 * activity (any client may start a run). Returns the problem in one line, or undefined.
 */
export function incrementalProblem(spec: IncrementalSpec, mode: CopyMode): string | undefined {
  if (mode === 'replace') {
    return '--incremental-by works with --mode append or --mode upsert; replace would empty the target to load one window';
  }
  if (!spec.column) return '--incremental-by: give a column name';
  if (spec.lookback !== undefined && mode !== 'upsert') {
    return '--lookback re-reads rows already copied: use it with --mode upsert (append would insert them twice)';
  }
  if (spec.lookback !== undefined && !/^\s*\d+\s*$/.test(spec.lookback)) {
    try {
      parseDuration(spec.lookback);
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
      return `--lookback: "${spec.lookback}" is neither a duration (10m, 2h) nor a whole number of values`;
    }
  }
  return undefined;
}

/** `(low, high]` for people: `(start, 2026-12-02 10:00:00+00]`. */
export function formatWindowRange(window: Pick<CopiedWindow, 'column' | 'low' | 'high'>): string {
  return `${window.column} in (${window.low ?? 'start'}, ${window.high ?? window.low ?? 'start'}]`;
}

/** The window's range and its warnings (windowWarnings), each in its own parenthesis, as one line. */
export function formatWindow(window: Pick<CopiedWindow, 'column' | 'low' | 'high'> & CursorFindings): string {
  const range = formatWindowRange(window);
  const warnings = windowWarnings(window);
  return [range, ...warnings.map((warning) => `(warning: ${warning})`)].join(' ');
}

/**
 * Said wherever a window is shown: a cursor no index leads with (what each run costs, and the
 * fix), rows whose cursor is NULL, and a watermark ahead of the clock (rows no run copies).
 */
export function windowWarnings(window: Pick<CopiedWindow, 'column'> & CursorFindings): string[] {
  const { column } = window;
  const warnings: string[] = [];
  if (window.cursorIndexed === false) {
    warnings.push(`no index on the source leads with ${column}, so every run scans the whole table; index ${column}`);
  }
  const nulls = window.nullCursorRows;
  if (nulls !== undefined && nulls > 0) {
    const counted =
      nulls > NULL_CURSOR_COUNT_LIMIT
        ? `more than ${formatCount(NULL_CURSOR_COUNT_LIMIT)} rows of the source have`
        : nulls === 1
          ? '1 row of the source has'
          : `${formatCount(nulls)} rows of the source have`;
    warnings.push(`${counted} a NULL ${column}, and no incremental run copies them`);
  }
  if (window.watermarkAhead) {
    warnings.push(
      `the watermark is more than ${WATERMARK_AHEAD_TOLERANCE} ahead of the source's clock, so rows changed ` +
        `from now on sort below it and no run copies them; fix the row with that ${column}, then move the ` +
        'watermark back with pgferry watermark set',
    );
  }
  return warnings;
}

/**
 * The findings a planned window passes on to the windows a run reports. A planned window in a
 * history recorded while planWindow still wrote `cursorIndexed: true` holds no finding there.
 */
export function cursorFindingsOf(planned: PlannedWindow): CursorFindings {
  return {
    ...(planned.cursorIndexed === false ? { cursorIndexed: false } : {}),
    ...(planned.nullCursorRows ? { nullCursorRows: planned.nullCursorRows } : {}),
    ...(planned.watermarkAhead ? { watermarkAhead: true } : {}),
  };
}
