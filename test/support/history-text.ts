/**
 * A workflow's whole history as text, payloads decoded: what anyone with read access to the
 * namespace can see. Tests search it for values that must never be there.
 */
import type { Client } from '@temporalio/client';

/** Bytes (payload data and metadata) as UTF-8 text; JSON.stringify would print a Buffer as numbers. */
function decodeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(decodeBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, decodeBytes(inner)]));
  }
  return value;
}

/** Every event of the run as JSON, with each payload's bytes as text. */
export async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return JSON.stringify(decodeBytes(history));
}
