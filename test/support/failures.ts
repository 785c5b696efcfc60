/** Assertions on the failures activities raise. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';

/** Awaits a rejection and checks it is an ApplicationFailure of `type` with the expected retryability. */
export async function assertFailure(
  promise: Promise<unknown>,
  type: string | readonly string[],
  nonRetryable: boolean,
): Promise<ApplicationFailure> {
  const types = typeof type === 'string' ? [type] : type;
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.ok(
    types.includes(caught.type ?? ''),
    `expected type ${types.join('|')}, got ${caught.type}: ${caught.message}`,
  );
  assert.equal(caught.nonRetryable, nonRetryable, `nonRetryable of ${caught.type}: ${caught.message}`);
  return caught;
}
