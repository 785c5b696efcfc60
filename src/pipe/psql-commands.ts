/**
 * The two psql invocations of a copy. Everything that varies is an identifier we quote or a
 * value we validate; no free text reaches `psql -c`. Passwords travel in the child's own
 * environment (PGPASSWORD), never in argv, and the child inherits nothing else of the
 * worker's environment (which holds every profile's URL).
 */
import { libpqEnvironment, type ConnectionProfile } from '../config/connections.js';
import { PINNED_SETTINGS, SOURCE_READ_SETTINGS, sessionOptions, type SessionSettings } from '../db/session-settings.js';
import { psqlConninfo } from '../config/libpq-conninfo.js';
import type { CopyFormat } from '../shared/copy-spec.js';
import { quoteIdent, quoteTable, type TableRef } from '../shared/table-name.js';
import { windowFilterSql, type WindowFilter } from '../db/window-filter.js';

export interface PsqlCommand {
  args: string[];
  env: Record<string, string>;
  /** A script fed to psql's stdin, for commands that need a meta-command after SQL (`\g`). */
  script?: string;
}

export const COMMON_ARGS = ['-X', '-w', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose'];

/** Environment for one psql child: the profile's libpq variables and pinned settings only. */
export function psqlEnvironment(
  profile: ConnectionProfile,
  applicationName: string,
  settings: SessionSettings = PINNED_SETTINGS,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    LC_ALL: 'C.UTF-8',
    LC_MESSAGES: 'C',
    PGCONNECT_TIMEOUT: '15',
    ...libpqEnvironment(profile),
    PGAPPNAME: applicationName,
    PGOPTIONS: sessionOptions(settings),
    PGCLIENTENCODING: 'UTF8',
  };
}

/**
 * The profile's own libpq URI, password removed, as psql's dbname: every libpq option the user
 * wrote reaches psql, and `options` carries the pinned settings after the user's
 * (libpq-conninfo.ts). It overrides the PG* variables, which stay for the password.
 */
export function connectArgs(profile: ConnectionProfile, settings: SessionSettings = PINNED_SETTINGS): string[] {
  return ['-d', psqlConninfo(profile.url, sessionOptions(settings))];
}

export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

export function formatOption(format: CopyFormat): string {
  return format === 'binary' ? 'FORMAT binary' : 'FORMAT text';
}

export interface ExportCommandOptions {
  profile: ConnectionProfile;
  applicationName: string;
  table: TableRef;
  columns: readonly string[];
  format: CopyFormat;
  /**
   * A snapshot exported by the activity's source transaction (pg_export_snapshot()), when
   * something else (verify=checksum's digest) must read exactly the data the export read.
   */
  snapshotId?: string;
  /** Partitioned tables and views need `COPY (SELECT ...)`; plain tables use the faster form. */
  selectForm: boolean;
  /** Where psql writes its command tags (`-o`), `COPY n` among them (pipe-files.ts). */
  tagsFile: string;
  /**
   * An incremental window: only its rows, through `COPY (SELECT ... WHERE ...)`; `'empty'` for a
   * window with no rows, whose COPY still sends the format's header a binary import needs.
   */
  filter?: WindowFilter | 'empty';
}

/**
 * `COPY ... TO STDOUT`, in the given snapshot if any. Sent as `\g /dev/stdout` from a stdin
 * script rather than a plain `-c`: psql then writes the COPY's tag, the source server's own
 * count of the rows it sent, to `-o`, where a plain COPY TO STDOUT would send the tag nowhere
 * (it would land in the data). That count is what verifyCounts compares, so the source table is
 * read once, not a second time by a count(*).
 */
export function exportCommand(options: ExportCommandOptions): PsqlCommand {
  const where =
    options.filter === 'empty' ? ' WHERE false' : options.filter ? ` WHERE ${windowFilterSql(options.filter)}` : '';
  const source =
    options.selectForm || options.filter
      ? `(SELECT ${columnList(options.columns)} FROM ${quoteTable(options.table)}${where})`
      : `${quoteTable(options.table)} (${columnList(options.columns)})`;
  const copy = `COPY ${source} TO STDOUT (${formatOption(options.format)}) \\g /dev/stdout`;
  let script = `${copy}\n`;
  if (options.snapshotId !== undefined) {
    if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(options.snapshotId)) {
      throw new Error(`unexpected snapshot id ${JSON.stringify(options.snapshotId)}`);
    }
    script = [
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
      `SET TRANSACTION SNAPSHOT '${options.snapshotId}';`,
      copy,
      'COMMIT;',
      '',
    ].join('\n');
  }
  return {
    args: [...COMMON_ARGS, ...connectArgs(options.profile, SOURCE_READ_SETTINGS), '-o', options.tagsFile],
    script,
    // Row security off, as pg_dump: a role subject to a policy fails (42501), never exports a subset.
    env: psqlEnvironment(options.profile, options.applicationName, SOURCE_READ_SETTINGS),
  };
}

export interface ImportCommandOptions {
  profile: ConnectionProfile;
  applicationName: string;
  staging: TableRef;
  columns: readonly string[];
  format: CopyFormat;
  /** How long to wait for the staging table's lock before failing as TargetBusy. */
  lockTimeoutMs: number;
  /** The commit-token FIFO (commit-token.ts): written only after the export exited 0. */
  commitFifo: string;
  /**
   * Chunks of one copy load staging side by side: no lock, no TRUNCATE, no FREEZE; a chunk that
   * re-runs is kept from duplicating by its ledger row instead (chunk-ledger.ts).
   */
  concurrentLoad?: boolean;
}

/**
 * One transaction that locks and empties staging, loads stdin, then reads the commit token.
 * End of stdin alone never commits: whenever the export ends, psql finishes the COPY and
 * blocks on the token FIFO until the supervisor writes `COMMIT;` or kills it (rolled back).
 * TRUNCATE in the same transaction makes COPY FREEZE sound and a re-run replace, not append.
 */
export function importCommand(options: ImportCommandOptions): PsqlCommand {
  if (/['\\\s]/.test(options.commitFifo)) throw new Error('commit FIFO path must not contain quotes or spaces');
  const staging = quoteTable(options.staging);
  return {
    args: [
      ...COMMON_ARGS,
      ...connectArgs(options.profile),
      '-c',
      'BEGIN',
      '-c',
      `SET LOCAL lock_timeout = ${Math.max(1, Math.round(options.lockTimeoutMs))}`,
      ...(options.concurrentLoad
        ? ['-c', `COPY ${staging} (${columnList(options.columns)}) FROM STDIN (${formatOption(options.format)})`]
        : [
            ...['-c', `LOCK TABLE ${staging} IN ACCESS EXCLUSIVE MODE`, '-c', `TRUNCATE ${staging}`],
            '-c',
            `COPY ${staging} (${columnList(options.columns)}) FROM STDIN (${formatOption(options.format)}, FREEZE)`,
          ]),
      '-c',
      `\\i '${options.commitFifo}'`,
    ],
    env: psqlEnvironment(options.profile, options.applicationName),
  };
}

/** Reads the row count from a side's command tags (`COPY 741302`) and whether it committed. */
export function parseCommandTags(tags: string): { copiedRows: number | undefined; committed: boolean } {
  const copy = /^COPY (\d+)$/m.exec(tags);
  return { copiedRows: copy ? Number(copy[1]) : undefined, committed: /^COMMIT$/m.test(tags) };
}
