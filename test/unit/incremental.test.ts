/** The incremental window's pure parts: the export's structured filter and the flags' rules. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cursorLiteral, windowFilterSql } from '../../src/db/window-filter.js';
import { formatWindow, incrementalProblem, NULL_CURSOR_COUNT_LIMIT } from '../../src/shared/incremental.js';
import { exportCommand } from '../../src/pipe/psql-commands.js';
import type { ConnectionProfile } from '../../src/config/connections.js';

describe('incremental window filter', () => {
  test('quotes the column as an identifier and casts both bounds to the cursor type', () => {
    assert.equal(
      windowFilterSql({
        column: 'Updated "At"',
        type: 'timestamp with time zone',
        low: '2026-01-01 00:00:00.000999+00',
        high: '2026-01-02 00:00:00+00',
      }),
      `"Updated ""At""" > '2026-01-01 00:00:00.000999+00'::timestamp with time zone AND ` +
        `"Updated ""At""" <= '2026-01-02 00:00:00+00'::timestamp with time zone`,
    );
  });

  test('without a low bound (a first run) only the high bound filters', () => {
    assert.equal(
      windowFilterSql({ column: 'id', type: 'numeric', low: null, high: '9007199254740993' }),
      `"id" <= '9007199254740993'::numeric`,
    );
  });

  test('refuses a bound that is not cursor text instead of escaping it into SQL', () => {
    assert.throws(() => cursorLiteral("1'; DROP TABLE t; --", 'bigint'), /unexpected cursor value/);
    assert.throws(() => cursorLiteral('1', 'text; DROP TABLE t' as never), /unknown cursor type/);
  });

  test('the export reads the window through COPY (SELECT ... WHERE ...), also from a plain table', () => {
    const command = exportCommand({
      profile: { name: 'src', url: 'postgres://u@h/db' } satisfies ConnectionProfile,
      applicationName: 'pgferry/test',
      table: { schema: 'public', table: 'orders' },
      columns: ['id', 'v'],
      format: 'binary',
      selectForm: false,
      tagsFile: '/tmp/tags',
      filter: { column: 'id', type: 'bigint', low: '10', high: '20' },
    });
    assert.match(
      command.script ?? '',
      /^COPY \(SELECT "id", "v" FROM "public"\."orders" WHERE "id" > '10'::bigint AND "id" <= '20'::bigint\) TO STDOUT/,
    );
  });
});

describe('incremental flags', () => {
  test('replace is refused, append and upsert are accepted', () => {
    assert.match(incrementalProblem({ column: 'id' }, 'replace') ?? '', /--mode append or --mode upsert/);
    assert.equal(incrementalProblem({ column: 'id' }, 'append'), undefined);
    assert.equal(incrementalProblem({ column: 'updated_at', lookback: '10m' }, 'upsert'), undefined);
  });

  test('--lookback needs upsert and a duration or a whole number', () => {
    assert.match(incrementalProblem({ column: 'id', lookback: '5' }, 'append') ?? '', /use it with --mode upsert/);
    assert.match(incrementalProblem({ column: 'id', lookback: 'soon-ish' }, 'upsert') ?? '', /neither a duration/);
    assert.equal(incrementalProblem({ column: 'id', lookback: '500' }, 'upsert'), undefined);
  });
});

describe('incremental window warnings', () => {
  const window = { column: 'ts', low: '1', high: '2' };

  test('a window without findings is its range alone', () => {
    assert.equal(formatWindow(window), 'ts in (1, 2]');
    assert.equal(formatWindow({ ...window, nullCursorRows: 0 }), 'ts in (1, 2]');
  });

  test('NULL cursors are counted, one row singular, past the limit as "more than"', () => {
    assert.equal(
      formatWindow({ ...window, nullCursorRows: 1 }),
      'ts in (1, 2] (warning: 1 row of the source has a NULL ts, and no incremental run copies them)',
    );
    assert.match(
      formatWindow({ ...window, nullCursorRows: NULL_CURSOR_COUNT_LIMIT + 1 }),
      /\(warning: more than 10,000 rows of the source have a NULL ts, and no incremental run copies them\)$/,
    );
  });

  test('both warnings follow the range, each in its own parenthesis, the index first', () => {
    assert.equal(
      formatWindow({ ...window, cursorIndexed: false, nullCursorRows: 2 }),
      'ts in (1, 2] (warning: no index on the source leads with ts, so every run scans the whole table; index ts) ' +
        '(warning: 2 rows of the source have a NULL ts, and no incremental run copies them)',
    );
  });

  test('a watermark ahead of the clock says how to mend it', () => {
    assert.match(
      formatWindow({ ...window, watermarkAhead: true }),
      /^ts in \(1, 2\] \(warning: the watermark is more than 1 day ahead of the source's clock, .*then move the watermark back with pgferry watermark set\)$/,
    );
  });
});
