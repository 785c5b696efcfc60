/**
 * FIFOs made ahead of need. Node has no mkfifo, so FIFOs come from coreutils' `mkfifo`, and
 * starting it forks the worker: Node 20's libuv spawns by fork(), which blocks the event loop
 * for a time that grows with the worker's memory (about 10 ms at a worker's 150 MB). Every pipe
 * needs two FIFOs, and a chunked copy runs a pipe per chunk, so that fork came on top of the two
 * psql of every chunk. The stock makes FIFOs a batch at a time in a private directory and hands
 * them out by rename(2), so pipes share one `mkfifo` per batch / 2 pipes, made in the
 * background once the stock runs low. A FIFO carries nothing before it is handed out and is
 * handed out once; where a rename cannot serve (another filesystem, a stock file removed by a
 * temp-dir cleaner), the pipe gets new FIFOs made where they go, as before.
 */
import { rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFifos } from './pipe-files.js';
import { makeWorkDir } from './work-dirs.js';

export class FifoStock {
  private directory: Promise<string> | undefined;
  private readonly ready: string[] = [];
  private refilling: Promise<void> | undefined;
  private made = 0;

  /** `batch`: FIFOs one `mkfifo` makes; the stock is refilled when fewer than half are left. */
  constructor(
    private readonly parent: string = tmpdir(),
    private readonly batch = 32,
  ) {}

  /** Makes a FIFO (mode 600) at each of `paths`, from the stock when it can. */
  async place(paths: readonly string[]): Promise<void> {
    while (this.ready.length < paths.length) await this.refill();
    // Checked and taken in one turn of the event loop: concurrent pipes never share a FIFO.
    const taken = this.ready.splice(0, paths.length);
    if (this.ready.length < this.batch / 2) this.refill().catch(() => undefined);
    const moved = await Promise.allSettled(taken.map((from, i) => rename(from, paths[i]!)));
    if (moved.every((result) => result.status === 'fulfilled')) return;
    await Promise.all(paths.map((path) => rm(path, { force: true })));
    await createFifos(...paths);
  }

  private refill(): Promise<void> {
    this.refilling ??= (async () => {
      const dir = await this.stockDirectory();
      const paths = Array.from({ length: this.batch }, () => join(dir, `${this.made++}.fifo`));
      await createFifos(...paths);
      this.ready.push(...paths);
    })().finally(() => {
      this.refilling = undefined;
    });
    return this.refilling;
  }

  private stockDirectory(): Promise<string> {
    this.directory ??= makeWorkDir('fifos', this.parent).then((dir) => {
      // FIFOs hold no data; what is left of the stock goes with the process (or, after a
      // SIGKILL, with the next worker's sweep: work-dirs.ts).
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    });
    return this.directory;
  }
}

/** The worker's stock, shared by every pipe it runs. */
export const fifoStock = new FifoStock();
