/**
 * The session settings pgferry pins on every connection it makes: node-postgres pools and
 * clients (src/db/databases.ts), both psql processes (src/pipe/psql-commands.ts) and the tests.
 * One definition, docs/design.md invariant 6 ("same snapshot, same settings").
 *
 * - DateStyle, IntervalStyle, extra_float_digits, client_encoding: text values round-trip exactly.
 * - TimeZone=UTC: a timestamptz renders the same on servers in different time zones, so the
 *   row digests of `--verify checksum` agree between Asia/Seoul and America/New_York.
 * - row_security=off, on sessions that read the source's rows (the export and the source digest):
 *   as pg_dump does, a role subject to a row-level security policy then fails with 42501 instead
 *   of silently exporting the subset the policy shows it.
 */

export type SessionSettings = Readonly<Record<string, string>>;

/** Settings of every pgferry session, on the source and the target alike. */
export const PINNED_SETTINGS: SessionSettings = {
  DateStyle: 'ISO',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  client_encoding: 'UTF8',
  TimeZone: 'UTC',
};

/** Settings of the sessions that read the source table's rows: the export and its digest. */
export const SOURCE_READ_SETTINGS: SessionSettings = { ...PINNED_SETTINGS, row_security: 'off' };

/** The settings as libpq `options` / PGOPTIONS: `-c DateStyle=ISO -c ...`. */
export function sessionOptions(settings: SessionSettings = PINNED_SETTINGS): string {
  return Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
}
