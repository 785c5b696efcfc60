/**
 * FifoStock: FIFOs made a batch at a time and handed out by rename, each once, with new ones
 * made in place when the stock cannot serve. Real FIFOs from coreutils' mkfifo in a temp dir.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FifoStock } from '../../src/pipe/fifo-stock.js';

let root: string;

function assertPrivateFifo(path: string): void {
  const stat = statSync(path);
  assert.ok(stat.isFIFO(), `${path} is a FIFO`);
  assert.equal(stat.mode & 0o777, 0o600, `${path} is readable and writable by its owner only`);
}

describe('FifoStock', () => {
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pgferry-fifo-stock-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('pipes placed at once, more than a batch holds, each get FIFOs of their own', async () => {
    const stock = new FifoStock(root, 4);
    const pipes = Array.from({ length: 7 }, (_, i) => [join(root, `p${i}-commit.fifo`), join(root, `p${i}-data.fifo`)]);
    await Promise.all(pipes.map((paths) => stock.place(paths)));
    for (const path of pipes.flat()) assertPrivateFifo(path);
    const inodes = new Set(pipes.flat().map((path) => statSync(path).ino));
    assert.equal(inodes.size, 14, 'no two paths share a FIFO');
  });

  test('a placed FIFO is one the stock had made: moved, not made anew', async () => {
    const stock = new FifoStock(root, 4);
    await stock.place([join(root, 'first.fifo')]);
    const stockDir = join(
      root,
      readdirSync(root).find((name) => /^pgferry-[0-9a-f]{8}-\d+-fifos-/.test(name))!,
    );
    const stocked = new Set(readdirSync(stockDir).map((name) => statSync(join(stockDir, name)).ino));
    const path = join(root, 'second.fifo');
    await stock.place([path]);
    assertPrivateFifo(path);
    assert.ok(stocked.has(statSync(path).ino), 'the FIFO came from the stock');
  });

  test('a stock whose files were removed (a temp-dir cleaner) still places FIFOs, made where they go', async () => {
    const stock = new FifoStock(root, 4);
    await stock.place([join(root, 'first.fifo')]);
    const [stockDir] = readdirSync(root).filter((name) => /^pgferry-[0-9a-f]{8}-\d+-fifos-/.test(name));
    for (const name of readdirSync(join(root, stockDir!))) await rm(join(root, stockDir!, name));
    const paths = [join(root, 'commit.fifo'), join(root, 'data.fifo')];
    await stock.place(paths);
    for (const path of paths) assertPrivateFifo(path);
  });
});
