/**
 * `--incremental-by`, `--lookback` and `--since`, validated before anything starts. The column's
 * existence and type are checked by the run's first activity, on the source the worker reaches.
 */
import type { CopyMode } from '../shared/copy-spec.js';
import { incrementalProblem, type IncrementalSpec } from '../shared/incremental.js';
import { CliError } from './cli-error.js';

/** The incremental flags as commander parses them. */
export interface IncrementalFlags {
  incrementalBy?: string;
  lookback?: string;
  since?: string;
}

/** The incremental part of a copy's input, or undefined for a full copy. @throws CliError */
export function incrementalFromFlags(flags: IncrementalFlags, mode: CopyMode): IncrementalSpec | undefined {
  if (flags.incrementalBy === undefined) {
    if (flags.lookback !== undefined) throw new CliError('--lookback works with --incremental-by COLUMN');
    if (flags.since !== undefined) throw new CliError('--since works with --incremental-by COLUMN');
    return undefined;
  }
  const spec: IncrementalSpec = {
    column: flags.incrementalBy,
    ...(flags.lookback !== undefined ? { lookback: flags.lookback } : {}),
    ...(flags.since !== undefined ? { since: flags.since } : {}),
  };
  const problem = incrementalProblem(spec, mode);
  if (problem) throw new CliError(problem);
  return spec;
}
