/**
 * How children are started so they never outlive the worker: on Linux through util-linux's
 * `setpriv --pdeathsig SIGKILL`, which makes the kernel kill the child when the worker dies,
 * however it dies (SIGKILL included). setpriv execs the program, so the pid is psql's own.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on PATH (or checks an explicit path); undefined when absent. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

let cachedSetpriv: string | null | undefined;

/** Command and argument prefix that ties a child's life to this process. */
export function deathTiedLaunch(file: string, args: readonly string[]): { file: string; args: string[] } {
  if (cachedSetpriv === undefined) cachedSetpriv = (process.platform === 'linux' && findExecutable('setpriv')) || null;
  if (!cachedSetpriv) return { file, args: [...args] };
  return { file: cachedSetpriv, args: ['--pdeathsig', 'SIGKILL', '--', file, ...args] };
}

/** The kernel's PF_EXITING task flag: set at the start of exit, before the process's files close. */
const PF_EXITING = 0x4;

/**
 * Whether a child has died or begun to die, reaped or not. Node learns of a child's death only
 * when its event loop reaps it, so a child killed from outside can look alive for a moment: a
 * SIGKILL sent then must not be taken for the cause of its end. A psql killed mid-stream is
 * already exiting before its pipe closes, hence before the other side can fail of the cut input.
 * Linux reads the kernel's state of the process (`Z`ombie, `X` dead, the PF_EXITING flag, or no
 * entry at all); elsewhere this knows nothing and says false.
 */
export function isDeadOrDying(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and ')'.
  const [state, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return state === 'Z' || state === 'X' || (Number(flags) & PF_EXITING) !== 0;
}
