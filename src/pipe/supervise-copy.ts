/**
 * The supervised pipe: export psql ─▶ import psql, with the fence that makes a truncated copy
 * impossible to commit (docs/design.md, "The pipe", invariants 1-4):
 *   - the export's stdout is handed to the import as its stdin, kernel to kernel, exactly as a
 *     shell pipe would (the worker relaying every byte through Node cost 5-10% here, see
 *     issue 6); the worker keeps no end of that pipe, so EOF and EPIPE behave as in a shell;
 *   - end of input therefore reaches the import whenever the export ends, however it ends, and
 *     commits nothing: the import then blocks on the commit-token FIFO (commit-token.ts), which
 *     the supervisor writes only after the export exited 0; any other export end kills the
 *     import (once its COPY has ended on the cut input, to read what it received, never
 *     waiting past a grace);
 *   - both processes are always awaited, and the side that failed on its own is the root cause
 *     (the export when both did: its end cut the import's input short);
 *   - stall (no progress on the target for the stall timeout), deadline and cancellation kill
 *     both. Progress is sampled from the import's side (pg_stat_progress_copy) by the caller.
 */
import { EventEmitter, once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Options, type ResultPromise } from 'execa';
import { deliverCommitToken } from './commit-token.js';
import { fifoStock } from './fifo-stock.js';
import { openDataPipe, type PipeFiles } from './pipe-files.js';
import { parseCommandTags, type PsqlCommand } from './psql-commands.js';
import { deathTiedLaunch } from './launcher.js';
import { StderrTail } from './stderr-tail.js';
import { isDeadOrDying, succeeded, toProcessEnd, type KillReason, type ProcessOutcome } from './process-outcome.js';

/** What the target has received so far. */
export interface CopyProgressSample {
  bytes: number;
  rows: number;
}

export interface CopyPipeOptions {
  psqlPath: string;
  exportCommand: PsqlCommand;
  importCommand: PsqlCommand;
  /**
   * The pipe's files (pipe-files.ts). The import command's `\i` must name `commitFifo` and the
   * export command's `-o` must name `exportTags`; CopyPipe creates the FIFOs.
   */
  files: PipeFiles;
  /** Reads the import's progress; undefined while none is visible (connecting, waiting on the lock). */
  sampleProgress: () => Promise<CopyProgressSample | undefined>;
  /** How often to sample progress; default 1 s. */
  sampleIntervalMs?: number;
  /** No progress for this long kills both: CopyStalled. */
  stallTimeoutMs: number;
  /** Epoch ms after which both are killed (just under the activity's start-to-close). */
  deadlineAt?: number;
  cancelSignal?: AbortSignal;
  /** Texts to redact from stderr (the profiles' passwords). */
  secrets: readonly string[];
  /**
   * The token's SQL once the export exited 0 with its `COPY n` (default `COMMIT;`): a chunked
   * copy puts its ledger row, carrying that count, in the same transaction as the rows.
   */
  commitSql?: (exportedRows: number) => Promise<string> | string;
  /**
   * The export's script when it is known only after the pipe starts (an incremental window's
   * high mark, the snapshot a digest shares): both psql start and connect meanwhile, the export
   * waiting on its stdin and the import in its transaction. When it rejects, both are killed
   * and run() rethrows the rejection once they have ended; nothing was sent, so nothing moved.
   */
  exportScript?: Promise<string>;
  /** Called once both processes have started. */
  onStart?: (pids: { exportPid: number | undefined; importPid: number | undefined }) => void;
}

export interface CopyPipeProgress {
  bytes: number;
  rows: number;
  exportPid: number | undefined;
  importPid: number | undefined;
}

export interface CopyPipeResult {
  /** Rows the export's `COPY n` tag reported: what the source server sent. */
  exportedRows: number;
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
    /** Rows the import had received when the pipe failed (rolled back: never committed). */
    readonly rows: number,
    detail: string,
  ) {
    super(detail);
  }
}

const WATCHDOG_INTERVAL_MS = 250;
const BROKEN_PIPE_GRACE_MS = 2_000;
const FINAL_SAMPLE_TIMEOUT_MS = 1_000;
const LIVE_TAGS_LIMIT = 4_096;

/** setpriv exits 126/127 when it cannot exec the program: that is a spawn failure, not psql's exit. */
function launcherCouldNotExec(exitCode: number | undefined, stderr: string): boolean {
  return (exitCode === 126 || exitCode === 127) && /setpriv: failed to execute/.test(stderr);
}

type Side = 'export' | 'import';

/**
 * A file descriptor of ours for a child's stdin or stdout. execa hands a lone number to spawn()
 * unchanged, but its types list only 0-9.
 */
function stdioFd(fd: number): 3 {
  return fd as 3;
}

/** SIGPIPE, or psql's own report of it when it ignores the signal. */
function diedOfBrokenPipe(outcome: ProcessOutcome): boolean {
  if (outcome.end.kind === 'signaled') return outcome.end.signal === 'SIGPIPE';
  return outcome.end.kind === 'exited' && /could not write COPY data: Broken pipe/.test(outcome.stderrTail);
}

/**
 * The export sent everything: it exited 0 and reported the source server's `COPY n`. Exit 0
 * without the tag is not trusted (no count to verify against), so the import is not released.
 */
function streamComplete(outcome: ProcessOutcome, exp: PipeChild): boolean {
  return succeeded(outcome) && exp.copiedRows() !== undefined;
}

/** A child of the pipe with its stderr tail and the moment it ended. */
class PipeChild {
  readonly tail: StderrTail;
  killedBy: KillReason | undefined;
  endOrder = 0;
  /** The side's command tags: the import's stdout, the export's `-o` file. */
  tags = '';
  /** The import's stdout as it arrives (psql flushes each tag), for the COPY tag before it ends. */
  private liveTags = '';
  private readonly tagSeen = new EventEmitter();

  constructor(
    readonly side: Side,
    readonly process: ResultPromise,
    secrets: readonly string[],
    private readonly tagsFile: string | undefined,
  ) {
    this.tail = new StderrTail(secrets).drain(process.stderr);
    // A second reader beside execa's buffer: both see every chunk. Tags are a few short lines.
    process.stdout?.on('data', (chunk: Buffer | string) => {
      this.liveTags = (this.liveTags + String(chunk)).slice(-LIVE_TAGS_LIMIT);
      if (parseCommandTags(this.liveTags).copiedRows !== undefined) this.tagSeen.emit('copy');
    });
  }

  /** The rows of the side's `COPY n` tag, once it has ended. */
  copiedRows(): number | undefined {
    return parseCommandTags(this.tags).copiedRows;
  }

  /**
   * Rows the import's COPY received, from what it printed so far: its `COPY n` tag when the COPY
   * ended (rolled back all the same without the token), or, when the COPY failed on its cut
   * input, the line its error names, less that line (`CONTEXT:  COPY t, line 3: ...`).
   */
  receivedRows(): number | undefined {
    const tagged = parseCommandTags(this.tags || this.liveTags).copiedRows;
    if (tagged !== undefined) return tagged;
    const line = /^CONTEXT:\s+COPY .*?, line (\d+)\b/m.exec(this.tail.text())?.[1];
    return line === undefined ? undefined : Math.max(0, Number(line) - 1);
  }

  /**
   * Resolves once the COPY has ended (its tag printed) or the process has, or after `ms`. An
   * import whose export died reaches the end of its input at once; its COPY then ends, and
   * its count with it, before the supervisor's kill.
   */
  async copyEnded(ms: number): Promise<void> {
    if (parseCommandTags(this.liveTags).copiedRows !== undefined) return;
    const stop = new AbortController();
    await Promise.race([
      once(this.tagSeen, 'copy', { signal: stop.signal }),
      this.process,
      sleep(ms, undefined, { signal: stop.signal }),
    ]).catch(() => undefined);
    stop.abort();
  }

  /** Kills with SIGKILL (psql gets no chance to send CopyDone) unless it already ended. */
  kill(reason: KillReason): void {
    if (this.endOrder !== 0 || this.process.exitCode !== null || this.process.signalCode !== null) return;
    // Dead but not yet reaped (killed from outside an instant ago): our signal changes nothing
    // and must not hide that it ended on its own.
    if (this.process.pid !== undefined && isDeadOrDying(this.process.pid)) return;
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
    // A tags file psql never wrote (it failed before) reads as no tags.
    this.tags = this.tagsFile
      ? await readFile(this.tagsFile, 'utf8').catch(() => '')
      : typeof raw.stdout === 'string'
        ? raw.stdout
        : '';
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
  private exportChild: PipeChild | undefined;
  private importChild: PipeChild | undefined;
  private endSequence = 0;
  private latest: CopyProgressSample = { bytes: 0, rows: 0 };
  private lastProgressAt = Date.now();
  /** Set once the export exited 0: every byte is in the kernel pipe or the import by then. */
  private streamDelivered = false;
  /** Until the export has its script, no bytes can move: the stall clock starts then. */
  private scriptDelivered: boolean;
  /** Why the export never got its script (options.exportScript rejected). */
  private scriptFailure: { error: unknown } | undefined;
  private supervisorReason: Extract<PipeFailureReason, 'stall' | 'deadline' | 'cancel'> | undefined;

  constructor(private readonly options: CopyPipeOptions) {
    this.scriptDelivered = options.exportScript === undefined;
    // Handled in run(), which may attach after it has already failed.
    options.exportScript?.catch(() => undefined);
  }

  progress(): CopyPipeProgress {
    return {
      ...this.latest,
      exportPid: this.exportChild?.process.pid,
      importPid: this.importChild?.process.pid,
    };
  }

  async run(): Promise<CopyPipeResult> {
    const { options } = this;
    await fifoStock.place([options.files.commitFifo, options.files.dataFifo]);
    const data = await openDataPipe(options.files.dataFifo);
    this.lastProgressAt = Date.now();
    let exp: PipeChild;
    let imp: PipeChild;
    try {
      // The import first: a pipe moves at the pace of its import, the slower side, so the
      // fork the second spawn waits for is better spent on the export's side.
      imp = this.spawn('import', options.importCommand, data.readEnd.fd);
      exp = this.spawn('export', options.exportCommand, data.writeEnd.fd);
    } finally {
      // The children hold the ends now. Ours would keep the export writing into a pipe nobody
      // reads after the import died (instead of failing with EPIPE), and the import waiting
      // for an end of input that never comes after the export died.
      await Promise.all([data.readEnd.close(), data.writeEnd.close()]);
    }
    options.onStart?.({ exportPid: exp.process.pid, importPid: imp.process.pid });

    const stopWatchdog = this.startWatchdog();
    void this.deliverExportScript(exp, imp);
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
          if (this.scriptFailure) imp.kill('fence');
          else if (streamComplete(exportOutcome, exp) && this.supervisorReason === undefined)
            await this.releaseImport(imp);
          else if (diedOfBrokenPipe(exportOutcome)) await this.letImportEnd(imp);
          else {
            // The attempt has failed: what it moved is rework, so count it before the kill ends
            // the import's backend and its progress with it (samples are a second apart). A
            // sample sees a COPY still draining the cut input; one that sees none came after
            // the COPY ended (or before it began), and the import's own count (its tag, or the
            // line its error names) is then awaited, never past the grace: without the token
            // it cannot commit meanwhile.
            if (!(await this.sampleOnce())) await imp.copyEnded(BROKEN_PIPE_GRACE_MS);
            imp.kill('fence');
          }
        } else {
          exp.kill('cascade');
        }
      } catch (error) {
        // Anything unexpected here (e.g. the token cannot be written): nothing commits, and
        // both processes are gone before the error leaves.
        imp.kill('fence');
        exp.kill('cascade');
        await Promise.allSettled([exportEnded, importEnded]);
        throw error;
      }
      const [exportOutcome, importOutcome] = [await exportEnded, await importEnded];
      // A script still pending here (the export failed to connect, a cancel) is not awaited: its
      // caller's query may take long, and the pipe's own failure is the answer.
      if (this.scriptFailure) throw this.scriptFailure.error;
      return this.decide(exportOutcome, importOutcome);
    } finally {
      stopWatchdog();
      options.cancelSignal?.removeEventListener('abort', onCancel);
    }
  }

  /** Starts one side on its end of the data pipe (`pipeFd`): the export's stdout, the import's stdin. */
  private spawn(side: Side, command: PsqlCommand, pipeFd: number): PipeChild {
    const launch = deathTiedLaunch(this.options.psqlPath, command.args);
    const options: Options = {
      env: command.env,
      extendEnv: false,
      // The export reads its script on stdin and writes data to the pipe; the import reads the
      // pipe and prints its command tags on stdout, a few lines kept in memory.
      stdin: side === 'export' ? 'pipe' : stdioFd(pipeFd),
      ...(side === 'export' && this.options.exportScript ? {} : { input: command.script }),
      stdout: side === 'export' ? stdioFd(pipeFd) : 'pipe',
      stderr: 'pipe',
      buffer: { stdout: side === 'import', stderr: false },
      maxBuffer: { stdout: 1024 * 1024 },
      reject: false,
      cleanup: true,
      killSignal: 'SIGKILL',
    };
    const process = execa(launch.file, launch.args, options);
    const tagsFile = side === 'export' ? this.options.files.exportTags : undefined;
    const child = new PipeChild(side, process, this.options.secrets, tagsFile);
    process.once('exit', () => {
      child.endOrder = ++this.endSequence;
    });
    if (side === 'export') this.exportChild = child;
    else this.importChild = child;
    return child;
  }

  /**
   * Writes the export's deferred script once it is known (options.exportScript); a rejection
   * stops both (the export never sent a byte). Never rejects itself.
   */
  private async deliverExportScript(exp: PipeChild, imp: PipeChild): Promise<void> {
    if (this.options.exportScript === undefined) return;
    try {
      const script = await this.options.exportScript;
      if (exp.endOrder !== 0 || this.supervisorReason !== undefined) return;
      this.scriptDelivered = true;
      this.lastProgressAt = Date.now();
      // An export that fails before reading its stdin (a refused connection) closes it: EPIPE
      // here then says nothing its exit does not.
      exp.process.stdin?.on('error', () => undefined);
      exp.process.stdin?.end(script);
    } catch (error) {
      this.scriptFailure = { error };
      imp.kill('fence');
      exp.kill('fence');
    }
  }

  /** The fence: the commit token only for an import whose export exited 0. */
  private async releaseImport(imp: PipeChild): Promise<void> {
    this.streamDelivered = true;
    const exported = this.exportChild?.copiedRows();
    // streamComplete checked the tag; never fall back to a bare COMMIT that would leave a chunk's
    // rows without their ledger row (the caller kills both processes on this error).
    if (exported === undefined) throw new Error('the export reported no COPY tag');
    const sql = this.options.commitSql ? await this.options.commitSql(exported) : undefined;
    // The import opens the token's FIFO right after printing its COPY's tag: polling from then
    // on finds it within a few ms, where a poll backed off while it drained could lose ten.
    await imp.copyEnded(BROKEN_PIPE_GRACE_MS);
    const delivered = await deliverCommitToken(
      this.options.files.commitFifo,
      () => imp.endOrder !== 0 || this.supervisorReason !== undefined,
      sql,
    );
    if (!delivered) imp.kill('fence');
  }

  /**
   * A broken pipe means the import, the export's only reader, has already gone (or is going) on
   * its own: let its end be seen as it is rather than taken for our kill. It cannot commit
   * without the token, so waiting is safe; one that lingers is killed after the grace.
   */
  private async letImportEnd(imp: PipeChild): Promise<void> {
    await Promise.race([imp.process, sleep(BROKEN_PIPE_GRACE_MS)]);
    imp.kill('fence');
  }

  private stopBoth(reason: 'stall' | 'deadline' | 'cancel'): void {
    this.supervisorReason ??= reason;
    this.importChild?.kill(reason);
    this.exportChild?.kill(reason);
  }

  /**
   * One more sample, bounded (a target that does not answer must not hold back the kill);
   * whether it saw the import's COPY in progress.
   */
  private async sampleOnce(): Promise<boolean> {
    return (await Promise.race([this.sample(), sleep(FINAL_SAMPLE_TIMEOUT_MS, false)])) === true;
  }

  /**
   * Rows the import received: the last sample of its progress, or its own count when it got to
   * the end of its input (an export that died ends the import's COPY; only the commit is fenced).
   */
  private movedRows(): number {
    return Math.max(this.latest.rows, this.importChild?.receivedRows() ?? 0);
  }

  /** Takes a sample of the import's progress; whether one was visible. */
  private async sample(): Promise<boolean> {
    const sample = await this.options.sampleProgress().catch(() => undefined);
    if (sample && sample.bytes > this.latest.bytes) {
      this.latest = sample;
      this.lastProgressAt = Date.now();
    }
    return sample !== undefined;
  }

  private startWatchdog(): () => void {
    let sampling: Promise<boolean> | undefined;
    let lastSampleAt = 0;
    const sampleEvery = this.options.sampleIntervalMs ?? 1_000;
    const timer = setInterval(() => {
      const now = Date.now();
      if (!sampling && now - lastSampleAt >= sampleEvery) {
        lastSampleAt = now;
        sampling = this.sample().finally(() => (sampling = undefined));
      }
      // Once the export is done no more bytes can move; only the deadline bounds the rest.
      const stalled =
        this.scriptDelivered && !this.streamDelivered && now - this.lastProgressAt > this.options.stallTimeoutMs;
      if (stalled) this.stopBoth('stall');
      else if (this.options.deadlineAt !== undefined && now > this.options.deadlineAt) this.stopBoth('deadline');
    }, WATCHDOG_INTERVAL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  private decide(exportOutcome: ProcessOutcome, importOutcome: ProcessOutcome): CopyPipeResult {
    const fail = (reason: PipeFailureReason, detail: string) =>
      new CopyPipeError(reason, exportOutcome, importOutcome, this.latest.bytes, this.movedRows(), detail);
    if (this.supervisorReason) throw fail(this.supervisorReason, `pipe stopped: ${this.supervisorReason}`);

    // The import is the export's only reader: an export that died of a broken pipe after a
    // failed import is the import's cascade, whichever exit the kernel reported first.
    const cascadeOfImport = (outcome: ProcessOutcome) =>
      outcome.side === 'export' && !succeeded(importOutcome) && diedOfBrokenPipe(outcome);
    const failedOnItsOwn = (outcome: ProcessOutcome) =>
      !succeeded(outcome) && outcome.killedBy === undefined && !cascadeOfImport(outcome);
    // An export that failed on its own cut the import's input short, so whatever the import then
    // reported (22P04 "unexpected EOF in COPY data", a half row) follows from it, whichever exit
    // Node happened to see first: both can die within one turn of the event loop.
    const root = [exportOutcome, importOutcome].find(failedOnItsOwn);
    if (root) throw fail(root.side, `${root.side} failed`);
    if (exportOutcome.killedBy === 'cascade') throw fail('import', 'import ended before the export finished');
    if (!succeeded(exportOutcome)) throw fail('export', 'export stream incomplete');
    const exported = this.exportChild?.copiedRows();
    if (exported === undefined) throw fail('export', 'export exited 0 without reporting its COPY row count');
    if (!succeeded(importOutcome)) throw fail('import', 'import failed');

    const { copiedRows, committed } = parseCommandTags(this.importChild?.tags ?? '');
    if (!committed || copiedRows === undefined) throw fail('import', 'import ended without committing');
    return {
      exportedRows: exported,
      importedRows: copiedRows,
      exportPid: exportOutcome.pid,
      importPid: importOutcome.pid,
    };
  }
}
