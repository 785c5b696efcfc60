/**
 * Where pipes keep their files (the FIFOs, the export's tags): directories under the temp dir
 * named for the machine and the worker process that made them,
 * `pgferry-<host>-<pid>-<purpose>-XXXXXX`. A worker removes its own as it goes (its FIFO stock
 * when it exits); one killed by SIGKILL cannot, so a worker starting on the same machine removes
 * those whose process is gone. The host tag (a hash of the hostname) keeps a worker from judging
 * another container's directories by a pid from a process namespace it cannot see; a pid reused
 * by an unrelated process only leaves a directory in place.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

export type WorkDirPurpose = 'fifos' | 'pipe' | 'chunk';

const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const WORK_DIR = /^pgferry-([0-9a-f]{8})-(\d+)-(?:fifos|pipe|chunk)-/;

/** A new private (0700) directory for this process's pipe files. */
export function makeWorkDir(purpose: WorkDirPurpose, parent: string = tmpdir()): Promise<string> {
  return mkdtemp(join(parent, `pgferry-${HOST_TAG}-${process.pid}-${purpose}-`));
}

/** Removes this machine's pipe directories whose worker process has ended; returns their names. */
export async function sweepAbandonedWorkDirs(parent: string = tmpdir()): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const abandoned = names.filter((name) => {
    const match = WORK_DIR.exec(name);
    return match !== null && match[1] === HOST_TAG && !processExists(Number(match[2]));
  });
  const removed = await Promise.allSettled(
    abandoned.map((name) => rm(join(parent, name), { recursive: true, force: true }).then(() => name)),
  );
  return removed.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
}

/** Signal 0 checks without signalling; EPERM means it exists under another user. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
