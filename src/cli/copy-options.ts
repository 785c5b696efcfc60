/**
 * The copy flags shared by `copy` and `schedule create`, validated into a CopyTableInput
 * before anything is started: a bad name, mode or profile is one clear line and nothing runs.
 */
import type { Command } from 'commander';
import { isValidProfileName, loadConnectionProfiles } from '../config/connections.js';
import { COPY_FORMATS, COPY_MODES, VERIFY_MODES, type CopyTableInput } from '../shared/copy-spec.js';
import { CONSISTENCY_MODES, DEFAULT_JOBS, type ChunkingOptions } from '../shared/chunk-spec.js';
import { formatTable, parseTableName, sameTable, TableNameError, type TableRef } from '../shared/table-name.js';
import { CliError } from './cli-error.js';
import { incrementalFromFlags, type IncrementalFlags } from './incremental-options.js';
import { durationFlag } from './duration-flag.js';

export interface CopyFlags extends IncrementalFlags {
  source: string;
  target: string;
  table: string[];
  targetTable?: string;
  mode: string;
  verify: string;
  format: string;
  copyTimeout?: string;
  heartbeatTimeout?: string;
  stallTimeout?: string;
  maxAttempts?: string;
  chunkRows?: string;
  jobs?: string;
  consistency?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds the copy flags to a command. */
export function addCopyFlags(command: Command): Command {
  return command
    .requiredOption('--source <name>', 'source connection profile (PGFERRY_CONN_<NAME> on the worker)')
    .requiredOption('--target <name>', 'target connection profile')
    .requiredOption('--table <[schema.]table>', 'table to copy, PostgreSQL quoting rules; repeat for several', collect)
    .option('--target-table <[schema.]table>', 'table name on the target (default: the same name)')
    .option('--mode <mode>', `how to publish: ${COPY_MODES.join(' | ')}`, 'replace')
    .option('--verify <how>', `check after the copy: ${VERIFY_MODES.join(' | ')}`, 'count')
    .option('--format <format>', `COPY format: ${COPY_FORMATS.join(' | ')}`, 'binary')
    .option('--copy-timeout <duration>', 'start-to-close of the data copy, e.g. 2h', undefined)
    .option('--heartbeat-timeout <duration>', 'heartbeat timeout of the data copy, e.g. 30s', undefined)
    .option('--stall-timeout <duration>', 'fail the attempt when no bytes move for this long, e.g. 60s', undefined)
    .option(
      '--max-attempts <n>',
      'cap on attempts of the data copy (default: no cap; retried until the copy timeout plus a 10-minute retry window)',
      undefined,
    )
    .option(
      '--chunk-rows <n>',
      'copy a table with more rows than this in chunks of this many rows (default: chunks of about 1 GiB of heap)',
      undefined,
    )
    .option('--jobs <n>', `chunks in flight per table, across all workers (default ${DEFAULT_JOBS})`, undefined)
    .option(
      '--consistency <mode>',
      'snapshot: every chunk reads one snapshot, the target is one point in time of the source (default); ' +
        'chunk: each chunk reads its own snapshot of its primary-key range, so finished chunks survive any ' +
        'fault, but the target is NOT one point in time of the source',
      undefined,
    )
    .option('--incremental-by <column>', 'copy only rows whose column is above the watermark (append or upsert)')
    .option('--lookback <duration|n>', 'with --incremental-by: re-read this far below the watermark (10m, or N values)')
    .option('--since <value>', "with --incremental-by: the first run's low bound (default: everything)");
}

function table(value: string, flag: string): TableRef {
  try {
    return parseTableName(value);
  } catch (error) {
    if (error instanceof TableNameError) throw new CliError(`${flag}: ${error.message}`);
    throw error;
  }
}

/** `value` when it is one of `allowed`, else a CliError naming `flag`. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!allowed.includes(value as T))
    throw new CliError(`${flag}: unknown value "${value}" (expected ${allowed.join(', ')})`);
  return value as T;
}

function profile(name: string, flag: string, env: NodeJS.ProcessEnv): string {
  if (!isValidProfileName(name)) throw new CliError(`${flag}: "${name}" is not a profile name (letters, digits, _)`);
  // The worker resolves profiles; when this shell has profiles too, check against them early.
  const known = loadConnectionProfiles(env);
  if (known.size > 0 && !known.has(name.toLowerCase())) {
    throw new CliError(
      `${flag}: unknown connection profile "${name}" (configured here: ${[...known.keys()].join(', ')}; set PGFERRY_CONN_${name.toUpperCase()})`,
    );
  }
  return name.toLowerCase();
}

/** Validates the flags into one CopyTableInput per `--table`. */
export function copyInputsFromFlags(flags: CopyFlags, env: NodeJS.ProcessEnv = process.env): CopyTableInput[] {
  const source = profile(flags.source, '--source', env);
  const target = profile(flags.target, '--target', env);
  const mode = oneOf(flags.mode, COPY_MODES, '--mode');
  const verify = oneOf(flags.verify, VERIFY_MODES, '--verify');
  const format = oneOf(flags.format, COPY_FORMATS, '--format');
  const maxAttempts = flags.maxAttempts === undefined ? undefined : Number(flags.maxAttempts);
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts > 0)) {
    throw new CliError(`--max-attempts: "${flags.maxAttempts}" is not a positive whole number`);
  }
  const timeouts = {
    copyTimeout: durationFlag(flags.copyTimeout, '--copy-timeout'),
    heartbeatTimeout: durationFlag(flags.heartbeatTimeout, '--heartbeat-timeout'),
    stallTimeout: durationFlag(flags.stallTimeout, '--stall-timeout'),
    maxAttempts,
  };
  const chunking = chunkingFromFlags(flags);
  const incremental = incrementalFromFlags(flags, mode);
  if (chunking?.consistency === 'chunk' && incremental) {
    throw new CliError(
      '--consistency chunk cannot copy an incremental window exactly once (chunks read in different snapshots ' +
        'could see a row whose cursor moved in two ranges or in none): use --consistency snapshot',
    );
  }
  const tables = flags.table.map((value) => table(value, '--table'));
  if (flags.targetTable && tables.length > 1) throw new CliError('--target-table works with a single --table');
  return tables.map((sourceTable) => {
    const targetTable = flags.targetTable ? table(flags.targetTable, '--target-table') : sourceTable;
    if (source === target && sameTable(sourceTable, targetTable)) {
      throw new CliError(`source and target are the same table: ${source}:${formatTable(sourceTable)}`);
    }
    return {
      source,
      target,
      table: sourceTable,
      ...(flags.targetTable ? { targetTable } : {}),
      mode,
      verify,
      format,
      timeouts: Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)),
      ...(chunking ? { chunking } : {}),
      ...(incremental ? { incremental } : {}),
    };
  });
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new CliError(`${flag}: "${value}" is not a positive whole number`);
  return n;
}

/** The chunking flags, or undefined when none was given (the defaults then apply). */
function chunkingFromFlags(flags: CopyFlags): ChunkingOptions | undefined {
  const chunking: ChunkingOptions = {
    chunkRows: positiveInteger(flags.chunkRows, '--chunk-rows'),
    jobs: positiveInteger(flags.jobs, '--jobs'),
    consistency:
      flags.consistency === undefined ? undefined : oneOf(flags.consistency, CONSISTENCY_MODES, '--consistency'),
  };
  const given = Object.fromEntries(Object.entries(chunking).filter(([, v]) => v !== undefined)) as ChunkingOptions;
  return Object.keys(given).length > 0 ? given : undefined;
}
