/**
 * exportImport: moves the source table into staging through two supervised psql processes
 * (src/pipe). The source row count verifyCounts compares is the export's own COPY tag, the
 * rows the source server sent, so the source table is read once. With verify=checksum the
 * source digest is taken concurrently in a snapshot held here and exported to the export psql,
 * so both read exactly the same data. Heartbeats carry live progress. With `verifyStaged` (an
 * incremental run) it also runs verifyCounts's check once the pipe committed.
 *
 * Failures: every type of docs/design.md's failure table, named for the side that failed first.
 * Idempotent: the import empties staging in its own transaction before loading.
 */
import { rm } from 'node:fs/promises';
import { CancelledFailure, Context, log } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases, Session } from '../src/db/databases.js';
import { SOURCE_READ_SETTINGS } from '../src/db/session-settings.js';
import { profileSecrets } from '../src/config/connections.js';
import { CopyPipe, CopyPipeError } from '../src/pipe/supervise-copy.js';
import { findExecutable } from '../src/pipe/launcher.js';
import { pipeFiles } from '../src/pipe/pipe-files.js';
import { makeWorkDir } from '../src/pipe/work-dirs.js';
import { exportCommand, importCommand } from '../src/pipe/psql-commands.js';
import { classifyPipeFailure } from '../src/pipe/classify-failure.js';
import { FailureType } from '../src/shared/failure-types.js';
import { formatTable, quoteTable, type TableRef } from '../src/shared/table-name.js';
import type { CopyFormat, VerifyMode } from '../src/shared/copy-spec.js';
import { failure, toFailure } from './failures.js';
import { sampleImportProgress } from '../src/db/copy-progress.js';
import { rowDigestQuery, type RowDigest } from './row-digest.js';
import { readHighMark } from './read-window.js';
import { windowFilterSql, type WindowFilter } from '../src/db/window-filter.js';
import type { CopiedWindow, PlannedWindow } from '../src/shared/incremental.js';
import { attemptApplicationName, fenceEarlierAttempts, withAttemptSession } from './attempt-fence.js';
import { compareStaged } from './verify-counts.js';
import { startPipeMetrics, type PipeMetrics } from './pipe-metrics.js';
import { pipeDeadline } from './pipe-deadline.js';

export interface ExportImportInput {
  source: string;
  target: string;
  sourceTable: TableRef;
  staging: TableRef;
  columns: string[];
  selectForm: boolean;
  format: CopyFormat;
  verify: VerifyMode;
  stallTimeoutMs: number;
  lockTimeoutMs?: number;
  /** Incremental copy: only rows above `low` up to the cursor's maximum in the export's snapshot. */
  window?: Pick<PlannedWindow, 'type' | 'low'> & { column: string };
  /**
   * Run verifyCounts's check here, once the pipe committed (CountMismatch as verifyCounts raises
   * it): an incremental run saves the round trip of a separate activity.
   */
  verifyStaged?: boolean;
}

export interface ExportImportResult {
  /** Size of the loaded staging table (heap and TOAST). */
  bytes: number;
  /** Rows the import's `COPY n` tag reported. */
  importedRows: number;
  /** Rows the source server sent: the export's `COPY n` tag. */
  sourceRows: number;
  /** With verify=checksum: the source's row digest in the same snapshot. */
  sourceDigest?: RowDigest;
  durationMs: number;
  /** Which attempt of the activity produced this result. */
  attempt: number;
  /** Incremental copy: the window exported; high null means no row was above low (nothing copied). */
  window?: CopiedWindow;
}

/** Heartbeat details, shown in the UI's pending-activity view and read by `status`. */
export interface ExportImportHeartbeat {
  phase: 'starting' | 'copying';
  bytes: number;
  rows: number;
  bytesPerSecond: number;
  exportPid?: number;
  importPid?: number;
  /** The planner's row estimate of the source (pg_class.reltuples), for an ETA while copying. */
  estimatedSourceRows?: number;
}

/**
 * Live progress (issue 12 item 10: within 3 s of data moving, refreshed at least every 5 s, in
 * `status`, `copy --wait` and the UI): the pipe samples the import every second, a heartbeat
 * carries the latest sample every second, and the worker sends heartbeats to the server at most
 * HEARTBEAT_THROTTLE_MS late. The SDK would otherwise hold them for 80% of the heartbeat timeout
 * (24 s of 30 s). The heartbeat timeout itself is unchanged.
 */
const HEARTBEAT_INTERVAL_MS = 1_000;
/** The worker's maxHeartbeatThrottleInterval (src/worker/create-worker.ts). */
export const HEARTBEAT_THROTTLE_MS = 500;

export function makeExportImport(databases: Databases, psqlPath: string | undefined) {
  return async function exportImport(input: ExportImportInput): Promise<ExportImportResult> {
    const context = Context.current();
    const { info } = context;
    if (!psqlPath || !findExecutable(psqlPath)) {
      throw failure(
        FailureType.PsqlNotFound,
        'psql was not found on the worker PATH: install the PostgreSQL client (Debian: apt-get install postgresql-client)',
      );
    }
    const sourceProfile = databases.profile(input.source);
    const targetProfile = databases.profile(input.target);
    // pgferry/<workflow>/<run>/a<attempt>/<side>: who a backend belongs to (attempt-fence.ts).
    const appName = (side: string) => attemptApplicationName(side);
    const workflowId = info.workflowExecution?.workflowId ?? info.activityId;

    const fenced = await fenceEarlierAttempts(databases, input.target, workflowId).catch((error: unknown) => {
      throw toFailure(error, 'import', 'connecting to the target');
    });
    if (fenced > 0) log.warn('terminated backends of an earlier attempt', { count: fenced });

    let snapshotSession: Session | undefined;
    const workDir = await makeWorkDir('pipe');
    const started = Date.now();
    const metrics = startPipeMetrics(context, {
      source: input.source,
      target: input.target,
      table: formatTable(input.sourceTable),
    });
    let succeeded = false;
    // Until the source has answered, the snapshot session may be running a query.
    let preparationSettled = true;
    try {
      context.heartbeat({ phase: 'starting', bytes: 0, rows: 0, bytesPerSecond: 0 } satisfies ExportImportHeartbeat);
      const files = pipeFiles(workDir);
      const exportOptions = {
        profile: sourceProfile,
        applicationName: appName('export'),
        table: input.sourceTable,
        columns: input.columns,
        format: input.format,
        selectForm: input.selectForm,
        tagsFile: files.exportTags,
      };
      // The checksum and an incremental window's high mark need a second reader of the export's
      // exact data: a held snapshot, which the export's script names. The script waits for it
      // while both psql start and connect (CopyPipeOptions.exportScript).
      const preparation =
        input.verify === 'checksum' || input.window
          ? (async (): Promise<PreparedExport> => {
              snapshotSession = await databases
                .openSession(input.source, appName('snapshot'), SOURCE_READ_SETTINGS)
                .catch((error: unknown) => {
                  throw toFailure(error, 'export', 'connecting to the source');
                });
              const snapshotId = await holdSnapshot(snapshotSession.client, input.sourceTable);
              if (!input.window) return { snapshotId };
              const high = await readHighMark(snapshotSession.client, input.sourceTable, input.window).catch(
                (error: unknown) => {
                  throw toFailure(error, 'export', `reading the high mark of ${input.window?.column}`);
                },
              );
              return { snapshotId, high, ...(high === null ? {} : { filter: { ...input.window, high } }) };
            })()
          : undefined;
      if (preparation) {
        preparationSettled = false;
        void preparation.then(
          () => (preparationSettled = true),
          () => (preparationSettled = true),
        );
      }

      const pipe = new CopyPipe({
        psqlPath,
        files,
        sampleProgress: () => sampleImportProgress(databases, input.target, appName('import')),
        stallTimeoutMs: input.stallTimeoutMs,
        deadlineAt: pipeDeadline(started, info),
        cancelSignal: context.cancellationSignal,
        secrets: [...profileSecrets(sourceProfile), ...profileSecrets(targetProfile)],
        // Its args and environment; with a preparation, the script comes from exportScript.
        exportCommand: exportCommand(exportOptions),
        ...(preparation
          ? {
              exportScript: preparation.then(
                ({ snapshotId, filter, high }) =>
                  exportCommand({ ...exportOptions, snapshotId, filter: high === null ? 'empty' : filter }).script!,
              ),
            }
          : {}),
        importCommand: importCommand({
          profile: targetProfile,
          applicationName: appName('import'),
          staging: input.staging,
          columns: input.columns,
          format: input.format,
          lockTimeoutMs: input.lockTimeoutMs ?? 30_000,
          commitFifo: files.commitFifo,
        }),
      });

      // The digest runs in the held snapshot while the pipe streams.
      const sourceDigest: Promise<RowDigest | Error | undefined> =
        preparation && input.verify === 'checksum'
          ? preparation
              .then(({ filter, high }) =>
                high === null || !snapshotSession ? undefined : digestInSnapshot(snapshotSession.client, input, filter),
              )
              .catch((error: unknown) => error as Error)
          : Promise.resolve(undefined);
      // The table's row estimate says nothing about a window's size: no ETA from it then.
      const estimate = input.window
        ? Promise.resolve(undefined)
        : estimateSourceRows(databases, input.source, input.sourceTable);
      const stopHeartbeats = heartbeatProgress(context, pipe, started, estimate, metrics);
      let piped;
      try {
        piped = await pipe.run();
      } catch (error) {
        if (context.cancellationSignal.aborted) throw cancellationOf(context);
        if (error instanceof CopyPipeError) {
          const classified = classifyPipeFailure(error, input.stallTimeoutMs);
          // The export could not import the held snapshot (55000): a digest that failed (e.g. 42501
          // under row_security=off) aborted it, and that failure is the root cause; otherwise the
          // snapshot was lost, which a new attempt with a new snapshot can fix.
          if (preparation && classified.details.side === 'export' && classified.details.sqlState === '55000') {
            const digest = await sourceDigest;
            if (digest instanceof Error)
              throw toFailure(digest, 'export', `digesting ${formatTable(input.sourceTable)}`);
            throw failure(
              FailureType.ExportFailed,
              `the export lost its source snapshot: ${classified.message}`,
              classified.details,
            );
          }
          throw failure(classified.type, classified.message, classified.details);
        }
        throw error;
      } finally {
        stopHeartbeats();
      }
      const prepared = await preparation;
      if (input.window && prepared?.high === null) {
        // An empty window is a quick success: its pipe moved no rows, staging stays empty.
        succeeded = true;
        const window = { column: input.window.column, low: input.window.low, high: null, rows: 0 };
        return { bytes: 0, importedRows: 0, sourceRows: 0, durationMs: 0, attempt: info.attempt, window };
      }
      const filter = prepared?.filter;
      const digest = await sourceDigest;
      if (digest instanceof Error) throw toFailure(digest, 'export', `digesting ${formatTable(input.sourceTable)}`);
      const [bytes] = await Promise.all([
        stagedSize(databases, input.target, input.staging),
        input.verifyStaged ? verifyStaged(databases, input, piped, digest) : undefined,
      ]);
      succeeded = true;
      return {
        bytes,
        importedRows: piped.importedRows,
        sourceRows: piped.exportedRows,
        sourceDigest: digest,
        durationMs: Date.now() - started,
        attempt: info.attempt,
        ...(filter
          ? { window: { column: filter.column, low: filter.low, high: filter.high, rows: piped.importedRows } }
          : {}),
      };
    } finally {
      metrics.ended(succeeded, Date.now() - started);
      // After a failure a query may still be running (the high mark's, the checksum's digest):
      // then the session is closed. Otherwise it goes back warm, also after an empty window (a
      // schedule's usual run).
      await snapshotSession?.close(preparationSettled && (succeeded || input.verify !== 'checksum'));
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

/** What the export's script waits for: the held snapshot and, for a window, its high mark. */
interface PreparedExport {
  snapshotId: string;
  /** The window's high mark; null when the window is empty. */
  high?: string | null;
  filter?: WindowFilter;
}

/** verifyCounts's check on a session named for this attempt; CountMismatch when staging disagrees. */
async function verifyStaged(
  databases: Databases,
  input: ExportImportInput,
  piped: { exportedRows: number; importedRows: number },
  sourceDigest: RowDigest | undefined,
): Promise<void> {
  const check = {
    target: input.target,
    staging: input.staging,
    columns: input.columns,
    verify: input.verify,
    sourceRows: piped.exportedRows,
    importedRows: piped.importedRows,
    ...(sourceDigest ? { sourceDigest } : {}),
  };
  await withAttemptSession(databases, input.target, 'verifyCounts', (client) => compareStaged(client, check)).catch(
    (error: unknown) => {
      throw toFailure(error, 'import', 'counting staging');
    },
  );
}

/** Opens a repeatable-read transaction and exports its snapshot for the export psql. */
async function holdSnapshot(client: pg.ClientBase, table: TableRef): Promise<string> {
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [
      quoteTable(table),
    ]);
    if (!exists.rows[0]?.oid) {
      throw failure(FailureType.SourceTableNotFound, `source table ${formatTable(table)} does not exist`);
    }
    const snapshot = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    return snapshot.rows[0]!.id;
  } catch (error) {
    throw toFailure(error, 'export', 'opening the source snapshot');
  }
}

/** The loaded size, for summaries only: failing to read it must not fail a committed copy. */
async function stagedSize(databases: Databases, target: string, staging: TableRef): Promise<number> {
  return databases
    .withClient(target, async (client) => {
      const result = await client.query<{ bytes: string }>('SELECT pg_table_size($1::regclass) AS bytes', [
        quoteTable(staging),
      ]);
      return Number(result.rows[0]?.bytes ?? 0);
    })
    .catch(() => 0);
}

/** The source's row digest (verify=checksum) in the snapshot the export reads. */
async function digestInSnapshot(
  client: pg.Client,
  input: ExportImportInput,
  filter?: WindowFilter,
): Promise<RowDigest> {
  const where = filter && windowFilterSql(filter);
  const digest = await client.query<RowDigest>(rowDigestQuery(input.sourceTable, input.columns, where));
  const row = digest.rows[0]!;
  return { rows: String(row.rows), digest: String(row.digest) };
}

/** The planner's row count, free to read; undefined when the table was never analyzed. */
async function estimateSourceRows(databases: Databases, source: string, table: TableRef): Promise<number | undefined> {
  return databases
    .withClient(source, async (client) => {
      const result = await client.query<{ rows: number }>(
        `SELECT sum(reltuples)::float8 AS rows FROM pg_class
          WHERE (oid = $1::regclass OR oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))
            AND relkind <> 'p' AND reltuples >= 0`,
        [quoteTable(table)],
      );
      const rows = result.rows[0]?.rows;
      return rows !== undefined && rows !== null && rows > 0 ? Math.round(rows) : undefined;
    })
    .catch(() => undefined);
}

function heartbeatProgress(
  context: Context,
  pipe: CopyPipe,
  started: number,
  estimate: Promise<number | undefined>,
  metrics: PipeMetrics,
): () => void {
  let estimatedSourceRows: number | undefined;
  void estimate.then((rows) => (estimatedSourceRows = rows));
  const beat = () => {
    const progress = pipe.progress();
    metrics.running(Date.now() - started);
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    context.heartbeat({
      phase: 'copying',
      bytes: progress.bytes,
      rows: progress.rows,
      bytesPerSecond: Math.round(progress.bytes / seconds),
      exportPid: progress.exportPid,
      importPid: progress.importPid,
      estimatedSourceRows,
    } satisfies ExportImportHeartbeat);
  };
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  beat();
  return () => clearInterval(timer);
}

/** The SDK's own cancellation, rethrown unwrapped once both processes are gone. */
function cancellationOf(context: Context): unknown {
  const reason: unknown = context.cancellationSignal.reason;
  return reason instanceof CancelledFailure
    ? reason
    : new CancelledFailure(reason instanceof Error ? reason.message : 'cancelled');
}
