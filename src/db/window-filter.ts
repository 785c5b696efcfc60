/**
 * The export's row filter for an incremental window, built from structured parts only: the
 * cursor column as a quoted identifier, the bounds as quoted literals cast to the cursor type (a
 * closed list). The bounds are text PostgreSQL printed for that type (or --since, already
 * normalised by the source), so they are checked against the characters such text can hold and
 * anything else is refused rather than escaped: no free text reaches `psql`.
 */
import { CURSOR_TYPES, type CursorType } from '../shared/incremental.js';
import { quoteIdent } from '../shared/table-name.js';

/** One window of one cursor column: rows in (low, high]. */
export interface WindowFilter {
  column: string;
  type: CursorType;
  /** Rows strictly above; null: no lower bound. */
  low: string | null;
  /** Rows at or below. */
  high: string;
}

/** Digits, signs, separators, `T`, time zone names and offsets, `infinity`, `BC`. */
const CURSOR_TEXT = /^[0-9A-Za-z :.+\-/_]{1,100}$/;

/** A cursor value as a SQL literal of its type, e.g. `'2026-12-02 10:00:00.123456+00'::timestamp with time zone`. */
export function cursorLiteral(value: string, type: CursorType): string {
  if (!(CURSOR_TYPES as readonly string[]).includes(type)) throw new Error(`unknown cursor type ${type}`);
  if (!CURSOR_TEXT.test(value)) throw new Error(`unexpected cursor value ${JSON.stringify(value)}`);
  return `'${value}'::${type}`;
}

/** `"updated_at" > '…'::timestamp with time zone AND "updated_at" <= '…'::timestamp with time zone`. */
export function windowFilterSql(filter: WindowFilter): string {
  const column = quoteIdent(filter.column);
  const upper = `${column} <= ${cursorLiteral(filter.high, filter.type)}`;
  return filter.low === null ? upper : `${column} > ${cursorLiteral(filter.low, filter.type)} AND ${upper}`;
}
