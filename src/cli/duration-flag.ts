/** A duration flag's value, checked by the one parser (src/shared/duration.ts) before anything starts. */
import { DurationError, parseDuration } from '../shared/duration.js';
import { CliError } from './cli-error.js';

/**
 * The flag's value in milliseconds, or undefined when the flag was not given.
 * @throws CliError naming the flag, e.g. `--stall-timeout: 60 has no unit: write 60s or 60m`.
 */
export function durationFlagMs(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw new CliError(`${flag}: ${error.message}`);
    throw error;
  }
}

/** Like durationFlagMs, keeping the checked text (trimmed) for inputs that carry Temporal duration strings. */
export function durationFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  durationFlagMs(value, flag);
  return value.trim();
}
