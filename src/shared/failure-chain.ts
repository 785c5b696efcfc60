/**
 * Reads the named failure out of a Temporal failure chain (WorkflowFailedError /
 * ChildWorkflowFailure → ActivityFailure → ApplicationFailure). Pure: used by the client and
 * by the batch workflow alike.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';

export interface FailureSummary {
  type: string;
  message: string;
}

function isWrapper(error: Error): boolean {
  return (
    error instanceof ActivityFailure || error instanceof ChildWorkflowFailure || error.name === 'WorkflowFailedError'
  );
}

/** The innermost ApplicationFailure with a type, else the first error that is not a wrapper. */
export function namedFailure(error: unknown): FailureSummary {
  let current: unknown = error;
  let named: FailureSummary | undefined;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) named = { type: current.type, message: current.message };
    else if (!named && !isWrapper(current)) named = { type: current.name, message: current.message };
    current = current.cause;
  }
  return named ?? { type: 'Unknown', message: String(error) };
}
