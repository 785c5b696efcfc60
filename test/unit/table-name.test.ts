/** parseTableName follows PostgreSQL's rules (as `pg_dump -t` without wildcards). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatTable, parseTableName, quoteTable, TableNameError } from '../../src/shared/table-name.js';

describe('parseTableName', () => {
  test('quoted Korean parts with spaces and doubled quotes are taken literally', () => {
    assert.deepEqual(parseTableName('"영업 데이터"."고객 ""VIP"" 주문"'), {
      schema: '영업 데이터',
      table: '고객 "VIP" 주문',
    });
  });

  test('an unqualified name is in schema public', () => {
    assert.deepEqual(parseTableName('orders'), { schema: 'public', table: 'orders' });
  });

  test('unquoted parts fold ASCII letters to lower case', () => {
    assert.deepEqual(parseTableName('Sales.Orders_2024'), { schema: 'sales', table: 'orders_2024' });
  });

  test('unquoted parts leave non-ASCII letters as they are, as PostgreSQL does in UTF8', () => {
    assert.deepEqual(parseTableName('영업.ÄRGER'), { schema: '영업', table: 'Ärger' });
  });

  test('quoted parts keep their case, dots and spaces', () => {
    assert.deepEqual(parseTableName('"Sales"."a.b c"'), { schema: 'Sales', table: 'a.b c' });
    assert.deepEqual(parseTableName('"My Table"'), { schema: 'public', table: 'My Table' });
  });

  test('surrounding whitespace is ignored', () => {
    assert.deepEqual(parseTableName('  public.orders \n'), { schema: 'public', table: 'orders' });
  });

  test('a 63-byte Hangul identifier is accepted and a 66-byte one is refused', () => {
    assert.deepEqual(parseTableName(`"${'가'.repeat(21)}"`), { schema: 'public', table: '가'.repeat(21) });
    assert.throws(() => parseTableName(`"${'가'.repeat(22)}"`), TableNameError);
  });

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['a.b.c', /3 dotted parts/],
    ['"unterminated', /unterminated/],
    ['""', /empty quoted/],
    ['public.', /ends with a dot/],
    ['has space', /not a valid unquoted identifier/],
    ['1orders', /not a valid unquoted identifier/],
    ['"a"b', /unexpected text after a quoted identifier/],
    ['public..orders', /not a valid unquoted identifier/],
    ['orders;drop', /not a valid unquoted identifier/],
  ];
  for (const [input, message] of invalid) {
    test(`${JSON.stringify(input)} is refused with a TableNameError`, () => {
      assert.throws(
        () => parseTableName(input),
        (error: unknown) => {
          assert.ok(error instanceof TableNameError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  test('parse, quote and format round-trip a name with quotes', () => {
    const ref = parseTableName('"영업 데이터"."고객 ""VIP"" 주문"');
    assert.equal(quoteTable(ref), '"영업 데이터"."고객 ""VIP"" 주문"');
    assert.deepEqual(parseTableName(formatTable(ref)), ref);
    assert.deepEqual(parseTableName(formatTable({ schema: 'Sales', table: 'orders' })), {
      schema: 'Sales',
      table: 'orders',
    });
  });
});
