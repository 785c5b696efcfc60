/**
 * What kind of relation a copy reads and writes, checked by createStaging before any data moves:
 * a target that is a view (or anything but a table) used to fail only at publish, after the
 * whole load, and a materialized view never populated failed the export five times (55000).
 */
import type pg from 'pg';
import type { TableDefinition } from '../src/db/catalog.js';
import { FailureType } from '../src/shared/failure-types.js';
import { quoteTable, type TableRef } from '../src/shared/table-name.js';
import { failure } from './failures.js';

/** pg_class.relkind in words, for messages. */
const RELKIND_NAMES: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
  S: 'sequence',
  i: 'index',
  I: 'partitioned index',
  c: 'composite type',
  t: 'TOAST table',
};

/** Relation kinds a copy can publish into. */
const TARGET_KINDS = new Set(['r', 'p']);

export function relkindName(kind: string): string {
  return RELKIND_NAMES[kind] ?? `relation of kind ${kind}`;
}

/**
 * @throws ApplicationFailure InvalidCopySpec (non-retryable) when the existing target is not a
 *   table: publish could never write into it.
 */
export function refuseNonTableTarget(existing: TableDefinition, where: string): void {
  if (TARGET_KINDS.has(existing.kind)) return;
  throw failure(
    FailureType.InvalidCopySpec,
    `target ${where} is a ${relkindName(existing.kind)}, not a table: pgferry publishes into tables only ` +
      '(give another --target-table, or drop it so that the copy creates the table)',
    { kind: existing.kind },
  );
}

/**
 * @throws ApplicationFailure InvalidCopySpec (non-retryable) when the source is a materialized
 *   view that was never populated (reading it would fail with 55000 on every attempt).
 */
export async function refuseUnreadableSource(
  client: pg.ClientBase,
  table: TableRef,
  source: TableDefinition,
  where: string,
): Promise<void> {
  if (source.kind !== 'm') return;
  const { rows } = await client.query<{ populated: boolean }>(
    'SELECT relispopulated AS populated FROM pg_class WHERE oid = to_regclass($1)',
    [quoteTable(table)],
  );
  if (rows[0]?.populated === false) {
    throw failure(
      FailureType.InvalidCopySpec,
      `source ${where} is a materialized view that has never been populated: run REFRESH MATERIALIZED VIEW first`,
    );
  }
}
