/** Option parsing shared by the bench commands. */
import { InvalidArgumentError } from 'commander';

/** Commander's parser for a count flag (`--rows`, `--rounds`, ...): a whole number of at least 1. */
export function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}
