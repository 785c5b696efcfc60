/**
 * One duration parser for every flag (issue 12 item 7): `--stall-timeout 60` once meant 60 ms and
 * failed the copy at once, and `--every 1d` worked where `--copy-timeout 1d` did not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { parseDuration, DurationError } from '../../src/shared/duration.js';
import { resolveCopyDefaults } from '../../src/shared/copy-defaults.js';
import { copyInputsFromFlags, type CopyFlags } from '../../src/cli/copy-options.js';
import { durationFlagMs } from '../../src/cli/duration-flag.js';
import { CliError } from '../../src/cli/cli-error.js';
import type { CopyTableInput } from '../../src/shared/copy-spec.js';

const flags = (extra: Partial<CopyFlags>): CopyFlags => ({
  source: 'a',
  target: 'b',
  table: ['t'],
  mode: 'replace',
  verify: 'count',
  format: 'binary',
  ...extra,
});

describe('parseDuration', () => {
  test('reads the strings Temporal reads, days and long unit names included', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('2 days'), 172_800_000);
    assert.equal(parseDuration('1w'), 604_800_000);
  });

  test('refuses a bare number with a hint to add a unit', () => {
    assert.throws(
      () => parseDuration('60'),
      (error: Error) => {
        assert.ok(error instanceof DurationError);
        assert.match(error.message, /60 has no unit: write 60s or 60m/);
        return true;
      },
    );
  });

  test('refuses text that is not a duration, and zero or negative durations', () => {
    for (const value of ['soon', '5 parsecs', '', '0s', '-5m']) {
      assert.throws(() => parseDuration(value), DurationError, value);
    }
  });
});

describe('duration flags', () => {
  test('every copy duration flag refuses a bare number, naming the flag', () => {
    for (const [key, flag] of [
      ['stallTimeout', '--stall-timeout'],
      ['heartbeatTimeout', '--heartbeat-timeout'],
      ['copyTimeout', '--copy-timeout'],
    ] as const) {
      assert.throws(
        () => copyInputsFromFlags(flags({ [key]: '60' }), {}),
        (error: Error) =>
          error instanceof CliError &&
          error.message === `${flag}: 60 has no unit: write 60s or 60m (units: ms, s, m, h, d, w)`,
      );
    }
  });

  test('copy timeouts accept days, as schedule --every does', () => {
    const [input] = copyInputsFromFlags(flags({ copyTimeout: '1d', stallTimeout: '2m' }), {});
    assert.deepEqual(input?.timeouts, { copyTimeout: '1d', stallTimeout: '2m' });
    assert.equal(durationFlagMs('1d', '--every'), 86_400_000);
  });

  test('schedule durations refuse a bare number', () => {
    assert.throws(() => durationFlagMs('10', '--every'), /--every: 10 has no unit/);
  });
});

describe('resolveCopyDefaults', () => {
  const input: CopyTableInput = {
    source: 'a',
    target: 'b',
    table: { schema: 'public', table: 't' },
    mode: 'replace',
  };

  test('reads the stall timeout in the units it was given', () => {
    assert.equal(resolveCopyDefaults({ ...input, timeouts: { stallTimeout: '2m' } }).stallTimeoutMs, 120_000);
  });

  test('a run started by another client with a bare-number duration fails as InvalidCopySpec', () => {
    assert.throws(
      () => resolveCopyDefaults({ ...input, timeouts: { heartbeatTimeout: '30' } }),
      (error: Error) => error instanceof ApplicationFailure && error.type === 'InvalidCopySpec' && error.nonRetryable,
    );
  });
});
