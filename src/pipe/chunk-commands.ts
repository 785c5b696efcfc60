/**
 * The two psql invocations of one chunk (DESIGN.md, "Chunked copy"). The export reads one range
 * (a TID range scan of heap blocks, or a key range) in the copy's exported snapshot when there
 * is one; the import appends to staging, which every chunk loads at once, so there is neither
 * TRUNCATE nor FREEZE, and its transaction ends only with the commit token, which for a chunk
 * also carries the chunk's ledger row (chunk-ledger.ts).
 */
import {
  psqlEnvironment,
  COMMON_ARGS,
  columnList,
  connectArgs,
  formatOption,
  importCommand,
  type ImportCommandOptions,
  type PsqlCommand,
} from './psql-commands.js';
import type { ConnectionProfile } from '../config/connections.js';
import { SOURCE_READ_SETTINGS } from '../db/session-settings.js';
import type { CopyFormat } from '../shared/copy-spec.js';
import type { ChunkRange } from '../shared/chunk-spec.js';
import { quoteIdent, quoteTable } from '../shared/table-name.js';

/** The WHERE clause selecting a chunk's rows. Block numbers are integers, key bounds typed SQL literals. */
export function rangeCondition(range: ChunkRange): string {
  if (range.kind === 'ctid') {
    const block = (n: number) => {
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a block number: ${n}`);
      return `'(${n},0)'::tid`;
    };
    const lower = `ctid >= ${block(range.startBlock)}`;
    return range.endBlock === undefined ? lower : `${lower} AND ctid < ${block(range.endBlock)}`;
  }
  const key = `(${range.columns.map(quoteIdent).join(', ')})`;
  const parts = [
    ...(range.lower ? [`${key} > (${range.lower.join(', ')})`] : []),
    ...(range.upper ? [`${key} <= (${range.upper.join(', ')})`] : []),
  ];
  return parts.length > 0 ? parts.join(' AND ') : 'true';
}

/** `SELECT columns FROM relation WHERE <range>`: the rows of one chunk. */
export function chunkSelect(range: ChunkRange, columns: readonly string[]): string {
  return `SELECT ${columnList(columns)} FROM ${quoteTable(range.relation)} WHERE ${rangeCondition(range)}`;
}

export interface ChunkExportOptions {
  profile: ConnectionProfile;
  applicationName: string;
  range: ChunkRange;
  columns: readonly string[];
  format: CopyFormat;
  /** The copy's (or the chunk's own) exported snapshot; absent: the export's own snapshot. */
  snapshotId?: string;
  tagsFile: string;
}

export function chunkExportCommand(options: ChunkExportOptions): PsqlCommand {
  const copy = `COPY (${chunkSelect(options.range, options.columns)}) TO STDOUT (${formatOption(options.format)}) \\g /dev/stdout`;
  const lines = [copy];
  if (options.snapshotId !== undefined) {
    if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(options.snapshotId)) {
      throw new Error(`unexpected snapshot id ${JSON.stringify(options.snapshotId)}`);
    }
    lines.unshift(
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
      `SET TRANSACTION SNAPSHOT '${options.snapshotId}';`,
    );
    lines.push('COMMIT;');
  }
  return {
    args: [...COMMON_ARGS, ...connectArgs(options.profile, SOURCE_READ_SETTINGS), '-o', options.tagsFile],
    script: `${lines.join('\n')}\n`,
    // Row security off, as for every export: a role subject to a policy fails, never copies a subset.
    env: psqlEnvironment(options.profile, options.applicationName, SOURCE_READ_SETTINGS),
  };
}

export type ChunkImportOptions = Omit<ImportCommandOptions, 'concurrentLoad'>;

/** One transaction: COPY into staging beside the other chunks, then `\i` the token (ledger row and COMMIT). */
export function chunkImportCommand(options: ChunkImportOptions): PsqlCommand {
  return importCommand({ ...options, concurrentLoad: true });
}
