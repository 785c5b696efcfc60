/**
 * The files a pipe works with, all in one private directory of the activity:
 *   - commit.fifo: the commit token (commit-token.ts), read by the import's `\i`;
 *   - export.tags: where the export psql writes its command tags (`-o`), among them `COPY n`,
 *     the source server's count of the rows it sent;
 *   - data.fifo: the kernel pipe from the export's stdout to the import's stdin.
 *
 * Why a FIFO for the data: Node's 'pipe' stdio is a socketpair, and psql cannot reopen a socket
 * by path (`\g /dev/stdout` fails with ENXIO). Opened at both ends, a FIFO is a real pipe, as a
 * shell's is, so the export can send its COPY data to /dev/stdout and its tags to `-o`.
 */
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface PipeFiles {
  commitFifo: string;
  exportTags: string;
  dataFifo: string;
}

/** The pipe's paths inside `dir`, a directory only this activity uses. */
export function pipeFiles(dir: string): PipeFiles {
  return {
    commitFifo: join(dir, 'commit.fifo'),
    exportTags: join(dir, 'export.tags'),
    dataFifo: join(dir, 'data.fifo'),
  };
}

/** Creates FIFOs (Node has no mkfifo; coreutils does), readable and writable by us only. */
export async function createFifos(...paths: string[]): Promise<void> {
  await execa('mkfifo', ['-m', '600', '--', ...paths]);
}

/**
 * Both ends of a pipe through the FIFO just created at `path`, with the blocking file status
 * psql needs. No open may wait for the other side: a non-blocking read end lets the write end
 * open at once, then a blocking read end opens at once because a writer exists, and the first
 * read end is dropped.
 */
export async function openDataPipe(path: string): Promise<{ readEnd: FileHandle; writeEnd: FileHandle }> {
  const placeholder = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const writeEnd = await open(path, constants.O_WRONLY);
    const readEnd = await open(path, constants.O_RDONLY);
    return { readEnd, writeEnd };
  } finally {
    await placeholder.close();
    // The open ends are all anyone needs; nobody else may attach to this pipe.
    await rm(path, { force: true });
  }
}
