/**
 * Asks Temporal whether a workflow run is still open, for leases (lease.ts) and gc. A run
 * Temporal does not know (deleted by retention) is closed; any other error propagates, so an
 * unreachable server never makes a live copy's lease look stale.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunIsOpen } from './lease.js';

/** A RunIsOpen backed by a Temporal client. */
export function temporalRunIsOpen(client: () => Client): RunIsOpen {
  return async (workflowId, runId) => {
    try {
      const description = await client().workflow.getHandle(workflowId, runId).describe();
      return description.status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };
}
