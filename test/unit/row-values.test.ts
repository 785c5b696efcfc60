/** dropRowValues / dropQuotedValues: rejected rows' values never reach a failure message or tail. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dropQuotedValues, dropRowValues, REMOVED } from '../../src/pipe/row-values.js';

const NOT_NULL = [
  'ERROR:  23502: null value in column "amount" of relation "pgferry_stg_1a2b" violates not-null constraint',
  'DETAIL:  Failing row contains (7, secret-7 with',
  'a newline, null).',
  'CONTEXT:  COPY pgferry_stg_1a2b, line 7: "7\tsecret-7 with"',
  'SCHEMA NAME:  public',
  'TABLE NAME:  pgferry_stg_1a2b',
  'COLUMN NAME:  amount',
  'LOCATION:  ExecConstraints, execMain.c:1962',
].join('\n');

describe('dropRowValues', () => {
  test('a not-null violation keeps SQLSTATE, column and table but loses the failing row, all of its lines', () => {
    const clean = dropRowValues(NOT_NULL);
    assert.doesNotMatch(clean, /secret|newline/);
    assert.match(clean, /^ERROR: {2}23502: null value in column "amount"/);
    assert.match(clean, new RegExp(`^DETAIL: {2}${REMOVED.replace(/[()]/g, '\\$&')}$`, 'm'));
    assert.match(clean, /^CONTEXT: {2}COPY pgferry_stg_1a2b, line 7: \(row values removed\)$/m);
    assert.match(clean, /^COLUMN NAME: {2}amount$/m);
    assert.match(clean, /^LOCATION: /m);
  });

  test('a unique violation keeps the constraint but loses the key value', () => {
    const clean = dropRowValues(
      [
        'ERROR:  23505: duplicate key value violates unique constraint "orders_pkey"',
        'DETAIL:  Key (id)=(42) already exists.',
        'CONSTRAINT NAME:  orders_pkey',
      ].join('\n'),
    );
    assert.doesNotMatch(clean, /42/);
    assert.match(clean, /unique constraint "orders_pkey"/);
    assert.match(clean, /^CONSTRAINT NAME: {2}orders_pkey$/m);
  });

  test("a data exception's message and COPY context lose the quoted input, keeping the column", () => {
    const clean = dropRowValues(
      [
        'ERROR:  22P02: invalid input syntax for type integer: "secret"',
        'CONTEXT:  COPY t, line 3, column qty: "secret"',
      ].join('\n'),
    );
    assert.doesNotMatch(clean, /secret/);
    assert.match(clean, /^ERROR: {2}22P02: invalid input syntax for type integer: "\*\*\*"$/m);
    assert.match(clean, /^CONTEXT: {2}COPY t, line 3, column qty: \(row values removed\)$/m);
  });

  test('leaves errors that quote no values alone', () => {
    const text = 'ERROR:  42P01: relation "public.missing" does not exist\nLOCATION:  parserOpenTable';
    assert.equal(dropRowValues(text), text);
  });
});

describe('dropQuotedValues', () => {
  test('removes quoted input from a data exception message only', () => {
    assert.equal(
      dropQuotedValues('invalid input syntax for type integer: "secret"', '22P02'),
      'invalid input syntax for type integer: "***"',
    );
    const constraint = 'new row for relation "t" violates check constraint "positive"';
    assert.equal(dropQuotedValues(constraint, '23514'), constraint);
  });
});
