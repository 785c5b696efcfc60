/**
 * How a child process ended, normalised at the edge: Node's `code: null` becomes a named
 * signal outcome here, and nothing downstream ever sees `null` as an exit code.
 */

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
