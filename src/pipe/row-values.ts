/**
 * Row values never enter Temporal history (DESIGN.md "Operations"). PostgreSQL quotes the rows
 * it rejects: `DETAIL:  Failing row contains (42, secret)`, `DETAIL:  Key (id)=(42) already
 * exists.`, a COPY's `CONTEXT:  COPY t, line 3: "42<TAB>secret"`, and a data exception's own
 * message (`invalid input syntax for type integer: "secret"`). Failure messages and stderr tails
 * go through here first: the values go, the SQLSTATE, column, constraint and table names stay,
 * so a DataRejected failure still says what was wrong without saying with which data.
 */

/** What replaces a removed value. */
export const REMOVED = '(row values removed)';

/** A psql message field (`DETAIL:  `, `CONSTRAINT NAME:  `) or a new psql/server message starts a line. */
const FIELD_START = /^(?:psql:|[A-Z][A-Z ]*:\s)/;

/** DETAIL lines that quote a row or key values. */
const ROW_DETAIL = /^(DETAIL:\s+)(?:Failing row contains|Key \(|Key$|.*\bconflicts with (?:existing )?key\b)/;

/** `COPY t, line 3: "..."` or `COPY t, line 3, column c: "..."`: the quoted input goes. */
const COPY_CONTEXT = /^(CONTEXT:\s+COPY .*?, line \d+(?:, column [^:]+)?): .*$/;

/** Data exceptions (22xxx) quote the offending input in their message. */
const DATA_EXCEPTION_LINE = /^((?:psql:[^\n]*?)?(?:ERROR|FATAL):\s+(?:22[0-9A-Z]{3}:\s+)?)(.*)$/;

/**
 * Removes row values from psql's verbose stderr: row-quoting DETAIL fields (with every
 * continuation line of a value that spans lines), the quoted input of a COPY's CONTEXT, and the
 * quoted input in a data exception's message. `sqlState` is the error's SQLSTATE when known.
 */
export function dropRowValues(text: string, sqlState?: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (skipping && !FIELD_START.test(line)) continue;
    skipping = false;
    const detail = ROW_DETAIL.exec(line);
    if (detail) {
      out.push(`${detail[1]}${REMOVED}`);
      skipping = true;
      continue;
    }
    const context = COPY_CONTEXT.exec(line);
    if (context) {
      out.push(`${context[1]}: ${REMOVED}`);
      skipping = true;
      continue;
    }
    const dataError = /^22/.test(sqlState ?? '') || /(?:ERROR|FATAL):\s+22[0-9A-Z]{3}:/.test(line);
    const errorLine = dataError ? DATA_EXCEPTION_LINE.exec(line) : null;
    out.push(errorLine ? `${errorLine[1]}${dropQuotedValues(errorLine[2]!)}` : line);
  }
  return out.join('\n');
}

/**
 * A server message without its quoted values, for messages known to come from a data exception
 * (22xxx): `invalid input syntax for type integer: "secret"` keeps its words and loses `secret`.
 * Messages of other classes name objects in quotes (constraints, columns) and are kept.
 */
export function dropQuotedValues(message: string, sqlState?: string): string {
  if (sqlState !== undefined && !sqlState.startsWith('22')) return message;
  return message.replace(/"(?:[^"]|"")*"?/g, '"***"');
}
