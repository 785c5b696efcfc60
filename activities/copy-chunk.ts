/**
 * copyChunk: one chunk of a chunked copy through the supervised pipe (DESIGN.md C1-C5). The
 * export reads the chunk's range in the copy's snapshot (or its own, `--consistency chunk`); the
 * import appends to staging, and the supervisor releases its commit only after the export exited
 * 0 with its `COPY n`, writing the chunk's ledger row into the same transaction. So a chunk's
 * rows are in staging exactly when its ledger row exists, and a retried chunk whose row exists is
 * skipped: a committed chunk is never copied again.
 *
 * Failures: the pipe's types; `SnapshotLost` when the copy's snapshot can no longer be imported.
 * Idempotent through the ledger.
 */
import { rm } from 'node:fs/promises';
import { Context, log } from '@temporalio/activity';
import type pg from 'pg';
import type { Databases } from '../src/db/databases.js';
import { sampleImportProgress } from '../src/db/copy-progress.js';
import { SOURCE_READ_SETTINGS } from '../src/db/session-settings.js';
import { profileSecrets } from '../src/config/connections.js';
import { committedChunk, ledgerCommitSql, ledgerKey } from '../src/db/chunk-ledger.js';
import { plannedRange } from '../src/db/chunk-plan.js';
import { CopyPipe, CopyPipeError } from '../src/pipe/supervise-copy.js';
import { findExecutable } from '../src/pipe/launcher.js';
import { pipeFiles } from '../src/pipe/pipe-files.js';
import { makeWorkDir } from '../src/pipe/work-dirs.js';
import { chunkExportCommand, chunkImportCommand, rangeCondition } from '../src/pipe/chunk-commands.js';
import { classifyPipeFailure } from '../src/pipe/classify-failure.js';
import { FailureType } from '../src/shared/failure-types.js';
import { describeRange, type ChunkRange, type ChunkRef } from '../src/shared/chunk-spec.js';
import type { CopyFormat, VerifyMode } from '../src/shared/copy-spec.js';
import type { TableRef } from '../src/shared/table-name.js';
import { failure, toFailure } from './failures.js';
import { fenceBackends, runTag, workflowTag } from './attempt-fence.js';
import { rowDigestQuery } from './row-digest.js';
import { pipeDeadline } from './pipe-deadline.js';

export interface CopyChunkInput {
  /** `workflowId/runId` of the copy: the ledger's key. */
  copyId: string;
  generation: number;
  /** The chunk's number; its range is read from the copy's stored plan unless given (older histories). */
  chunk: ChunkRef;
  source: string;
  target: string;
  staging: TableRef;
  columns: string[];
  format: CopyFormat;
  verify: VerifyMode;
  stallTimeoutMs: number;
  /** The copy's exported snapshot (`--consistency snapshot`). */
  snapshotId?: string;
}

export interface CopyChunkResult {
  n: number;
  /** The chunk had committed before this attempt (its ledger row exists). */
  skipped: boolean;
  exportedRows: number;
  importedRows: number;
  /** verify=checksum: the chunk's source digest, in the snapshot its export read. */
  digest?: string;
  bytes: number;
  attempt: number;
  /** Rows that earlier attempts of this chunk moved without committing. */
  reworkedRows: number;
}

/** Heartbeat details; the next attempt reads the last one to count reworked rows. */
export interface CopyChunkHeartbeat {
  rows: number;
  bytes: number;
  reworkedRows: number;
}

const HEARTBEAT_INTERVAL_MS = 2_000;

/**
 * The application_name prefix of a chunk's sessions, under the copy's own workflow and run tags
 * (attempt-fence.ts), so what fences the copy's backends (cleanup, gc, a lease takeover) fences
 * its chunks too: `pgferry/<workflow>/<run>/g<generation>c<chunk>`; without `chunk`, every
 * chunk of the generation (`...c`), without `generation` every chunk of the run (`.../g`).
 */
export function chunkSessions(copyId: string, generation?: number, chunk?: number): string {
  const slash = copyId.lastIndexOf('/');
  const prefix = `pgferry/${workflowTag(copyId.slice(0, slash))}/${runTag(copyId.slice(slash + 1))}/g`;
  if (generation === undefined) return prefix;
  return `${prefix}${generation}c${chunk ?? ''}`;
}

export function makeCopyChunk(databases: Databases, psqlPath: string | undefined) {
  return async function copyChunk(input: CopyChunkInput): Promise<CopyChunkResult> {
    const startedAt = Date.now();
    const context = Context.current();
    const { info } = context;
    if (!psqlPath || !findExecutable(psqlPath)) {
      throw failure(FailureType.PsqlNotFound, 'psql was not found on the worker PATH: install the PostgreSQL client');
    }
    const key = ledgerKey(input.copyId);
    const { n } = input.chunk;
    // A failed attempt heartbeats the rows it moved as it fails, and the SDK reports that last
    // heartbeat with the failure (sdk-core sends last_heartbeat_details in the failed response).
    const earlier = info.heartbeatDetails as Partial<CopyChunkHeartbeat> | undefined;
    const reworkedRows = (earlier?.reworkedRows ?? 0) + (earlier?.rows ?? 0);
    const ledger = () =>
      databases
        .withClient(input.target, (client) => committedChunk(client, key, input.generation, n))
        .catch((error: unknown) => {
          throw toFailure(error, 'import', 'reading the chunk ledger');
        });
    const skipped = (row: { exportedRows: number; importedRows: number; digest: string | null }) => ({
      n,
      skipped: true,
      exportedRows: row.exportedRows,
      importedRows: row.importedRows,
      ...(row.digest !== null ? { digest: row.digest } : {}),
      bytes: 0,
      attempt: info.attempt,
      reworkedRows,
    });
    const chunkTag = chunkSessions(input.copyId, input.generation, n);
    const appName = (side: string) => `${chunkTag}/a${info.attempt}/${side}`;
    // Three independent reads at once, each a round trip a chunk would otherwise wait for in turn:
    // the ledger, the chunk's range, and the fence of its earlier attempts (harmless to a chunk
    // the ledger then shows committed: its attempts have ended).
    const rangeRead = input.chunk.range
      ? Promise.resolve(input.chunk.range)
      : storedRange(databases, input.target, input.copyId, n);
    const fenced = databases
      .withClient(input.target, (client) => fenceBackends(client, `${chunkTag}/%`))
      .catch((error: unknown) => {
        throw toFailure(error, 'import', 'connecting to the target');
      });
    const [ledgerRead, rangeSettled, fenceSettled] = await Promise.allSettled([ledger(), rangeRead, fenced]);
    if (ledgerRead.status === 'rejected') throw ledgerRead.reason;
    if (ledgerRead.value) return skipped(ledgerRead.value);
    if (rangeSettled.status === 'rejected') throw rangeSettled.reason;
    if (fenceSettled.status === 'rejected') throw fenceSettled.reason;
    const range = rangeSettled.value;

    const sourceProfile = databases.profile(input.source);
    const targetProfile = databases.profile(input.target);
    let reader: pg.Client | undefined;
    const workDir = await makeWorkDir('chunk');
    try {
      // A reader of exactly the export's data, for the chunk's digest.
      let snapshotId = input.snapshotId;
      let digest: Promise<string | Error> | undefined;
      if (input.verify === 'checksum') {
        reader = await databases
          .connect(input.source, appName('digest'), SOURCE_READ_SETTINGS)
          .catch((error: unknown) => {
            throw toFailure(error, 'export', 'connecting to the source');
          });
        snapshotId = await readerSnapshot(reader, input.snapshotId);
        const query = `${rowDigestQuery(range.relation, input.columns)} WHERE ${rangeCondition(range)}`;
        digest = reader.query<{ digest: string }>(query).then(
          (result) => String(result.rows[0]!.digest),
          (error: unknown) => error as Error,
        );
      }
      const files = pipeFiles(workDir);
      const pipe = new CopyPipe({
        psqlPath,
        files,
        sampleProgress: () => sampleImportProgress(databases, input.target, appName('import')),
        stallTimeoutMs: input.stallTimeoutMs,
        deadlineAt: pipeDeadline(startedAt, info),
        cancelSignal: context.cancellationSignal,
        secrets: [...profileSecrets(sourceProfile), ...profileSecrets(targetProfile)],
        exportCommand: chunkExportCommand({
          profile: sourceProfile,
          applicationName: appName('export'),
          range,
          columns: input.columns,
          format: input.format,
          snapshotId,
          tagsFile: files.exportTags,
        }),
        importCommand: chunkImportCommand({
          profile: targetProfile,
          applicationName: appName('import'),
          staging: input.staging,
          columns: input.columns,
          format: input.format,
          lockTimeoutMs: 30_000,
          commitFifo: files.commitFifo,
        }),
        commitSql: async (exportedRows) => {
          const sum = await digest;
          if (sum instanceof Error) throw sum;
          return ledgerCommitSql(key, input.generation, n, exportedRows, sum);
        },
      });
      const started = Date.now();
      const beat = (moved: { rows: number; bytes: number } = pipe.progress()) => {
        context.heartbeat({ rows: moved.rows, bytes: moved.bytes, reworkedRows } satisfies CopyChunkHeartbeat);
      };
      const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
      beat();
      let piped;
      try {
        piped = await pipe.run();
      } catch (error) {
        if (context.cancellationSignal.aborted) throw error;
        // The next attempt counts what this one moved as reworked (its heartbeat details): the
        // pipe's figure at the moment it failed (its last sample and the import's own COPY tag).
        beat(error instanceof CopyPipeError ? { rows: error.rows, bytes: error.bytes } : undefined);
        // A stale attempt of this chunk may have committed first: then this one's commit failed.
        const committed = await ledger().catch(() => undefined);
        if (committed) return skipped(committed);
        if (!(error instanceof CopyPipeError)) throw toFailure(error, 'export', `chunk ${describeRange(range)}`);
        const classified = classifyPipeFailure(error, input.stallTimeoutMs);
        if (input.snapshotId && error.exportOutcome.sqlState === '22023') {
          throw failure(
            FailureType.SnapshotLost,
            `the copy's snapshot is gone: ${classified.message}`,
            classified.details,
          );
        }
        throw failure(classified.type, `${classified.message} (chunk ${describeRange(range)})`, classified.details);
      } finally {
        clearInterval(timer);
      }
      const sum = await digest;
      log.info('chunk committed', { chunk: n, rows: piped.importedRows, ms: Date.now() - started });
      return {
        n,
        skipped: false,
        exportedRows: piped.exportedRows,
        importedRows: piped.importedRows,
        ...(typeof sum === 'string' ? { digest: sum } : {}),
        bytes: pipe.progress().bytes,
        attempt: info.attempt,
        reworkedRows,
      };
    } finally {
      await reader?.end().catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    }
  };
}

/** The chunk's range from the copy's stored plan (src/db/chunk-plan.ts). */
async function storedRange(databases: Databases, target: string, copyId: string, n: number): Promise<ChunkRange> {
  const range = await databases
    .withClient(target, (client) => plannedRange(client, copyId, n))
    .catch((error: unknown) => {
      throw toFailure(error, 'import', 'reading the chunk plan');
    });
  // The plan goes when the copy ends: an attempt that outlived its copy has nothing to do.
  if (!range) throw failure(FailureType.InvalidCopySpec, `chunk ${n} is not in the copy's plan (the copy has ended)`);
  return range;
}

/**
 * Puts the digest reader in the snapshot the export will read: the copy's (snapshot
 * consistency) or a new one it exports for the export (chunk consistency).
 */
async function readerSnapshot(reader: pg.Client, copySnapshot: string | undefined): Promise<string> {
  try {
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (copySnapshot === undefined) {
      return (await reader.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    }
    if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(copySnapshot)) throw new Error('unexpected snapshot id');
    await reader.query(`SET TRANSACTION SNAPSHOT '${copySnapshot}'`);
    return copySnapshot;
  } catch (error) {
    if ((error as { code?: string }).code === '22023') {
      throw failure(FailureType.SnapshotLost, "the copy's snapshot is gone (its holder ended)");
    }
    throw toFailure(error, 'export', 'opening the chunk snapshot');
  }
}
