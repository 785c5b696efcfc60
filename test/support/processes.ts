/**
 * Process helpers: find the psql children of this test process (setpriv execs psql, so the pid
 * is psql's own) and check that processes are gone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

export interface ChildProcessInfo {
  pid: number;
  comm: string;
  /** PGAPPNAME from the child's environment, which names the side: `pgferry/<tag>/<run>/a1/export`. */
  appName: string | undefined;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Direct children of this process, excluding zombies' parents confusion: state Z is still listed. */
export function childProcesses(parent = process.pid): ChildProcessInfo[] {
  const children: ChildProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readProc(pid, 'stat');
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may contain spaces and parentheses, so parse from the last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (Number(fields[1]) !== parent) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const environ = readProc(pid, 'environ') ?? '';
    const appName = environ
      .split('\0')
      .find((v) => v.startsWith('PGAPPNAME='))
      ?.slice('PGAPPNAME='.length);
    children.push({ pid, comm, appName });
  }
  return children;
}

/** psql (or setpriv about to exec psql) children of this process. */
export function psqlChildren(): ChildProcessInfo[] {
  return childProcesses().filter((child) => child.comm === 'psql' || child.comm === 'setpriv');
}

/** Whether a pid names a live (or unreaped) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Waits until both sides' psql children exist and returns their pids. */
export async function waitForPsqlPair(timeoutMs = 60_000): Promise<{ exportPid: number; importPid: number }> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const children = psqlChildren().filter((child) => child.comm === 'psql');
    const exp = children.find((child) => child.appName?.endsWith('/export'));
    const imp = children.find((child) => child.appName?.endsWith('/import'));
    if (exp && imp) return { exportPid: exp.pid, importPid: imp.pid };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no export/import psql pair appeared within ${timeoutMs} ms`);
}

/** Best-effort SIGKILL (after SIGCONT) of pids a test signalled, so nothing is left behind. */
export function forceKill(pids: Iterable<number | undefined>): void {
  for (const pid of pids) {
    if (pid === undefined) continue;
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }
}

/** Kills what is left of `pids`, then fails if any of them or any psql child was still running. */
export function assertNoPsqlLeft(pids: number[]): void {
  const alive = pids.filter(isAlive);
  forceKill(alive);
  assert.deepEqual(alive, [], 'psql processes outlived the test');
  assert.deepEqual(psqlChildren(), [], 'psql children left behind');
}
