/**
 * Permanent SQLSTATEs are non-retryable, decided in one place (issue 13 item 8): a target that is
 * a view, a materialized view never populated (55000) and a value for a GENERATED ALWAYS column
 * (428C9) were each retried five times.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failureTypeForSqlState } from '../../src/pipe/classify-failure.js';
import { FailureType, isNonRetryable } from '../../src/shared/failure-types.js';

describe('failureTypeForSqlState', () => {
  const cases: [string, 'export' | 'import', FailureType][] = [
    ['42809', 'import', FailureType.InvalidCopySpec],
    ['42809', 'export', FailureType.InvalidCopySpec],
    ['428C9', 'import', FailureType.SchemaMismatch],
    ['55000', 'export', FailureType.InvalidCopySpec],
    ['54000', 'import', FailureType.DataRejected],
    ['42501', 'export', FailureType.PermissionDenied],
    ['42P01', 'export', FailureType.SourceTableNotFound],
  ];
  for (const [sqlState, side, type] of cases) {
    test(`${sqlState} on the ${side} side fails as ${type}, which is not retried`, () => {
      const classified = failureTypeForSqlState(sqlState, side);
      assert.equal(classified, type);
      assert.equal(isNonRetryable(classified), true);
    });
  }

  test('transient SQLSTATEs keep a retryable type', () => {
    for (const [sqlState, side] of [
      ['40001', 'import'],
      ['40P01', 'import'],
      ['57P01', 'export'],
      ['08006', 'import'],
      ['53100', 'import'],
    ] as const) {
      assert.equal(isNonRetryable(failureTypeForSqlState(sqlState, side)), false, `${sqlState} ${side}`);
    }
  });
});
