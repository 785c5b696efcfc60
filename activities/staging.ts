/**
 * The staging table's name: in the target table's schema, a short hash of the target so that
 * every attempt of a copy reuses one name and it fits PostgreSQL's 63-byte identifiers whatever
 * the target's name (a Hangul character is 3 bytes).
 */
import { createHash } from 'node:crypto';
import type { TableRef } from '../src/shared/table-name.js';

export const STAGING_PREFIX = 'pgferry_stg_';

export function stagingTableFor(targetProfile: string, targetTable: TableRef): TableRef {
  const digest = createHash('sha256')
    .update(`${targetProfile.toLowerCase()}\0${targetTable.schema}\0${targetTable.table}`)
    .digest('hex')
    .slice(0, 16);
  return { schema: targetTable.schema, table: `${STAGING_PREFIX}${digest}` };
}
