/**
 * The staging table's name: in the target table's schema, a short hash of the target table and
 * the workflow id. Every attempt of one run reuses one name; two runs onto the same table (a
 * manual copy while a scheduled one runs: Temporal gives scheduled runs their own ids) never
 * share a staging table. The hash keeps the name inside PostgreSQL's 63-byte identifiers
 * whatever the target's name (a Hangul character is 3 bytes).
 */
import { createHash } from 'node:crypto';
import type { TableRef } from '../src/shared/table-name.js';

export const STAGING_PREFIX = 'pgferry_stg_';

export function stagingTableFor(targetProfile: string, targetTable: TableRef, workflowId: string): TableRef {
  const digest = createHash('sha256')
    .update([targetProfile.toLowerCase(), targetTable.schema, targetTable.table, workflowId].join('\0'))
    .digest('hex')
    .slice(0, 16);
  return { schema: targetTable.schema, table: `${STAGING_PREFIX}${digest}` };
}
