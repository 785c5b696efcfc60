/**
 * How a child process ended, normalised at the edge: Node's `code: null` becomes a named
 * signal outcome here, and nothing downstream ever sees `null` as an exit code.
 */
import { readFileSync } from 'node:fs';

/** Why the supervisor itself killed a process, when it did. */
export type KillReason = 'fence' | 'cascade' | 'stall' | 'deadline' | 'cancel';

export type ProcessEnd =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'spawn-failed'; errorCode: string; message: string };

export interface ProcessOutcome {
  side: 'export' | 'import';
  pid: number | undefined;
  end: ProcessEnd;
  /** Set when the supervisor sent the signal; such an end is a consequence, not a root cause. */
  killedBy?: KillReason;
  /** Monotonic order in which the processes ended (1 = first). */
  endOrder: number;
  stderrTail: string;
  sqlState?: string;
}

/** Builds the one ProcessEnd from Node's raw `(code, signal)` pair or a spawn error. */
export function toProcessEnd(
  code: number | null,
  signal: NodeJS.Signals | null,
  spawnError?: NodeJS.ErrnoException,
): ProcessEnd {
  if (spawnError) return { kind: 'spawn-failed', errorCode: spawnError.code ?? 'UNKNOWN', message: spawnError.message };
  if (signal) return { kind: 'signaled', signal };
  if (code === null) return { kind: 'signaled', signal: 'UNKNOWN' };
  return { kind: 'exited', exitCode: code };
}

export function succeeded(outcome: ProcessOutcome): boolean {
  return outcome.end.kind === 'exited' && outcome.end.exitCode === 0;
}

/** `exit code 3`, `killed by SIGKILL`, `could not start (ENOENT)`. */
export function describeEnd(end: ProcessEnd): string {
  switch (end.kind) {
    case 'exited':
      return `exited with code ${end.exitCode}`;
    case 'signaled':
      return `killed by ${end.signal}`;
    case 'spawn-failed':
      return `could not start (${end.errorCode})`;
  }
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
