/**
 * How children are started so they never outlive the worker: on Linux through util-linux's
 * `setpriv --pdeathsig SIGKILL`, which makes the kernel kill the child when the worker dies,
 * however it dies (SIGKILL included). setpriv execs the program, so the pid is psql's own.
 */
import { accessSync, constants } from 'node:fs';
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
