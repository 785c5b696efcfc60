/**
 * CopyCounter: counts bytes and rows of a COPY stream as it passes, in text and binary format,
 * however the stream is cut into chunks, and tells a whole stream from a truncated one.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { CopyCounter } from '../../src/pipe/copy-counter.js';
import type { CopyFormat } from '../../src/shared/copy-spec.js';

/** Writes the chunks through a counter and returns what came out the other side. */
async function pass(counter: CopyCounter, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  counter.on('data', (chunk: Buffer) => out.push(chunk));
  for (const chunk of chunks) counter.write(chunk);
  counter.end();
  await once(counter, 'end');
  return Buffer.concat(out);
}

async function counted(format: CopyFormat, chunks: Buffer[]) {
  const counter = new CopyCounter(format);
  const out = await pass(counter, chunks);
  return { counter, out };
}

/** Cuts `data` at the given offsets. */
function cut(data: Buffer, offsets: number[]): Buffer[] {
  const points = [0, ...[...offsets].sort((a, b) => a - b), data.length];
  return points.slice(1).map((end, i) => data.subarray(points[i], end));
}

/** A small deterministic PRNG so a failing split can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

type Field = Buffer | null;

/** A binary COPY stream: signature, flags, header extension, tuples, optional trailer. */
function binaryCopy(tuples: Field[][], options: { trailer?: boolean; extension?: Buffer } = {}): Buffer {
  const extension = options.extension ?? Buffer.alloc(0);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(extension.length, 4);
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), header, extension];
  for (const fields of tuples) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(fields.length);
    parts.push(count);
    for (const field of fields) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(field === null ? -1 : field.length);
      parts.push(length, field ?? Buffer.alloc(0));
    }
  }
  if (options.trailer ?? true) parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

const int4 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Tuples with NULLs, empty values, zero bytes, a field bigger than most chunks, and a zero-column row. */
const TUPLES: Field[][] = [
  [int4(1), Buffer.from('first'), null],
  [int4(2), Buffer.alloc(0), Buffer.from([0, 0, 0xff, 0xff])],
  [int4(3), Buffer.from('\n\n\\.\n'), Buffer.alloc(70_000, 0xff)],
  [],
  [null, null, null],
];
const BINARY = binaryCopy(TUPLES);

describe('CopyCounter, text format', () => {
  const text = Buffer.from('1\ta\\tb\\nc\n2\t\\N\n3\t\\\\.\n4\t한글\n');

  test('counts one row per newline and passes every byte through unchanged', async () => {
    const { counter, out } = await counted('text', [text]);
    assert.equal(counter.rows, 4);
    assert.equal(counter.bytes, text.length);
    assert.deepEqual(out, text);
  });

  test('counts the same rows however the stream is split into chunks', async () => {
    for (let at = 0; at <= text.length; at++) {
      const { counter } = await counted('text', cut(text, [at]));
      assert.equal(counter.rows, 4, `split at ${at}`);
    }
    const { counter } = await counted('text', cut(text, [...text.keys()]));
    assert.equal(counter.rows, 4);
  });

  test('a stream ending with a row terminator looks complete', async () => {
    assert.equal((await counted('text', [text])).counter.looksComplete, true);
  });

  test('a stream cut mid-row does not look complete', async () => {
    const { counter } = await counted('text', [text.subarray(0, text.length - 3)]);
    assert.equal(counter.looksComplete, false);
    assert.equal(counter.rows, 3);
  });

  test('an empty stream looks complete', async () => {
    assert.equal((await counted('text', [])).counter.looksComplete, true);
  });
});

describe('CopyCounter, binary format', () => {
  test('counts tuples, including NULL, empty and zero-column ones, and passes bytes through unchanged', async () => {
    const { counter, out } = await counted('binary', [BINARY]);
    assert.equal(counter.rows, TUPLES.length);
    assert.equal(counter.bytes, BINARY.length);
    assert.deepEqual(out, BINARY);
    assert.equal(counter.looksComplete, true);
  });

  test('counts the same rows and sees the trailer for every single split point', async () => {
    const small = binaryCopy(TUPLES.filter((tuple) => tuple.every((field) => field === null || field.length < 100)));
    for (let at = 0; at <= small.length; at++) {
      const { counter } = await counted('binary', cut(small, [at]));
      assert.equal(counter.rows, TUPLES.length - 1, `split at ${at}`);
      assert.equal(counter.looksComplete, true, `split at ${at}`);
    }
  });

  test('counts the same rows and sees the trailer fed one byte at a time', async () => {
    const { counter } = await counted('binary', cut(BINARY, [...BINARY.keys()]));
    assert.equal(counter.rows, TUPLES.length);
    assert.equal(counter.looksComplete, true);
  });

  test('counts the same rows and sees the trailer for random multi-way splits', async () => {
    const next = random(42);
    for (let round = 0; round < 50; round++) {
      const offsets = Array.from({ length: 1 + Math.floor(next() * 20) }, () => Math.floor(next() * BINARY.length));
      const { counter } = await counted('binary', cut(BINARY, offsets));
      assert.equal(counter.rows, TUPLES.length, `offsets ${offsets.join(',')}`);
      assert.equal(counter.looksComplete, true, `offsets ${offsets.join(',')}`);
    }
  });

  test('skips a header extension area', async () => {
    const data = binaryCopy(TUPLES, { extension: Buffer.from([0xff, 0xff, 0, 0, 1]) });
    const { counter } = await counted('binary', cut(data, [13, 19, 20]));
    assert.equal(counter.rows, TUPLES.length);
    assert.equal(counter.looksComplete, true);
  });

  test('a stream without its trailer does not look complete', async () => {
    const { counter } = await counted('binary', [binaryCopy(TUPLES, { trailer: false })]);
    assert.equal(counter.rows, TUPLES.length);
    assert.equal(counter.looksComplete, false);
  });

  test('a stream cut anywhere before the end does not look complete', async () => {
    for (const end of [0, 5, 11, 19, 20, 25, BINARY.length - 70_005, BINARY.length - 3, BINARY.length - 1]) {
      const { counter } = await counted('binary', [BINARY.subarray(0, end)]);
      assert.equal(counter.looksComplete, false, `cut at ${end}`);
    }
  });

  test('data after the trailer does not look complete', async () => {
    const { counter } = await counted('binary', [BINARY, Buffer.from([0, 1])]);
    assert.equal(counter.looksComplete, false);
  });

  test('a stream without the binary signature does not look complete', async () => {
    const forged = Buffer.from(BINARY);
    forged.write('XGCOPY', 0, 'latin1');
    const { counter } = await counted('binary', [forged]);
    assert.equal(counter.looksComplete, false);
  });

  test('a trailer-only stream (empty table) looks complete with zero rows', async () => {
    const { counter } = await counted('binary', [binaryCopy([])]);
    assert.equal(counter.rows, 0);
    assert.equal(counter.looksComplete, true);
  });
});
