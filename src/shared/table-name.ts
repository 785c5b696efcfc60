/**
 * PostgreSQL-style qualified table names, as `pg_dump -t` reads them without wildcards:
 * unquoted parts fold ASCII letters to lower case, double-quoted parts are literal with `""`
 * for a quote. Pure module: safe inside the workflow sandbox.
 */

/** A schema-qualified table, with both parts exactly as stored in the catalog. */
export interface TableRef {
  schema: string;
  table: string;
}

/** Raised for a table name that PostgreSQL would not accept. */
export class TableNameError extends Error {
  override name = 'TableNameError';
}

const MAX_IDENTIFIER_BYTES = 63;
const UNQUOTED_PART = /^[\p{L}_][\p{L}\p{N}_$]*$/u;

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

function splitParts(input: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i <= input.length) {
    let part = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length) throw new TableNameError(`unterminated quoted identifier in ${input}`);
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += input[i];
        i++;
      }
      if (part === '') throw new TableNameError(`empty quoted identifier in ${input}`);
      if (i < input.length && input[i] !== '.')
        throw new TableNameError(`unexpected text after a quoted identifier in ${input}`);
    } else {
      const end = input.indexOf('.', i) === -1 ? input.length : input.indexOf('.', i);
      const raw = input.slice(i, end);
      if (!UNQUOTED_PART.test(raw)) {
        throw new TableNameError(
          `"${raw}" is not a valid unquoted identifier in ${input} (quote it with double quotes)`,
        );
      }
      part = raw.replace(/[A-Z]/g, (c) => c.toLowerCase());
      i = end;
    }
    if (utf8Length(part) > MAX_IDENTIFIER_BYTES) {
      throw new TableNameError(`identifier "${part}" is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    }
    parts.push(part);
    if (i >= input.length) break;
    i++; // the dot
    if (i >= input.length) throw new TableNameError(`table name ends with a dot: ${input}`);
  }
  return parts;
}

/**
 * Parses `[SCHEMA.]TABLE`; the schema defaults to `public`.
 * @throws TableNameError for empty names, bad quoting, too many parts or over-long identifiers.
 */
export function parseTableName(input: string): TableRef {
  const trimmed = input.trim();
  if (trimmed === '') throw new TableNameError('table name is empty');
  const parts = splitParts(trimmed);
  if (parts.length === 1) return { schema: 'public', table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  throw new TableNameError(`expected [SCHEMA.]TABLE, got ${parts.length} dotted parts in ${input}`);
}

/** Always-quoted SQL identifier (the same escaping as libpq's PQescapeIdentifier). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`, ready for SQL. */
export function quoteTable(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;
}

/** Quotes a part only where PostgreSQL would need it, for messages and ids a person reads. */
function displayPart(name: string): string {
  return /^[\p{Ll}\p{Lo}_][\p{Ll}\p{Lo}\p{N}_$]*$/u.test(name) ? name : quoteIdent(name);
}

/** `schema.table` as a person would type it back into `--table`. */
export function formatTable(ref: TableRef): string {
  return `${displayPart(ref.schema)}.${displayPart(ref.table)}`;
}

/** Whether two refs name the same table. */
export function sameTable(a: TableRef, b: TableRef): boolean {
  return a.schema === b.schema && a.table === b.table;
}
