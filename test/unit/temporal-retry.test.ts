/** retryTransient: which errors are ridden out, and how the end of the budget is reported (issue 12 item 8). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServiceError } from '@temporalio/client';
import {
  isTransientTemporalError,
  retryTransient,
  temporalRetryBudgetMs,
  TemporalUnreachableError,
} from '../../src/client/temporal-retry.js';

/** An error shaped like @grpc/grpc-js's ServiceError. */
function grpcError(code: number, details = 'boom'): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

const UNAVAILABLE = 14;
const INVALID_ARGUMENT = 3;
const retry = { address: '127.0.0.1:7233', budgetMs: 600 };

describe('retryTransient', () => {
  test('UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are transient, also under a client ServiceError', () => {
    for (const code of [4, 8, 14]) assert.equal(isTransientTemporalError(grpcError(code)), true, String(code));
    const wrapped = new ServiceError('Failed to start Workflow', { cause: grpcError(UNAVAILABLE) });
    assert.equal(isTransientTemporalError(wrapped), true);
    assert.equal(isTransientTemporalError(grpcError(INVALID_ARGUMENT)), false);
    assert.equal(isTransientTemporalError(new Error('workflow failed')), false);
  });

  test('a transient failure is retried until the call succeeds, telling the person once', async () => {
    let calls = 0;
    const notices: string[] = [];
    const value = await retryTransient(
      'starting',
      { ...retry, budgetMs: 10_000, onWait: (m) => notices.push(m) },
      () => (++calls < 3 ? Promise.reject(grpcError(UNAVAILABLE)) : Promise.resolve('started')),
    );
    assert.equal(value, 'started');
    assert.equal(calls, 3);
    assert.deepEqual(notices, ['starting: Temporal at 127.0.0.1:7233 does not answer yet; retrying for up to 10.0s']);
  });

  test('a permanent failure is thrown at once, unchanged', async () => {
    let calls = 0;
    const error = grpcError(INVALID_ARGUMENT);
    await assert.rejects(
      retryTransient('starting', retry, () => (calls++, Promise.reject(error))),
      (thrown) => thrown === error,
    );
    assert.equal(calls, 1);
  });

  test('past the budget it fails naming the address and how long it tried, keeping the cause', async () => {
    await assert.rejects(
      retryTransient('waiting for w', retry, () => Promise.reject(grpcError(UNAVAILABLE))),
      (error: Error) =>
        error instanceof TemporalUnreachableError &&
        /^waiting for w: Temporal at 127\.0\.0\.1:7233 did not answer; tried for \d+ms \(\d+ attempts, PGFERRY_TEMPORAL_RETRY=600ms\)$/.test(
          error.message,
        ) &&
        isTransientTemporalError(error.cause),
    );
  });

  test('PGFERRY_TEMPORAL_RETRY takes a duration, 60s by default, and refuses a bare number', () => {
    assert.equal(temporalRetryBudgetMs({}), 60_000);
    assert.equal(temporalRetryBudgetMs({ PGFERRY_TEMPORAL_RETRY: '5m' }), 300_000);
    assert.throws(
      () => temporalRetryBudgetMs({ PGFERRY_TEMPORAL_RETRY: '90' }),
      /PGFERRY_TEMPORAL_RETRY: 90 has no unit/,
    );
  });
});
