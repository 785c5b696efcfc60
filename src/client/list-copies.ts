/**
 * `pgferry list`: copies found through pgferry's search attributes (source, target, target
 * table) and the run status, newest first. Needs the attributes registered (`pgferry setup`).
 */
import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import { MODE_ATTRIBUTE, SOURCE_ATTRIBUTE, TABLE_ATTRIBUTE, TARGET_ATTRIBUTE } from '../shared/search-attributes.js';
import { formatTable, type TableRef } from '../shared/table-name.js';

/** The `--status` names and the visibility store's ExecutionStatus values. */
export const LIST_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
} as const;
export type ListStatus = keyof typeof LIST_STATUSES;

export interface ListCopiesFilter {
  source?: string;
  target?: string;
  /** The target table, as the copy's PgferryTable attribute holds it. */
  table?: TableRef;
  /** Any of these statuses; all when empty. */
  statuses?: readonly ListStatus[];
  limit: number;
}

export interface ListedCopy {
  workflowId: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  source?: string;
  target?: string;
  table?: string;
  mode?: string;
  startTime: string;
  closeTime?: string;
}

/** A visibility-query string literal: backslash and quote escaped. */
export function queryLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The visibility query for `filter`: copyTable runs, narrowed by the given attributes. */
export function listQuery(filter: Omit<ListCopiesFilter, 'limit'>): string {
  const clauses = ["WorkflowType = 'copyTable'"];
  if (filter.source) clauses.push(`${SOURCE_ATTRIBUTE.name} = ${queryLiteral(filter.source)}`);
  if (filter.target) clauses.push(`${TARGET_ATTRIBUTE.name} = ${queryLiteral(filter.target)}`);
  if (filter.table) {
    // A double quote inside a literal never matches on the dev server's visibility store (Temporal
    // 1.29, SQLite): quoted names are narrowed by their plain prefix here and matched exactly in
    // listCopies.
    const table = formatTable(filter.table);
    const prefix = table.split('"')[0]!;
    if (prefix === table) clauses.push(`${TABLE_ATTRIBUTE.name} = ${queryLiteral(table)}`);
    else if (prefix) clauses.push(`${TABLE_ATTRIBUTE.name} STARTS_WITH ${queryLiteral(prefix)}`);
  }
  if (filter.statuses?.length) {
    const values = filter.statuses.map((status) => queryLiteral(LIST_STATUSES[status]));
    clauses.push(`ExecutionStatus IN (${values.join(', ')})`);
  }
  return clauses.join(' AND ');
}

/**
 * The matching copies, newest start first, at most `limit`. The SQL visibility stores cannot
 * ORDER BY, so every match is read and sorted here: narrow with the filters on a busy namespace.
 */
export async function listCopies(client: Client, filter: ListCopiesFilter): Promise<ListedCopy[]> {
  const copies: ListedCopy[] = [];
  const table = filter.table && formatTable(filter.table);
  for await (const run of client.workflow.list({ query: listQuery(filter) })) {
    const attributes = run.typedSearchAttributes;
    if (table !== undefined && attributes.get(TABLE_ATTRIBUTE) !== table) continue;
    copies.push({
      workflowId: run.workflowId,
      runId: run.runId,
      status: run.status.name,
      source: attributes.get(SOURCE_ATTRIBUTE),
      target: attributes.get(TARGET_ATTRIBUTE),
      table: attributes.get(TABLE_ATTRIBUTE),
      mode: attributes.get(MODE_ATTRIBUTE),
      startTime: run.startTime.toISOString(),
      closeTime: run.closeTime?.toISOString(),
    });
  }
  copies.sort((a, b) => b.startTime.localeCompare(a.startTime) || a.workflowId.localeCompare(b.workflowId));
  return copies.slice(0, filter.limit);
}
