/**
 * The supervised pipe: export psql ─▶ counter ─▶ import psql, with the fence that makes a
 * truncated copy impossible to commit (DESIGN.md, "The pipe"):
 *   - the export's stdout is piped with `end: false`: its end never reaches the import;
 *   - the import gets the commit token and end of input only after the export exited 0 and
 *     the stream is whole; any other export end kills the import first;
 *   - both processes are always awaited, and the side that failed first is the root cause;
 *   - stall, deadline and cancellation kill both.
 */
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { execa, type ResultPromise } from 'execa';
import { CopyCounter } from './copy-counter.js';
import { COMMIT_TOKEN_SQL, parseImportTags, type PsqlCommand } from './psql-commands.js';
import { deathTiedLaunch } from './launcher.js';
import { StderrTail } from './stderr-tail.js';
import { succeeded, toProcessEnd, type KillReason, type ProcessOutcome } from './process-outcome.js';
import type { CopyFormat } from '../shared/copy-spec.js';

export interface CopyPipeOptions {
  psqlPath: string;
  format: CopyFormat;
  exportCommand: PsqlCommand;
  importCommand: PsqlCommand;
  /** Where the commit token goes; must match the import command's `\i` path. */
  commitFile: string;
  /** No bytes through the pipe for this long kills both: CopyStalled. */
  stallTimeoutMs: number;
  /** Epoch ms after which both are killed (just under the activity's start-to-close). */
  deadlineAt?: number;
  cancelSignal?: AbortSignal;
  /** Texts to redact from stderr (the profiles' passwords). */
  secrets: readonly string[];
  /** Called once both processes have started. */
  onStart?: (pids: { exportPid: number | undefined; importPid: number | undefined }) => void;
}

export interface CopyPipeProgress {
  bytes: number;
  rows: number;
  exportPid: number | undefined;
  importPid: number | undefined;
  lastChunkAt: number;
}

export interface CopyPipeResult {
  bytes: number;
  /** Rows counted in the stream. */
  streamedRows: number;
  /** Rows the import's `COPY n` tag reported. */
  importedRows: number;
  exportPid: number | undefined;
  importPid: number | undefined;
}

/** Why the pipe failed; classify-failure.ts turns it into the named failure types. */
export type PipeFailureReason = 'export' | 'import' | 'stall' | 'deadline' | 'cancel';

/** A failed pipe with both outcomes and what had moved; never a cascade without its cause. */
export class CopyPipeError extends Error {
  override name = 'CopyPipeError';
  constructor(
    readonly reason: PipeFailureReason,
    readonly exportOutcome: ProcessOutcome,
    readonly importOutcome: ProcessOutcome,
    readonly bytes: number,
    readonly rows: number,
    detail: string,
  ) {
    super(detail);
  }
}

const WATCHDOG_INTERVAL_MS = 500;

/** setpriv exits 126/127 when it cannot exec the program: that is a spawn failure, not psql's exit. */
function launcherCouldNotExec(exitCode: number | undefined, stderr: string): boolean {
  return (exitCode === 126 || exitCode === 127) && /setpriv: failed to execute/.test(stderr);
}

type Side = 'export' | 'import';

/** A child of the pipe with its stderr tail and the moment it ended. */
class PipeChild {
  readonly tail: StderrTail;
  killedBy: KillReason | undefined;
  endOrder = 0;
  /** Buffered stdout (the import's command tags); empty for the streamed export. */
  stdout = '';

  constructor(
    readonly side: Side,
    readonly process: ResultPromise,
    secrets: readonly string[],
  ) {
    this.tail = new StderrTail(secrets).drain(process.stderr);
  }

  /** Kills with SIGKILL (psql gets no chance to send CopyDone) unless it already ended. */
  kill(reason: KillReason): void {
    if (this.endOrder !== 0 || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.killedBy ??= reason;
    this.process.kill('SIGKILL');
  }

  async outcome(): Promise<ProcessOutcome> {
    const result = await this.process;
    const raw = result as unknown as {
      code?: string;
      message?: string;
      exitCode?: number;
      signal?: NodeJS.Signals;
      stdout?: unknown;
    };
    if (typeof raw.stdout === 'string') this.stdout = raw.stdout;
    const spawnError =
      raw.exitCode === undefined && raw.signal === undefined
        ? Object.assign(new Error(raw.message ?? 'spawn failed'), { code: raw.code ?? 'UNKNOWN' })
        : undefined;
    const end = launcherCouldNotExec(raw.exitCode, this.tail.text())
      ? ({ kind: 'spawn-failed', errorCode: 'ENOENT', message: this.tail.lastLine() } as const)
      : toProcessEnd(raw.exitCode ?? null, raw.signal ?? null, spawnError);
    return {
      side: this.side,
      pid: this.process.pid,
      end,
      // Our SIGKILL explains the end only if the process did die by a signal: one that had
      // already exited on its own before the kill landed keeps its own exit as the cause.
      killedBy: end.kind === 'signaled' ? this.killedBy : undefined,
      endOrder: this.endOrder,
      stderrTail: this.tail.text(),
      sqlState: this.tail.sqlState(),
    };
  }
}

/** Runs the pipe until both processes have ended; resolves only for a committed copy. */
export class CopyPipe {
  private readonly counter: CopyCounter;
  private exportChild: PipeChild | undefined;
  private importChild: PipeChild | undefined;
  private endSequence = 0;
  private streamDelivered = false;
  private supervisorReason: Extract<PipeFailureReason, 'stall' | 'deadline' | 'cancel'> | undefined;

  constructor(private readonly options: CopyPipeOptions) {
    this.counter = new CopyCounter(options.format);
  }

  progress(): CopyPipeProgress {
    return {
      bytes: this.counter.bytes,
      rows: this.counter.rows,
      exportPid: this.exportChild?.process.pid,
      importPid: this.importChild?.process.pid,
      lastChunkAt: this.counter.lastChunkAt,
    };
  }

  async run(): Promise<CopyPipeResult> {
    const { options } = this;
    const exp = this.spawn('export', options.exportCommand, { stdin: 'ignore' });
    const imp = this.spawn('import', options.importCommand, { stdin: 'pipe' });
    options.onStart?.({ exportPid: exp.process.pid, importPid: imp.process.pid });

    // EPIPE on the import's stdin only means the import died; its outcome tells why.
    imp.process.stdin?.on('error', () => undefined);
    exp.process.stdout?.pipe(this.counter).pipe(imp.process.stdin!, { end: false });
    const counterDrained = once(this.counter, 'end');
    counterDrained.catch(() => undefined);

    const stopWatchdog = this.startWatchdog();
    const onCancel = () => this.stopBoth('cancel');
    options.cancelSignal?.addEventListener('abort', onCancel, { once: true });
    if (options.cancelSignal?.aborted) onCancel();
    try {
      const exportEnded = exp.outcome();
      const importEnded = imp.outcome();
      const first = await Promise.race([
        exportEnded.then(() => 'export' as const),
        importEnded.then(() => 'import' as const),
      ]);
      try {
        if (first === 'export') {
          const exportOutcome = await exportEnded;
          if (succeeded(exportOutcome) && this.supervisorReason === undefined) {
            await this.releaseImport(counterDrained, imp);
          } else imp.kill('fence');
        } else {
          exp.kill('cascade');
        }
      } catch (error) {
        // Anything unexpected here (e.g. the commit token cannot be written): nothing commits,
        // and both processes are gone before the error leaves.
        imp.kill('fence');
        exp.kill('cascade');
        await Promise.allSettled([exportEnded, importEnded]);
        throw error;
      }
      return this.decide(await exportEnded, await importEnded);
    } finally {
      stopWatchdog();
      options.cancelSignal?.removeEventListener('abort', onCancel);
    }
  }

  private spawn(side: Side, command: PsqlCommand, io: { stdin: 'ignore' | 'pipe' }): PipeChild {
    const launch = deathTiedLaunch(this.options.psqlPath, command.args);
    const process = execa(launch.file, launch.args, {
      env: command.env,
      extendEnv: false,
      stdin: io.stdin,
      stdout: 'pipe',
      stderr: 'pipe',
      // The export's stdout is streamed, never buffered; the import's is a few command tags.
      buffer: { stdout: side === 'import', stderr: false },
      maxBuffer: { stdout: 1024 * 1024 },
      reject: false,
      cleanup: true,
      killSignal: 'SIGKILL',
    });
    const child = new PipeChild(side, process, this.options.secrets);
    process.once('exit', () => {
      child.endOrder = ++this.endSequence;
      // Once the import is gone nothing reads the stream: discard the rest so the export's
      // stdout can end and the export can be awaited instead of hanging on a full pipe.
      if (side === 'import') this.counter.unpipe().resume();
    });
    if (side === 'export') this.exportChild = child;
    else this.importChild = child;
    return child;
  }

  /** The fence: commit token and end of input only for a whole stream from a clean export. */
  private async releaseImport(counterDrained: Promise<unknown>, imp: PipeChild): Promise<void> {
    await Promise.race([counterDrained, imp.process.then(() => undefined)]);
    if (imp.endOrder !== 0 || this.supervisorReason) return;
    if (!this.counter.looksComplete) {
      imp.kill('fence');
      return;
    }
    await writeFile(this.options.commitFile, COMMIT_TOKEN_SQL, { mode: 0o600 });
    imp.process.stdin?.end();
    this.streamDelivered = true;
  }

  private stopBoth(reason: 'stall' | 'deadline' | 'cancel'): void {
    this.supervisorReason ??= reason;
    this.importChild?.kill(reason);
    this.exportChild?.kill(reason);
  }

  private startWatchdog(): () => void {
    const timer = setInterval(() => {
      const now = Date.now();
      // Once every byte is delivered no more can move; only the deadline bounds the commit.
      const stalled = !this.streamDelivered && now - this.counter.lastChunkAt > this.options.stallTimeoutMs;
      if (stalled) this.stopBoth('stall');
      else if (this.options.deadlineAt !== undefined && now > this.options.deadlineAt) this.stopBoth('deadline');
    }, WATCHDOG_INTERVAL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  private decide(exportOutcome: ProcessOutcome, importOutcome: ProcessOutcome): CopyPipeResult {
    const fail = (reason: PipeFailureReason, detail: string) =>
      new CopyPipeError(reason, exportOutcome, importOutcome, this.counter.bytes, this.counter.rows, detail);
    if (this.supervisorReason) throw fail(this.supervisorReason, `pipe stopped: ${this.supervisorReason}`);

    const rootCauses = [exportOutcome, importOutcome]
      .filter((outcome) => !succeeded(outcome) && outcome.killedBy === undefined)
      .sort((a, b) => (a.endOrder || Infinity) - (b.endOrder || Infinity));
    const root = rootCauses[0];
    if (root) throw fail(root.side, `${root.side} failed`);
    if (exportOutcome.killedBy === 'cascade') throw fail('import', 'import ended before the export finished');
    if (!succeeded(exportOutcome)) throw fail('export', 'export stream incomplete');
    if (!this.counter.looksComplete) throw fail('export', 'export exited 0 but its stream was incomplete');
    if (!succeeded(importOutcome)) throw fail('import', 'import failed');

    const { copiedRows, committed } = parseImportTags(this.importChild?.stdout ?? '');
    if (!committed || copiedRows === undefined) throw fail('import', 'import ended without committing');
    return {
      bytes: this.counter.bytes,
      streamedRows: this.counter.rows,
      importedRows: copiedRows,
      exportPid: exportOutcome.pid,
      importPid: importOutcome.pid,
    };
  }
}
