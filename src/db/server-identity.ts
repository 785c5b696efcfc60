/**
 * Which server, database and table a connection reaches, by identity rather than by profile
 * name: two profiles (another host name, port forward, role) can point at one database, and a
 * copy from it onto itself would append a table to itself or replace it with itself.
 * The server is its postmaster start time plus, when the role may read it, its system identifier
 * (pg_control_system()): the identifier alone would also match a clone restored from a backup,
 * a legitimate target, and the start time alone could in theory match two servers.
 */
import type pg from 'pg';
import { quoteTable, type TableRef } from '../shared/table-name.js';

export interface TableIdentity {
  /** System identifier, or undefined when the role may not read pg_control_system(). */
  systemIdentifier?: string;
  postmasterStarted: string;
  databaseOid: string;
  /** The table's OID, or undefined when it does not exist. */
  tableOid?: string;
}

/** Reads where `table` lives on the connection's server; outside a transaction (a refused call aborts one). */
export async function tableIdentity(client: pg.ClientBase, table: TableRef): Promise<TableIdentity> {
  const { rows } = await client.query<{ started: string; database: string; oid: string | null }>(
    `SELECT pg_postmaster_start_time()::text AS started,
            (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database,
            to_regclass($1)::oid::text AS oid`,
    [quoteTable(table)],
  );
  const row = rows[0]!;
  let systemIdentifier: string | undefined;
  try {
    const control = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    systemIdentifier = control.rows[0]?.id;
  } catch (error) {
    // pg_control_system() may be revoked from this role: the start time alone then names the server.
    if ((error as { code?: string }).code !== '42501') throw error;
  }
  return {
    systemIdentifier,
    postmasterStarted: row.started,
    databaseOid: row.database,
    tableOid: row.oid ?? undefined,
  };
}

/** Whether two identities are one table on one server's one database. */
export function isSameTable(a: TableIdentity, b: TableIdentity): boolean {
  const sameServer =
    a.postmasterStarted === b.postmasterStarted &&
    (a.systemIdentifier === undefined || b.systemIdentifier === undefined || a.systemIdentifier === b.systemIdentifier);
  return sameServer && a.databaseOid === b.databaseOid && a.tableOid !== undefined && a.tableOid === b.tableOid;
}
