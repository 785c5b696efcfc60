/**
 * CopyPipe with fixture programs in place of psql (test/fixtures/fake-psql.ts, run through
 * process.execPath): stderr floods, SIGTERM-proof children, an import that dies first, an export
 * that fails after streaming, a stall. Real processes and a real FIFO, no mocked execa.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { CopyPipe, CopyPipeError, type CopyPipeOptions } from '../../src/pipe/supervise-copy.js';
import { classifyPipeFailure } from '../../src/pipe/classify-failure.js';
import type { PsqlCommand } from '../../src/pipe/psql-commands.js';
import { deliverCommitToken } from '../../src/pipe/commit-token.js';
import { createFifos, pipeFiles, type PipeFiles } from '../../src/pipe/pipe-files.js';
import { FailureType } from '../../src/shared/failure-types.js';
import { isAlive } from '../support/processes.js';
import { isDeadOrDying } from '../../src/pipe/process-outcome.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/fake-psql.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const FLOOD_BYTES = 4 * 1024 * 1024;
const TAIL_LIMIT = 8 * 1024;

/** A "psql command" that runs the fixture in `mode`; CopyPipe gets process.execPath as psqlPath. */
function fake(mode: string, ...args: (string | number)[]): PsqlCommand {
  return { args: ['--import', TSX, FIXTURE, mode, ...args.map(String)], env: { PATH: process.env.PATH ?? '' } };
}

async function expectPipeError(running: Promise<unknown>): Promise<CopyPipeError> {
  let caught: unknown;
  await assert.rejects(running, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof CopyPipeError, `expected a CopyPipeError, got ${String(caught)}`);
  return caught;
}

/** Whether the process has a handler installed for SIGTERM (signal 15 = bit 14 of SigCgt). */
function catchesSigterm(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
  } catch {
    return false;
  }
}

describe('CopyPipe with fixture processes', { timeout: 120_000 }, () => {
  let dir: string;
  let seq = 0;
  let pids: (number | undefined)[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-pipe-fixtures-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    const alive = pids.filter((pid): pid is number => pid !== undefined && isAlive(pid));
    for (const pid of alive) process.kill(pid, 'SIGKILL');
    pids = [];
    assert.deepEqual(alive, [], 'fixture processes outlived the pipe');
  });

  /**
   * A pipe whose import (when it is the fake import) reads its token from `files.commitFifo`
   * and whose export (a fake) writes its COPY tag to `files.exportTags`, as psql's `-o` would.
   */
  function pipe(
    options: Partial<CopyPipeOptions> & Pick<CopyPipeOptions, 'exportCommand' | 'files' | 'importCommand'>,
  ) {
    // Fixtures touch no database: progress always moves unless a test says otherwise.
    let bytes = 0;
    const { exportCommand, files } = options;
    const copyPipe = new CopyPipe({
      psqlPath: process.execPath,
      sampleProgress: () => Promise.resolve({ bytes: ++bytes, rows: bytes }),
      sampleIntervalMs: 100,
      stallTimeoutMs: 60_000,
      secrets: [],
      ...options,
      exportCommand: { ...exportCommand, env: { ...exportCommand.env, FAKE_PSQL_TAGS: files.exportTags } },
      onStart: (started) => {
        pids.push(started.exportPid, started.importPid);
        options.onStart?.(started);
      },
    });
    return { copyPipe };
  }

  /** A fresh directory's pipe files for one pipe. */
  function newFiles(): PipeFiles {
    const pipeDir = join(dir, `pipe-${++seq}`);
    mkdirSync(pipeDir);
    return pipeFiles(pipeDir);
  }

  function importFrom(commitFifo: string, ...extra: (string | number)[]): PsqlCommand {
    return fake('import', commitFifo, ...extra);
  }

  /** The import reached EOF and was killed waiting for its token: the outcome the fence gives. */
  function assertKilledAtTheFence(error: CopyPipeError): void {
    assert.deepEqual(error.importOutcome.end, { kind: 'signaled', signal: 'SIGKILL' });
    assert.equal(error.importOutcome.killedBy, 'fence');
  }

  test('a clean export releases the import: the token reaches its FIFO and it commits', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('text-out', 1000),
      importCommand: importFrom(files.commitFifo),
    });
    const result = await copyPipe.run();
    assert.equal(result.importedRows, 1000);
    assert.equal(result.exportedRows, 1000, "the export's COPY tag, read from fd 3");
  });

  test('an export that exits 0 without its COPY row count is not trusted: the import is killed at the fence', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('untagged-out', 1000),
      importCommand: importFrom(files.commitFifo),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    assert.deepEqual(error.exportOutcome.end, { kind: 'exited', exitCode: 0 });
    assertKilledAtTheFence(error);
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.ExportFailed);
    assert.match(classified.message, /without reporting its COPY row count/);
  });

  test('several MB of stderr from both sides does not block the pipe', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('flood-stderr', FLOOD_BYTES, 0, 50),
      importCommand: importFrom(files.commitFifo, FLOOD_BYTES),
    });
    const result = await copyPipe.run();
    assert.equal(result.importedRows, 50);
  });

  test('a failing export that floods stderr keeps a tail of at most 8 KiB ending with its last line', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('flood-stderr', FLOOD_BYTES, 1, 10),
      importCommand: importFrom(files.commitFifo),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    const tail = error.exportOutcome.stderrTail;
    assert.ok(Buffer.byteLength(tail) <= TAIL_LIMIT, `tail of ${Buffer.byteLength(tail)} bytes`);
    assert.ok(Buffer.byteLength(tail) > TAIL_LIMIT / 2, `tail of only ${Buffer.byteLength(tail)} bytes`);
    assert.match(tail, /ERROR: {2}XX000: the last line after the flood$/);
    assertKilledAtTheFence(error);
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.ExportFailed);
    assert.ok(Buffer.byteLength(classified.details.stderrTail ?? '') <= TAIL_LIMIT);
  });

  test('children that ignore SIGTERM are still killed on cancel, by SIGKILL', async () => {
    const abort = new AbortController();
    let started: { exportPid?: number; importPid?: number } = {};
    const { copyPipe } = pipe({
      files: newFiles(),
      cancelSignal: abort.signal,
      exportCommand: fake('ignore-term'),
      importCommand: fake('ignore-term'),
      onStart: (pair) => (started = pair),
    });
    const running = copyPipe.run();
    running.catch(() => undefined);
    // Cancel only once both have installed their SIGTERM handler.
    while (!(
      started.exportPid &&
      started.importPid &&
      catchesSigterm(started.exportPid) &&
      catchesSigterm(started.importPid)
    )) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    abort.abort();
    const error = await expectPipeError(running);
    assert.equal(error.reason, 'cancel');
    for (const outcome of [error.exportOutcome, error.importOutcome]) {
      assert.deepEqual(outcome.end, { kind: 'signaled', signal: 'SIGKILL' });
      assert.equal(outcome.killedBy, 'cancel');
      assert.equal(isAlive(outcome.pid!), false);
    }
  });

  test('an import that exits 3 before reading its input is named as the import failure, not the export', async () => {
    const { copyPipe } = pipe({
      files: newFiles(),
      exportCommand: fake('stream-forever'),
      importCommand: fake('exit-early', 3),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'import');
    assert.deepEqual(error.importOutcome.end, { kind: 'exited', exitCode: 3 });
    assert.equal(error.importOutcome.killedBy, undefined);
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.ImportFailed);
    assert.equal(classified.details.side, 'import');
    assert.equal(classified.details.exitCode, 3);
    assert.match(classified.message, /^import psql \(pid \d+\) exited with code 3 /);
  });

  test('an export that dies of the broken pipe before the failing import is reported is not the root cause', async () => {
    const { copyPipe } = pipe({
      files: newFiles(),
      exportCommand: fake('stream-forever'),
      importCommand: fake('drop-input', 3, 500),
    });
    const error = await expectPipeError(copyPipe.run());
    // The export's end is observed first, yet the import, its only reader, is the cause.
    assert.ok(error.exportOutcome.endOrder < error.importOutcome.endOrder, 'the export did not end first');
    assert.match(error.exportOutcome.stderrTail, /Broken pipe/);
    assert.equal(error.reason, 'import');
    assert.equal(classifyPipeFailure(error, 60_000).type, FailureType.ImportFailed);
  });

  test('an export killed from outside is the root cause even when Node reaps both sides in one turn', async () => {
    // The import fails only because its input was cut (22P04). onStart holds the event loop until
    // the kernel has both as zombies, so Node learns of both deaths in one turn and may settle the
    // import first; the supervisor's SIGKILL to the dead export must not pass for the cause.
    const { copyPipe } = pipe({
      files: newFiles(),
      exportCommand: fake('die-midway', 1000),
      importCommand: fake('eof-error'),
      onStart: ({ exportPid, importPid }) => {
        const until = Date.now() + 30_000;
        while (!(isDeadOrDying(exportPid!) && isDeadOrDying(importPid!))) {
          if (Date.now() > until) throw new Error('the fixtures did not both end within 30 s');
        }
      },
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    assert.deepEqual(error.exportOutcome.end, { kind: 'signaled', signal: 'SIGKILL' });
    assert.equal(error.exportOutcome.killedBy, undefined, 'the export died before any signal of ours');
    assert.deepEqual(error.importOutcome.end, { kind: 'exited', exitCode: 1 });
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.ExportKilled);
    assert.equal(classified.nonRetryable, false);
  });

  test('isDeadOrDying tells a dead child that Node has not reaped yet from a running one', async () => {
    const running = spawn('sleep', ['30']);
    const exiting = spawn('true');
    try {
      // Blocking the event loop keeps Node from reaping `true`: it stays a zombie meanwhile.
      const until = Date.now() + 10_000;
      while (!isDeadOrDying(exiting.pid!) && Date.now() < until);
      assert.equal(isDeadOrDying(exiting.pid!), true, 'an exited, unreaped child is dead');
      assert.equal(exiting.exitCode, null, 'Node had not reaped it yet');
      assert.equal(isDeadOrDying(running.pid!), false);
    } finally {
      running.kill('SIGKILL');
      await Promise.all([once(running, 'close'), once(exiting, 'close').catch(() => undefined)]);
    }
    assert.equal(isDeadOrDying(running.pid!), true, 'a reaped child is gone');
  });

  test('an export that fails after streaming rows never releases the import: killed at the fence, no COMMIT', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('flood-stderr', 0, 1, 500),
      importCommand: importFrom(files.commitFifo),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    assert.deepEqual(error.exportOutcome.end, { kind: 'exited', exitCode: 1 });
    assertKilledAtTheFence(error);
    assert.equal(classifyPipeFailure(error, 60_000).type, FailureType.ExportFailed);
  });

  // The rows a failed attempt moved are the next attempt's reworkedRows (issue 14). Progress
  // samples cannot see them here (a sampler that never sees the import), so the count must come
  // from the import's own report, which the supervisor waits for before its fence kill.
  test('an export killed mid-row: the rows the import received come from its COPY tag, awaited before the fence kill', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('die-midway', 5000),
      // Its COPY ends 300 ms after its input does, as a server still writing the last rows would.
      importCommand: importFrom(files.commitFifo, 0, 300),
      sampleProgress: () => Promise.resolve(undefined),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    assertKilledAtTheFence(error);
    assert.equal(error.rows, 5000);
  });

  test('an export killed mid-row: an import that fails on the cut row reports the rows before the line its error names', async () => {
    const { copyPipe } = pipe({
      files: newFiles(),
      exportCommand: fake('die-midway', 5000),
      importCommand: fake('eof-error'),
      sampleProgress: () => Promise.resolve(undefined),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'export');
    assert.deepEqual(error.importOutcome.end, { kind: 'exited', exitCode: 1 });
    assert.equal(error.rows, 5000);
  });

  test('no progress for the stall timeout kills both as a stall, reporting the last progress seen', async () => {
    const samples = [
      { bytes: 10, rows: 1 },
      { bytes: 20, rows: 2 },
    ];
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      sampleProgress: () => Promise.resolve(samples.shift() ?? { bytes: 20, rows: 2 }),
      stallTimeoutMs: 1_000,
      exportCommand: fake('ignore-term'),
      importCommand: importFrom(files.commitFifo),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'stall');
    assert.deepEqual([error.bytes, error.rows], [20, 2]);
    for (const outcome of [error.exportOutcome, error.importOutcome]) assert.equal(outcome.killedBy, 'stall');
    assert.equal(classifyPipeFailure(error, 1_000).type, FailureType.CopyStalled);
  });

  test('an export script known only later: both start meanwhile, and the stall clock waits for it', async () => {
    const files = newFiles();
    let started = false;
    const { copyPipe } = pipe({
      files,
      // No progress is ever visible: a stall clock running before the script would fire.
      sampleProgress: () => Promise.resolve(undefined),
      stallTimeoutMs: 1_500,
      exportCommand: fake('script-out'),
      exportScript: sleep(3_000).then(() => {
        assert.ok(started, 'both children run before the script is known');
        return '1000';
      }),
      importCommand: importFrom(files.commitFifo),
      onStart: () => (started = true),
    });
    const result = await copyPipe.run();
    assert.deepEqual([result.exportedRows, result.importedRows], [1000, 1000]);
  });

  test('an export script that fails: both children are killed and the pipe rethrows that failure', async () => {
    const files = newFiles();
    const noSnapshot = new Error('the source snapshot could not be opened');
    const { copyPipe } = pipe({
      files,
      exportCommand: fake('script-out'),
      exportScript: sleep(500).then(() => Promise.reject(noSnapshot)),
      importCommand: importFrom(files.commitFifo),
    });
    await assert.rejects(copyPipe.run(), (error: unknown) => error === noSnapshot);
  });

  test('a cancel while the export script is pending kills both at once, without waiting for it', async () => {
    const files = newFiles();
    const cancel = new AbortController();
    const { copyPipe } = pipe({
      files,
      cancelSignal: cancel.signal,
      exportCommand: fake('script-out'),
      exportScript: new Promise<string>(() => undefined),
      importCommand: importFrom(files.commitFifo),
      onStart: () => setTimeout(() => cancel.abort(), 300),
    });
    const error = await expectPipeError(copyPipe.run());
    assert.equal(error.reason, 'cancel');
    for (const outcome of [error.exportOutcome, error.importOutcome]) assert.equal(outcome.killedBy, 'cancel');
  });

  test('the token is never written to a FIFO whose reader is gone', async () => {
    const { commitFifo } = newFiles();
    await createFifos(commitFifo);
    let polls = 0;
    assert.equal(await deliverCommitToken(commitFifo, () => ++polls > 3), false);
    assert.equal(polls, 4);
  });

  test('a psql path that does not exist is PsqlNotFound, not a retryable export failure', async () => {
    const files = newFiles();
    const { copyPipe } = pipe({
      files,
      psqlPath: '/nonexistent/psql',
      exportCommand: fake('text-out', 10),
      importCommand: importFrom(files.commitFifo),
    });
    const error = await expectPipeError(copyPipe.run());
    // Both sides fail to start; whichever ended first is named, and neither is a psql exit code.
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.PsqlNotFound);
    assert.equal(classified.nonRetryable, true);
    assert.match(classified.message, /^(export|import) psql \(pid \d+\) could not start \(ENOENT\)/);
  });

  test("the failure message quotes psql's ERROR line, not the LOCATION line verbose mode prints after it", async () => {
    const stderr =
      'psql:<stdin>:1: ERROR:  22P02: invalid input syntax for type integer: "x"\nCONTEXT:  COPY t, line 1\nLOCATION:  pg_strtoint32, numutils.c:232\n';
    const { copyPipe } = pipe({
      files: newFiles(),
      exportCommand: fake('text-out', 10),
      importCommand: {
        args: ['-e', `process.stderr.write(${JSON.stringify(stderr)}); process.exit(3)`],
        env: { PATH: process.env.PATH ?? '' },
      },
    });
    const error = await expectPipeError(copyPipe.run());
    const classified = classifyPipeFailure(error, 60_000);
    assert.equal(classified.type, FailureType.DataRejected);
    assert.match(classified.message, /ERROR: {2}22P02: invalid input syntax/);
    assert.doesNotMatch(classified.message, /LOCATION/);
  });
});
