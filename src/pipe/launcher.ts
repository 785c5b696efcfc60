/**
 * How children are started so they never outlive the worker: on Linux through util-linux's
 * `setpriv --pdeathsig SIGKILL`, which makes the kernel kill the child when the worker dies,
 * however it dies (SIGKILL included). setpriv execs the program, so the pid is psql's own.
 */
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
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

/** Where Debian and Ubuntu install each PostgreSQL major's client programs (`<root>/<major>/bin`). */
export const DEBIAN_CLIENT_ROOT = '/usr/lib/postgresql';

/**
 * The psql to launch: the one on PATH, except where that is Debian's and Ubuntu's
 * postgresql-common `pg_wrapper`, a Perl script that picks the newest installed client and execs
 * it. The Perl costs 20-30 ms on every launch, and a chunked copy launches two psql per chunk.
 * For psql the wrapper always runs the newest installed client, whose compiled-in sysconfdir is
 * the wrapper's PGSYSCONFDIR (/etc/postgresql-common), so launching that binary directly runs
 * the same psql with the same configuration. Anything else on PATH is used as it is.
 */
export function findPsql(path = process.env.PATH ?? '', debianClientRoot = DEBIAN_CLIENT_ROOT): string | undefined {
  const onPath = findExecutable('psql', path);
  if (!onPath || !isPgWrapper(onPath)) return onPath;
  return newestClientPsql(debianClientRoot) ?? onPath;
}

function isPgWrapper(file: string): boolean {
  try {
    return realpathSync(file).endsWith('/postgresql-common/pg_wrapper');
  } catch {
    return false;
  }
}

/** `<root>/<newest major with a psql>/bin/psql`, as pg_wrapper chooses it; undefined when none. */
function newestClientPsql(root: string): string | undefined {
  let majors: string[];
  try {
    majors = readdirSync(root).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    return undefined;
  }
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const psql = findExecutable(join(root, major, 'bin', 'psql'));
    if (psql) return psql;
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
