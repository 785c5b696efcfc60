/**
 * The `copy --wait` progress line: the ETA comes from the exact source count once the workflow
 * knows it, and until then from the planner's estimate the exportImport heartbeat carries,
 * marked as approximate.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgressPrinter, progressLine } from '../../src/cli/progress-line.js';
import type { CopyProgress } from '../../src/shared/copy-spec.js';

const copying: CopyProgress = { phase: 'exportImport', rows: 250_000, bytes: 50_000_000, attempt: 1 };

describe('progressLine', () => {
  test('an estimated source size gives an approximate ETA', () => {
    // A quarter of the rows in 10 s: three quarters left at the same rate is 30 s.
    assert.match(progressLine({ ...copying, estimatedSourceRows: 1_000_000 }, 10_000), /ETA ~30\.0s/);
  });

  test('the exact source count wins over the estimate and drops the approximation mark', () => {
    const line = progressLine({ ...copying, sourceRows: 500_000, estimatedSourceRows: 1_000_000 }, 10_000);
    assert.match(line, /ETA 10\.0s/);
    assert.doesNotMatch(line, /~/);
  });

  test('no ETA without any idea of the source size, or once the rows passed the estimate', () => {
    assert.doesNotMatch(progressLine(copying, 10_000), /ETA/);
    assert.doesNotMatch(progressLine({ ...copying, estimatedSourceRows: 200_000 }, 10_000), /ETA/);
  });
});

describe('createProgressPrinter', () => {
  test('without a terminal, updates every second print a line at least every 5 s', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const lines: number[] = [];
    const stream = { isTTY: false, write: () => lines.push(Date.now()) } as unknown as NodeJS.WriteStream;
    const printer = createProgressPrinter(stream);
    for (let second = 0; second < 30; second++) {
      printer.update(`line ${second}`);
      t.mock.timers.tick(1_000);
    }
    const gaps = lines.slice(1).map((at, i) => at - lines[i]!);
    assert.ok(gaps.length >= 5 && gaps.every((gap) => gap <= 5_000), JSON.stringify(gaps));
  });
});
