/**
 * Commands that read the target themselves (`pgferry watermark`, `schedule describe`'s
 * watermark) use the profile from this shell's PGFERRY_CONN_<NAME>, as `pgferry gc` does; the
 * worker's profiles are out of reach here.
 */
import { isValidProfileName, loadConnectionProfiles, UnknownConnectionError } from '../config/connections.js';
import { Databases } from '../db/databases.js';
import { CliError } from './cli-error.js';

/** Pools for this shell's profiles, checked to hold `target`. @throws CliError */
export function targetDatabases(target: string, command: string, env = process.env): Databases {
  if (!isValidProfileName(target))
    throw new CliError(`--target: "${target}" is not a profile name (letters, digits, _)`);
  const databases = new Databases(loadConnectionProfiles(env));
  try {
    databases.profile(target);
  } catch (error) {
    if (error instanceof UnknownConnectionError) {
      throw new CliError(
        `--target: ${command} reads the profile in this shell: set PGFERRY_CONN_${target.toUpperCase()}`,
      );
    }
    throw error;
  }
  return databases;
}

/** Whether this shell can reach a profile's database. */
export function hasProfile(name: string, env = process.env): boolean {
  return loadConnectionProfiles(env).has(name.toLowerCase());
}
