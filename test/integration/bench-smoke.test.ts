/**
 * Issue 6: the bench runs end to end on a tiny table so it cannot rot. No timing assertions:
 * only that every variant produced numbers and the files were written.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { findExecutable } from '../../src/pipe/launcher.js';
import type { BenchResults } from '../../bench/report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VARIANTS = ['A', 'B', 'C', 'D', 'E', 'F', 'F-c1', 'F-c2', 'F-c2-kill', 'D-split'];

test(
  'bench smoke run (issue 6) reports every variant with numbers and writes chart.svg',
  { timeout: 300_000 },
  async () => {
    assert.ok(
      findExecutable('pgcopydb'),
      'pgcopydb is not on PATH: install it (apt-get update && apt-get install -y pgcopydb); the bench compares against it',
    );
    const out = await mkdtemp(join(tmpdir(), 'pgferry-bench-smoke-'));
    try {
      const run = await execa(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/run.ts',
          '--rows',
          '2000',
          '--rounds',
          '1',
          '--rss-small-rows',
          '200',
          '--json',
          '--out',
          out,
        ],
        { cwd: ROOT, reject: false, stdin: 'ignore' },
      );
      assert.equal(run.exitCode, 0, `bench failed:\n${run.stderr.split('\n').slice(-30).join('\n')}`);
      // The Temporal CLI prints its banner on the inherited stdout; the results are the last line.
      const results = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as BenchResults;
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), results);

      const ids = results.measurements.map((m) => m.id);
      for (const id of VARIANTS) {
        const m = results.measurements.find((entry) => entry.id === id);
        assert.ok(m, `variant ${id} missing (have ${ids.join(', ')})`);
        assert.equal(m.seconds.length, 1, `variant ${id}: one time per round`);
        for (const value of [m.median, m.min, m.max, m.ratioToRawBinary, m.pairedRatioToRawBinary]) {
          assert.ok(Number.isFinite(value) && value > 0, `variant ${id}: ${value} is not a positive number`);
        }
      }
      assert.equal(results.data.rows, 2000);
      for (const rss of [results.rss.small, results.rss.large]) assert.ok(rss.peakDuringCopyMB > 0);
      assert.ok(Number.isFinite(results.rss.growthMB));
      assert.ok((results.rss.small.idleMB ?? 0) > 0, 'the idle worker RSS is reported');
      assert.ok(results.emptyCopy.medianMs > 0);
      assert.deepEqual(
        results.readerWait.map((wait) => [wait.path, wait.swapped]),
        [
          ['swap', true],
          ['rows', false],
        ],
        'the reader-wait check publishes once by swapping and once by moving rows',
      );
      for (const wait of results.readerWait) assert.ok(wait.reads > 0 && wait.longestReadMs >= 0);
      assert.ok(results.targets.length >= 5);

      // Issue 14: the chunked copies ran in chunks, and the fault run's kills were retried.
      assert.equal(results.chunked?.chunkRows, 200, 'about 10 chunks of the 2,000 rows');
      assert.ok((results.chunked?.splitBytes ?? 0) > 0);
      const chunked = results.chunked.rounds[0]!;
      assert.deepEqual(
        chunked.map((c) => c.id),
        ['F-c1', 'F-c2', 'F-c2-kill'],
      );
      for (const c of chunked) {
        assert.ok(c.total > 1 && c.done === c.total, `${c.id}: ${JSON.stringify(c)}`);
      }
      const faulted = chunked[2]!;
      assert.ok(faulted.kills !== undefined && faulted.kills >= 1, `no export was killed: ${JSON.stringify(faulted)}`);
      assert.ok(
        faulted.attempts >= faulted.total + faulted.kills,
        `killed chunks were retried: ${JSON.stringify(faulted)}`,
      );
      for (const name of ['F-c1', 'F-c2-kill']) {
        assert.ok(
          results.targets.some((t) => t.name.includes(name)),
          `a target line compares ${name}`,
        );
      }

      const chunkPipes = results.measurements.find((m) => m.id === 'B-chunks');
      assert.ok(chunkPipes && chunkPipes.median > 0, 'the raw per-chunk pipes (B-chunks) were timed');
      assert.ok(
        results.targets.some((t) => t.name.includes('F-c1') && t.measured.includes('B-chunks')),
        'the --jobs 1 target line reads beside the raw per-chunk pipes',
      );

      // Issue 16: three incremental runs of the 1% window, each beside the same window by hand.
      const incremental = results.incremental!;
      assert.equal(incremental.runs.length, 3);
      for (const run of incremental.runs) {
        assert.equal(run.rows, 20, '1% of 2,000 rows changed before each run');
        assert.ok(run.seconds > 0 && run.rawSeconds > 0, JSON.stringify(run));
      }
      assert.ok(incremental.rawRatio > 0 && incremental.ratio > 0);
      assert.ok(results.targets.some((t) => t.name.startsWith('incremental run') && t.measured.includes('by hand')));

      const svg = readFileSync(join(out, 'chart.svg'), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      for (const id of VARIANTS) assert.ok(svg.includes(`>${id}  `), `chart has no bar for ${id}`);
      assert.ok(existsSync(join(out, 'chart.svg')));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
);
