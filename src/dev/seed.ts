/**
 * Demo data: the same seed the docker-compose source database runs (docker/source-seed.sql),
 * `public."고객_주문"` with 100,000 rows of mixed types and a Korean name.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sessionOptions } from '../db/session-settings.js';
import type { TableRef } from '../shared/table-name.js';

export const DEMO_TABLE: TableRef = { schema: 'public', table: '고객_주문' };

/** Finds docker/source-seed.sql from src/dev (tsx) or dist/src/dev (compiled). */
async function seedSql(): Promise<string> {
  for (const relative of ['../../docker/source-seed.sql', '../../../docker/source-seed.sql']) {
    try {
      return await readFile(fileURLToPath(new URL(relative, import.meta.url)), 'utf8');
    } catch {
      // try the next layout
    }
  }
  throw new Error('docker/source-seed.sql not found next to the pgferry sources');
}

/** Creates and fills the demo table on the given database. */
export async function seedDemoTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(await seedSql());
  } finally {
    await client.end();
  }
}

/** An order-independent digest of every row of a table, to compare source and target exactly. */
export async function tableDigest(url: string, table: TableRef): Promise<{ rows: number; digest: string }> {
  const client = new pg.Client({ connectionString: url, options: sessionOptions() });
  await client.connect();
  try {
    const name = `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.table)}`;
    const result = await client.query<{ rows: string; digest: string | null }>(
      `SELECT count(*)::text AS rows, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM ${name} AS t`,
    );
    return { rows: Number(result.rows[0]!.rows), digest: result.rows[0]!.digest ?? 'empty' };
  } finally {
    await client.end();
  }
}
