/** redact and StderrTail: bounded, redacted stderr for failure messages. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { redact, StderrTail } from '../../src/pipe/stderr-tail.js';

describe('redact', () => {
  test('replaces every occurrence of each listed secret', () => {
    assert.equal(
      redact('pw s3cr3t and again s3cr3t; other t0ken', ['s3cr3t', 't0ken']),
      'pw *** and again ***; other ***',
    );
  });

  test('masks the password of a postgres URL even when it is not listed', () => {
    assert.equal(
      redact('could not connect to postgresql://app:hunter2@db:5432/sales', []),
      'could not connect to postgresql://app:***@db:5432/sales',
    );
    assert.equal(redact('postgres://u:p%40ss@h/db', []), 'postgres://u:***@h/db');
  });

  test('masks password= settings, quoted or not', () => {
    assert.equal(redact('host=db password=hunter2 user=app', []), 'host=db password=*** user=app');
    assert.equal(redact("password = 'two words'", []), 'password = ***');
  });

  test('leaves psql messages about passwords readable', () => {
    const line = 'FATAL:  28P01: password authentication failed for user "postgres"';
    assert.equal(redact(line, []), line);
  });

  test('ignores empty secrets', () => {
    assert.equal(redact('nothing to hide', ['']), 'nothing to hide');
  });
});

describe('StderrTail', () => {
  test('keeps all of a short stream, redacted', () => {
    const tail = new StderrTail(['hunter2']);
    tail.push(Buffer.from('psql: connecting with hunter2\n'));
    tail.push(Buffer.from('ERROR:  42P01: relation "x" does not exist\n'));
    assert.equal(tail.text(), 'psql: connecting with ***\nERROR:  42P01: relation "x" does not exist');
    assert.equal(tail.lastLine(), 'ERROR:  42P01: relation "x" does not exist');
    assert.equal(tail.sqlState(), '42P01');
  });

  test('keeps at most the limit of a flood, starting at a whole line, and counts every byte', () => {
    const tail = new StderrTail([], 1024);
    let total = 0;
    for (let i = 0; i < 5000; i++) {
      const chunk = Buffer.from(`line ${i} ${'x'.repeat(i % 97)}\n`);
      total += chunk.length;
      tail.push(chunk);
    }
    tail.push(Buffer.from('ERROR:  XX000: the end\n'));
    total += 23;
    const text = tail.text();
    assert.ok(Buffer.byteLength(text) <= 1024, `${Buffer.byteLength(text)} bytes`);
    assert.match(text, /^line \d+ x*\n/);
    assert.ok(text.endsWith('ERROR:  XX000: the end'));
    assert.equal(tail.bytesSeen, total);
  });

  test('a single chunk larger than the limit is cut to the limit', () => {
    const tail = new StderrTail([], 100);
    tail.push(Buffer.from(`${'a'.repeat(500)}\nlast line\n`));
    assert.ok(Buffer.byteLength(tail.text()) <= 100);
    assert.equal(tail.lastLine(), 'last line');
  });

  test('redacts a secret that arrived split across two chunks', () => {
    const tail = new StderrTail(['hunter2']);
    tail.push(Buffer.from('password is hun'));
    tail.push(Buffer.from('ter2\n'));
    assert.equal(tail.text(), 'password is ***');
  });

  test('finds the SQLSTATE of the first error psql printed in verbose mode', () => {
    const tail = new StderrTail();
    tail.push(Buffer.from('NOTICE:  00000: hello\nERROR:  22P02: invalid input syntax for type integer: "x"\n'));
    tail.push(Buffer.from('CONTEXT:  COPY t, line 2\nLOCATION:  pg_strtoint32, numutils.c:232\n'));
    assert.equal(tail.sqlState(), '22P02');
  });

  test('has no SQLSTATE when psql printed none', () => {
    const tail = new StderrTail();
    tail.push(Buffer.from('psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'));
    assert.equal(tail.sqlState(), undefined);
  });

  test('drains a stream to its end', async () => {
    const stream = Readable.from([Buffer.from('a\n'), Buffer.from('b\n')]);
    const tail = new StderrTail().drain(stream);
    await once(stream, 'end');
    assert.equal(tail.text(), 'a\nb');
    assert.equal(tail.bytesSeen, 4);
  });

  test("drops a rejected row's values from the tail, keeping SQLSTATE and column", () => {
    const tail = new StderrTail();
    tail.push(
      Buffer.from(
        'ERROR:  23502: null value in column "amount" of relation "t" violates not-null constraint\n' +
          'DETAIL:  Failing row contains (7, secret-7, null).\nCOLUMN NAME:  amount\n',
      ),
    );
    assert.doesNotMatch(tail.text(), /secret/);
    assert.match(tail.text(), /23502: null value in column "amount"/);
    assert.equal(tail.sqlState(), '23502');
  });
});
