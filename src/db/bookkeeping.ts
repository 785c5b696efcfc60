/**
 * pgferry's own objects on the target: the `pgferry` schema, `pgferry.publications` (a retried
 * publish is a no-op), `pgferry.leases` (one copy per target table) and `pgferry.watermarks`
 * (incremental copies). Created only when the
 * catalog says they are missing, so a role that may not create schemas copies once an
 * administrator made them (README "Target database setup"); when creating is impossible the
 * error names the grant that is missing. Idempotent and safe when two copies race to create.
 */
import type pg from 'pg';

const TABLES: Record<string, string> = {
  publications: `CREATE TABLE IF NOT EXISTS pgferry.publications (
    publish_key text PRIMARY KEY,
    target_table text NOT NULL,
    mode text NOT NULL,
    rows bigint NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
  )`,
  leases: `CREATE TABLE IF NOT EXISTS pgferry.leases (
    target_table text PRIMARY KEY,
    workflow_id text NOT NULL,
    run_id text NOT NULL,
    staging_schema text NOT NULL,
    staging_table text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now()
  )`,
  // Incremental copies: where each one's last published window ended (watermarks.ts).
  watermarks: `CREATE TABLE IF NOT EXISTS pgferry.watermarks (
    target_table text NOT NULL,
    source_profile text NOT NULL,
    source_table text NOT NULL,
    cursor_column text NOT NULL,
    cursor_type text NOT NULL,
    watermark text NOT NULL,
    publish_key text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_table, source_profile, source_table, cursor_column)
  )`,
};

/** Raised when pgferry's bookkeeping is missing and this role may not create it. */
export class BookkeepingPermissionError extends Error {
  override name = 'BookkeepingPermissionError';
  readonly code = '42501';
}

/** Creating a schema or table another session created a moment earlier. */
const LOST_CREATE_RACE = new Set(['23505', '42P06', '42P07']);

/** Runs one CREATE in autocommit mode; a lost race counts as done. */
async function create(client: pg.ClientBase, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (error) {
    if (!LOST_CREATE_RACE.has((error as { code?: string }).code ?? '')) throw error;
  }
}

/**
 * Makes sure the bookkeeping schema and tables exist, creating only what is missing. Run
 * outside a transaction (a failed CREATE would abort it).
 * @throws BookkeepingPermissionError naming the grant an administrator must give.
 */
export async function ensureBookkeeping(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ schema: boolean; role: string; database: string; tables: string[] }>(
    `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pgferry') AS schema,
            current_user::text AS role, current_database()::text AS database,
            ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'pgferry' AND c.relkind = 'r') AS tables`,
  );
  const state = rows[0]!;
  const missing = Object.keys(TABLES).filter((table) => !state.tables.includes(table));
  if (state.schema && missing.length === 0) return;
  const role = quoteName(state.role);
  try {
    if (!state.schema) await create(client, 'CREATE SCHEMA IF NOT EXISTS pgferry');
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    throw new BookkeepingPermissionError(
      `pgferry needs its schema "pgferry" on the target and role ${role} may not create it: ` +
        `as an administrator run CREATE SCHEMA pgferry AUTHORIZATION ${role}; ` +
        `(or GRANT CREATE ON DATABASE ${quoteName(state.database)} TO ${role};)`,
      { cause: error },
    );
  }
  for (const table of missing) {
    try {
      await create(client, TABLES[table]!);
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error;
      throw new BookkeepingPermissionError(
        `pgferry needs the table pgferry.${table} on the target and role ${role} may not create it: ` +
          `as an administrator run ALTER SCHEMA pgferry OWNER TO ${role}; ` +
          `(or GRANT USAGE, CREATE ON SCHEMA pgferry TO ${role};)`,
        { cause: error },
      );
    }
  }
}

function quoteName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * CREATE SCHEMA only when the schema is missing: IF NOT EXISTS alone still needs CREATE on the
 * database, which a role that owns an existing schema usually lacks.
 */
export async function createSchemaIfMissing(client: pg.ClientBase, schema: string): Promise<void> {
  const { rows } = await client.query('SELECT FROM pg_namespace WHERE nspname = $1', [schema]);
  if (rows.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(schema)}`);
}
