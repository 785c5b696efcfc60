/**
 * Worker memory, two ways:
 *  - in-process: the bench's own RSS sampled every 50 ms during the copies through the in-process
 *    worker (includes the bench driver, so it reads high);
 *  - the RSS check: the real `pgferry worker` CLI as a subprocess, one fresh process per copy
 *    size, its /proc/<pid>/status VmRSS sampled every 50 ms during the copy plus VmHWM at the end.
 *    It runs compiled (`bin/pgferry.js`, as the production image does), so it loads the workflow
 *    bundle `npm run build` wrote; the first one also reports its VmRSS after idling.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { ConnectionProfile } from '../src/config/connections.js';

const MB = 1024 * 1024;
const SAMPLE_MS = 50;

/** Samples `read()` (bytes) until stopped; returns the peak in MB. */
export function sampleRss(read: () => number | undefined): { stop(): number } {
  let peak = read() ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, read() ?? 0);
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, read() ?? 0);
      return peak / MB;
    },
  };
}

/** A field of /proc/<pid>/status (VmRSS, VmHWM) in bytes; undefined once the process is gone. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface WorkerRss {
  rows: number;
  /** VmRSS once the worker said it was polling (workflows loaded). */
  readyMB: number;
  /** VmRSS after the worker idled `idleMs` past ready, before the copy; absent when not measured. */
  idleMB?: number;
  idleMs?: number;
  /** Peak VmRSS sampled while the copy ran. */
  peakDuringCopyMB: number;
  /** VmHWM at the end: the process's true peak, bundling included. */
  hwmMB: number;
}

const CLI = fileURLToPath(new URL('../bin/pgferry.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

/**
 * Starts the compiled `pgferry worker` on `taskQueue`, waits for its ready line (and `idleMs`
 * more, when given), runs `copy`, and reports the worker's memory. The worker is stopped with
 * SIGTERM and awaited.
 * @throws Error when `npm run build` has not written dist/ and its workflow bundle.
 */
export async function measureWorkerSubprocess(
  options: {
    address: string;
    taskQueue: string;
    profiles: Map<string, ConnectionProfile>;
    rows: number;
    idleMs?: number;
  },
  copy: () => Promise<void>,
): Promise<WorkerRss> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` before the bench`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    TEMPORAL_ADDRESS: options.address,
    PGFERRY_TASK_QUEUE: options.taskQueue,
  };
  for (const profile of options.profiles.values()) env[`PGFERRY_CONN_${profile.name.toUpperCase()}`] = profile.url;
  const child: ResultPromise = execa(process.execPath, [CLI, 'worker'], {
    env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'ignore',
    reject: false,
    buffer: false,
  });
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error('pgferry worker did not start');
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        seen = (seen + chunk.toString()).slice(-4000);
        if (/worker on /.test(seen)) resolve();
      });
      void child.then((result) => reject(new Error(`pgferry worker exited early (${result.exitCode}): ${seen}`)));
    });
    const readyMB = (procStatusBytes(pid, 'VmRSS') ?? 0) / MB;
    let idleMB: number | undefined;
    if (options.idleMs) {
      await new Promise((resolve) => setTimeout(resolve, options.idleMs));
      idleMB = (procStatusBytes(pid, 'VmRSS') ?? 0) / MB;
    }
    const sampler = sampleRss(() => procStatusBytes(pid, 'VmRSS'));
    let peakDuringCopyMB = 0;
    try {
      await copy();
    } finally {
      peakDuringCopyMB = sampler.stop();
    }
    const hwmMB = (procStatusBytes(pid, 'VmHWM') ?? 0) / MB;
    return {
      rows: options.rows,
      readyMB,
      ...(idleMB === undefined ? {} : { idleMB, idleMs: options.idleMs }),
      peakDuringCopyMB,
      hwmMB,
    };
  } finally {
    child.kill('SIGTERM');
    await child;
  }
}
