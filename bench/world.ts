/**
 * The bench's databases: two throwaway clusters (fsync off, loopback TCP) holding
 *   source: `bench`       only public.bench_rows (N rows), so pgcopydb's "all tables" is one table
 *           `bench_small` public.bench_rows (the RSS check's small copy) and public.bench_empty
 *   target: `bench`       public.bench_rows (UNLOGGED, no index: what staging is) and
 *                         public.bench_rows_logged (logged, no index) and public.bench_rows_pk
 *                         (logged, primary key: the whole copy's target shape), for the raw tools
 *           `bench_pk`    public.bench_rows (logged, primary key), for pgcopydb into F's shape
 *           `ferry`       public.bench_rows (logged, primary key) for the copies through pgferry
 * A pgpass file carries the passwords, so every URI and argv in the bench is password-free.
 * Autovacuum is off on both clusters: a vacuum of the previous variant's load running during
 * the next one measured as a 25% slowdown of whichever came next.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';
import { createPgClusters, type PgCluster } from '../src/dev/pg-cluster.js';
import { findPsql } from '../src/pipe/launcher.js';
import type { ConnectionProfile } from '../src/config/connections.js';

export const TABLE = { schema: 'public', table: 'bench_rows' };
export const EMPTY_TABLE = { schema: 'public', table: 'bench_empty' };

const COLUMNS = `id bigint NOT NULL, qty int NOT NULL, amount numeric(12,2) NOT NULL, note text,
  created_at timestamptz NOT NULL, attrs jsonb`;

/**
 * About 160 bytes a row in COPY text form: Korean text of varying length, a jsonb object with
 * a Korean tag, a numeric with cents, timestamps spread over a year.
 */
function fillSql(table: string, rows: number): string {
  return `INSERT INTO ${table}
    SELECT g, ((g::bigint * 7919) % 1000)::int, round((g % 100000) * 1.37, 2),
           '주문 메모 ' || g || ' ' || repeat('가나다라마바', 1 + g % 5),
           timestamptz '2024-01-01 00:00:00+09' + (g % 31536000) * interval '1 second',
           jsonb_build_object('sku', 'SKU-' || (g % 5000), 'tag', CASE WHEN g % 3 = 0 THEN '빠른배송' ELSE 'vip' END,
                              'n', g % 97)
      FROM generate_series(1, ${rows}) g`;
}

export interface BenchWorld {
  source: PgCluster;
  target: PgCluster;
  /**
   * Environment for child tools: PGPASSFILE and nothing secret, and a PATH that finds first the
   * psql pgferry launches (findPsql: Debian's client itself, not its Perl pg_wrapper), so a raw
   * pipe pays for starting psql what pgferry pays.
   */
  toolEnv: Record<string, string>;
  /** Password-free URI of a database (the pgpass file supplies the password). */
  uri(side: 'source' | 'target', database: string): string;
  /** pgferry connection profiles: source, source_small, target (the `ferry` database). */
  profiles: Map<string, ConnectionProfile>;
  sql(side: 'source' | 'target', database: string, text: string): Promise<pg.QueryResult>;
  close(): Promise<void>;
}

function toolPath(): string {
  const psql = findPsql();
  const path = process.env.PATH ?? '';
  return psql ? `${dirname(psql)}${delimiter}${path}` : path;
}

export async function createBenchWorld(say: (message: string) => void): Promise<BenchWorld> {
  const clusters = await createPgClusters(['bench-src', 'bench-dst'], undefined, ['autovacuum=off']);
  const [source, target] = clusters as [PgCluster, PgCluster];
  const workDir = await mkdtemp(join(tmpdir(), 'pgferry-bench-'));
  const passFile = join(workDir, 'pgpass');
  await writeFile(passFile, [source, target].map((c) => `${c.host}:${c.port}:*:postgres:${c.password}\n`).join(''), {
    mode: 0o600,
  });
  const cluster = (side: 'source' | 'target') => (side === 'source' ? source : target);
  const sql = async (side: 'source' | 'target', database: string, text: string) => {
    const client = new pg.Client({ connectionString: cluster(side).url(database) });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  };
  say(`source cluster on port ${source.port}, target cluster on port ${target.port}`);
  return {
    source,
    target,
    toolEnv: { PGPASSFILE: passFile, PGCONNECT_TIMEOUT: '15', PATH: toolPath() },
    uri: (side, database) => `postgres://postgres@${cluster(side).host}:${cluster(side).port}/${database}`,
    profiles: new Map([
      ['source', { name: 'source', url: source.url('bench') }],
      ['source_small', { name: 'source_small', url: source.url('bench_small') }],
      ['target', { name: 'target', url: target.url('ferry') }],
    ]),
    sql,
    close: async () => {
      await Promise.all([source.destroy(), target.destroy()]);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

export interface SourceFacts {
  rows: number;
  smallRows: number;
  /** Size of the table on disk, with its primary key. */
  tableBytes: number;
  /** pg_table_size: heap and TOAST, no index (what pgcopydb splits by). */
  heapBytes: number;
}

/** Creates every database and table, fills the sources with generate_series, then VACUUM ANALYZE. */
export async function prepareData(world: BenchWorld, rows: number, smallRows: number): Promise<SourceFacts> {
  for (const db of ['bench', 'bench_small']) await world.sql('source', 'postgres', `CREATE DATABASE ${db}`);
  for (const db of ['bench', 'bench_pk', 'ferry']) await world.sql('target', 'postgres', `CREATE DATABASE ${db}`);
  const keyed = `(${COLUMNS}, PRIMARY KEY (id))`;
  await world.sql('source', 'bench', `CREATE TABLE bench_rows ${keyed}; ${fillSql('bench_rows', rows)}`);
  await world.sql(
    'source',
    'bench_small',
    `CREATE TABLE bench_rows ${keyed}; ${fillSql('bench_rows', smallRows)}; CREATE TABLE bench_empty ${keyed}`,
  );
  await world.sql('source', 'bench', 'VACUUM ANALYZE bench_rows');
  await world.sql('source', 'bench_small', 'VACUUM ANALYZE');
  await world.sql(
    'target',
    'bench',
    `CREATE UNLOGGED TABLE bench_rows (${COLUMNS}); CREATE TABLE bench_rows_logged (${COLUMNS});
     CREATE TABLE bench_rows_pk ${keyed}`,
  );
  await world.sql('target', 'bench_pk', `CREATE TABLE bench_rows ${keyed}`);
  await world.sql('target', 'ferry', `CREATE TABLE bench_rows ${keyed}`);
  const facts = await world.sql(
    'source',
    'bench',
    `SELECT count(*)::bigint AS rows, pg_total_relation_size('bench_rows')::bigint AS table_bytes,
            pg_table_size('bench_rows')::bigint AS heap_bytes FROM bench_rows`,
  );
  const row = facts.rows[0] as { rows: string; table_bytes: string; heap_bytes: string };
  return {
    rows: Number(row.rows),
    smallRows,
    tableBytes: Number(row.table_bytes),
    heapBytes: Number(row.heap_bytes),
  };
}

/** Row count of a table in a database. */
export async function countRows(world: BenchWorld, side: 'source' | 'target', db: string, table: string) {
  const result = await world.sql(side, db, `SELECT count(*)::bigint AS n FROM ${table}`);
  return Number((result.rows[0] as { n: string }).n);
}
