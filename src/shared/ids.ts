/**
 * Deterministic ids from the business key, so a person can find a run by its table.
 * Pure module.
 */
import { formatTable, type TableRef } from './table-name.js';

/** `pgferry:<target profile>:<schema>.<table>`: one running copy per target table. */
export function workflowIdForTarget(targetProfile: string, targetTable: TableRef): string {
  return `pgferry:${targetProfile.toLowerCase()}:${formatTable(targetTable)}`;
}
