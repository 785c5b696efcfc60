/**
 * copyTable: createStaging → exportImport → verifyCounts → publish, with staging dropped on
 * failure and cancellation. Deterministic workflow code: it sees activities only as types.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineQuery,
  log,
  patched,
  metricMeter,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ExportImportResult, PlanChunksResult } from '../activities/index.js';
import type { CopyPhase, CopyProgress, CopyTableInput, CopyTableResult } from '../src/shared/copy-spec.js';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../src/shared/failure-types.js';
import { formatBytes, formatCount } from '../src/shared/format.js';
import { formatTable, type TableRef } from '../src/shared/table-name.js';
import { copySummary, resolveCopyDefaults } from '../src/shared/copy-defaults.js';
import type { ChunkStats } from '../src/shared/chunk-spec.js';
import { DEFAULT_JOBS, plannedTotal } from '../src/shared/chunk-spec.js';
import { copyInChunks } from './copy-chunks.js';
import { cursorFindingsOf, formatWindow, type CopiedWindow, type CursorFindings } from '../src/shared/incremental.js';
import { parseDuration } from '../src/shared/duration.js';
import { pipeTaskQueue } from '../src/shared/task-queues.js';
import { copyMetrics, SCHEDULED_BY_ATTRIBUTE } from '../src/shared/metrics.js';
import { namedFailure } from '../src/shared/failure-chain.js';

/** Live progress of a copy, for `pgferry status` and `copy --wait`. */
export const progressQuery = defineQuery<CopyProgress>('progress');

function isFailureOfType(error: unknown, type: FailureType): boolean {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === type;
}

export async function copyTable(input: CopyTableInput): Promise<CopyTableResult> {
  const settings = resolveCopyDefaults(input);
  const targetTable: TableRef = input.targetTable ?? input.table;
  // Retries are bounded by time, not a count: a server restart or failover of a minute or two
  // is ridden out (retry window), and backoff stays short enough to notice the server is back.
  const retry = {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  };
  const copyBudgetMs = parseDuration(settings.copyTimeout) + settings.retryWindowMs;
  // Every activity that can run long heartbeats, so a lost worker is noticed at the heartbeat
  // timeout and the retry fences its backend (activities/attempt-fence.ts).
  const stagingRetry = {
    ...retry,
    // A manual copy is refused at once when another run holds the target; others wait.
    nonRetryableErrorTypes: [
      ...retry.nonRetryableErrorTypes,
      ...(input.onBusy === 'fail' ? [FailureType.TargetBusy] : []),
    ],
  };
  const { createStaging, planWindow } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: settings.heartbeatTimeout,
    scheduleToCloseTimeout: settings.retryWindowMs,
    retry: stagingRetry,
  });
  // An incremental run's first step as a local activity: a few catalog reads and one small target
  // transaction, run by this worker inside the workflow task, so no server round trip precedes
  // the pipe. A worker lost meanwhile is noticed at the workflow task timeout; the next worker
  // runs the step again (its lease is re-entrant and its session fences this attempt's).
  const { createStaging: createStagingLocally } = proxyLocalActivities<Activities>({
    startToCloseTimeout: '10m',
    scheduleToCloseTimeout: settings.retryWindowMs,
    retry: stagingRetry,
  });
  // Counting staging and moving it into the target scale with the table like the copy itself.
  const { verifyCounts, publish } = proxyActivities<Activities>({
    startToCloseTimeout: settings.copyTimeout,
    heartbeatTimeout: settings.heartbeatTimeout,
    scheduleToCloseTimeout: copyBudgetMs,
    retry,
  });
  // Pipes run on their own queue, where each worker takes at most PGFERRY_MAX_PIPES at once.
  const { exportImport } = proxyActivities<Activities>({
    taskQueue: pipeTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: settings.copyTimeout,
    heartbeatTimeout: settings.heartbeatTimeout,
    scheduleToCloseTimeout: copyBudgetMs,
    retry: { ...retry, ...(settings.maxAttempts ? { maximumAttempts: settings.maxAttempts } : {}) },
  });
  // Cleanup that cannot reach the target keeps trying for the retry window; after that the
  // lease still names the staging table, and the next copy of the table (or `pgferry gc`) drops it.
  const { dropStaging } = proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    heartbeatTimeout: settings.heartbeatTimeout,
    scheduleToCloseTimeout: settings.retryWindowMs,
    retry,
  });
  const { planChunks } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    scheduleToCloseTimeout: settings.retryWindowMs,
    retry,
  });

  const started = Date.now();
  const phaseDurationsMs: Partial<Record<CopyPhase, number>> = {};
  let progress: CopyProgress = { phase: 'starting', rows: 0, bytes: 0, attempt: 0 };
  setHandler(progressQuery, () => progress);
  const summary = copySummary(input);
  const metrics = copyMetrics(metricMeter, {
    source: input.source,
    target: input.target,
    schedule: workflowInfo().typedSearchAttributes.get(SCHEDULED_BY_ATTRIBUTE) ?? '',
  });
  async function phase<T>(name: CopyPhase, details: string, run: () => Promise<T>): Promise<T> {
    progress = { ...progress, phase: name };
    setCurrentDetails(`**${summary}**\n\nphase: **${name}**: ${details}`);
    const phaseStarted = Date.now();
    try {
      return await run();
    } finally {
      phaseDurationsMs[name] = (phaseDurationsMs[name] ?? 0) + Date.now() - phaseStarted;
      metrics.phase(name, Date.now() - phaseStarted);
    }
  }

  // Chunked copy: planned before anything starts, so a spec it refuses changes nothing. An
  // incremental window's chunks are planned by createStaging, once the window's low is known.
  const plan =
    patched('chunked-copy') && !input.incremental
      ? await phase('starting', 'planning chunks', () =>
          planChunks({
            source: input.source,
            target: input.target,
            copyId: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
            table: input.table,
            chunking: input.chunking ?? {},
          }),
        )
      : undefined;
  let chunks: ChunkStats | undefined;
  let generation = 0;

  let staging: TableRef | undefined;
  /** Set once the window is planned: what the plan found about the cursor column (windowWarnings). */
  let cursorFindings: CursorFindings = {};
  /** The window as results, status and the UI show it, with the plan's warnings. */
  const shown = (window: CopiedWindow): CopiedWindow => ({ ...window, ...cursorFindings });
  /** Nothing above the watermark: staging goes, the target and the watermark stay as they were. */
  async function emptyWindow(copiedWindow: CopiedWindow): Promise<CopyTableResult> {
    const window = shown(copiedWindow);
    const toDrop = staging!;
    await phase('cleanup', `empty window: dropping ${formatTable(toDrop)}`, () =>
      dropStaging({ target: input.target, staging: toDrop, targetTable }),
    );
    staging = undefined;
    progress = { ...progress, phase: 'done' };
    setCurrentDetails(`**${summary}**\n\ndone: nothing new, window ${formatWindow(window)} is empty`);
    return {
      rows: 0,
      bytes: 0,
      sourceRows: 0,
      attempts: progress.attempt,
      phaseDurationsMs: { ...phaseDurationsMs, done: Date.now() - started },
      targetTable,
      mode: input.mode,
      window,
    };
  }

  try {
    const incremental = input.incremental;
    // Since 'incremental-fewer-steps': createStaging plans the window and exportImport verifies
    // staging, so an incremental run is three activities (two round trips fewer than five).
    const fewerSteps = incremental ? patched('incremental-fewer-steps') : false;
    // Before anything is created: a bad cursor column is refused here, and the low end is read.
    const plannedAlone =
      incremental && !fewerSteps
        ? await phase('planWindow', `reading the watermark by ${incremental.column}`, () =>
            planWindow.executeWithOptions({ summary: `window by ${incremental.column}` }, [
              {
                source: input.source,
                target: input.target,
                sourceTable: input.table,
                targetTable,
                mode: input.mode,
                incremental,
              },
            ]),
          )
        : undefined;
    const staged = await phase(
      'createStaging',
      fewerSteps ? 'reading the watermark, checking schemas, creating staging' : 'checking schemas, creating staging',
      () =>
        (fewerSteps ? createStagingLocally : createStaging).executeWithOptions(
          { summary: `staging for ${input.target}:${formatTable(targetTable)}` },
          [
            {
              source: input.source,
              target: input.target,
              sourceTable: input.table,
              targetTable,
              mode: input.mode,
              ...(fewerSteps && incremental ? { incremental, chunking: input.chunking ?? {} } : {}),
            },
          ],
        ),
    );
    const planned = plannedAlone ?? staged.window;
    cursorFindings = planned ? cursorFindingsOf(planned) : {};
    // A window larger than a chunk is copied in chunks of the cursor's values (window-chunks.ts).
    const windowPlan: PlanChunksResult | undefined =
      incremental && staged.windowChunks ? { consistency: 'snapshot', total: staged.windowChunks } : undefined;
    const chunkPlan = plan ?? windowPlan;
    staging = staged.staging;
    const stagingTable = staged.staging;

    const copyChunks = async () => {
      const chunked = await copyInChunks({
        plan: chunkPlan!,
        source: input.source,
        target: input.target,
        table: input.table,
        staging: stagingTable,
        columns: staged.columns,
        format: settings.format,
        verify: settings.verify,
        stallTimeoutMs: settings.stallTimeoutMs,
        jobs: input.chunking?.jobs ?? DEFAULT_JOBS,
        copyTimeout: settings.copyTimeout,
        heartbeatTimeout: settings.heartbeatTimeout,
        ...(settings.maxAttempts ? { maxAttempts: settings.maxAttempts } : {}),
        budgetMs: copyBudgetMs,
        pipeTaskQueue: pipeTaskQueue(workflowInfo().taskQueue),
        firstGeneration: generation + 1,
        onProgress: (stats, totals) => {
          progress = { ...progress, chunks: stats, rows: totals.importedRows, bytes: totals.bytes };
          setCurrentDetails(
            `**${summary}**\n\nphase: **exportImport**: chunks ${stats.done} of ${stats.total} done, ` +
              `${formatCount(totals.importedRows)} rows, ${formatBytes(totals.bytes)}`,
          );
        },
      });
      chunks = chunked.chunks;
      generation = chunked.generation;
      return chunked;
    };
    // Above the chunk size the copy runs in chunks (copy-chunks.ts); below, as one stream.
    const pipeStep: Pick<typeof exportImport, 'executeWithOptions'> =
      chunkPlan && plannedTotal(chunkPlan) > 0 ? { executeWithOptions: () => copyChunks() } : exportImport;
    let copied: ExportImportResult | undefined;
    let attempts = 0;
    // A count mismatch earns exactly one re-copy: the data may have been caught mid-change.
    for (let round = 1; !copied; round++) {
      let result: ExportImportResult;
      try {
        result = await phase('exportImport', `psql pipe into ${formatTable(stagingTable)}`, () =>
          pipeStep.executeWithOptions(
            {
              summary: `${input.source}:${formatTable(input.table)} → staging ${formatTable(stagingTable)} (${settings.format})`,
            },
            [
              {
                source: input.source,
                target: input.target,
                sourceTable: input.table,
                staging: stagingTable,
                columns: staged.columns,
                selectForm: staged.selectForm,
                format: settings.format,
                verify: settings.verify,
                stallTimeoutMs: settings.stallTimeoutMs,
                ...(planned && incremental
                  ? { window: { column: incremental.column, type: planned.type, low: planned.low } }
                  : {}),
                ...(fewerSteps ? { verifyStaged: true } : {}),
              },
            ],
          ),
        );
      } catch (error) {
        // With fewerSteps the pipe step verified staging itself: its mismatch earns the re-copy.
        if (fewerSteps && round === 1 && isFailureOfType(error, FailureType.CountMismatch)) {
          log.warn('count mismatch, copying once more', { error: String(error) });
          continue;
        }
        throw error;
      }
      attempts += result.attempt;
      progress = {
        ...progress,
        rows: result.importedRows,
        bytes: result.bytes,
        sourceRows: result.sourceRows,
        attempt: attempts,
        ...(result.window ? { window: shown(result.window) } : {}),
      };
      // The chunked window's verifyCounts stays: it compares the chunks' sums with staging.
      if (result.window?.high === null || (fewerSteps && !windowPlan)) {
        copied = result;
        break;
      }
      try {
        await phase('verifyCounts', `${formatCount(result.importedRows)} rows, ${formatBytes(result.bytes)}`, () =>
          verifyCounts.executeWithOptions({ summary: `verify ${settings.verify}` }, [
            {
              target: input.target,
              staging: stagingTable,
              columns: staged.columns,
              verify: settings.verify,
              sourceRows: result.sourceRows,
              importedRows: result.importedRows,
              sourceDigest: result.sourceDigest,
            },
          ]),
        );
        copied = result;
      } catch (error) {
        if (round === 1 && isFailureOfType(error, FailureType.CountMismatch)) {
          log.warn('count mismatch, copying once more', { error: String(error) });
          continue;
        }
        throw error;
      }
    }

    // Publish is one transaction: once it has begun, a cancel cannot make it half done, and
    // reporting CANCELLED over a committed publish would be a lie. So publish runs to its end
    // and the run completes, saying the cancel came too late.
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled before publish');
    if (copied.window?.high === null) return await emptyWindow(copied.window);
    if (windowPlan && planned && incremental && copied.importedRows === 0) {
      return await emptyWindow({ column: incremental.column, low: planned.low, high: null, rows: 0 });
    }
    let window = copied.window && shown(copied.window);
    const into = `${input.mode} into ${input.target}:${formatTable(targetTable)}`;
    const published = await phase('publish', window ? `${into}, window ${formatWindow(window)}` : into, () =>
      CancellationScope.nonCancellable(() =>
        publish.executeWithOptions({ summary: `${input.mode} ${input.target}:${formatTable(targetTable)}` }, [
          {
            target: input.target,
            targetTable,
            staging: stagingTable,
            columns: staged.columns,
            primaryKey: staged.primaryKey,
            mode: input.mode,
            publishKey: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
            expectedRows: copied.importedRows,
            ...(staged.createTarget ? { createTarget: staged.createTarget } : {}),
            ...(planned && (window?.high || windowPlan)
              ? {
                  watermark: {
                    key: planned.key,
                    type: planned.type,
                    previous: planned.watermark,
                    // A chunked window's high: publish reads max(cursor) of staging.
                    ...(window?.high ? { high: window.high } : {}),
                  },
                }
              : {}),
          },
        ]),
      ),
    );
    if (windowPlan && planned && incremental) {
      window = shown({
        column: incremental.column,
        low: planned.low,
        high: published.high ?? null,
        rows: copied.importedRows,
      });
      progress = { ...progress, window };
    }
    const cancelRequestedDuringPublish = CancellationScope.current().consideredCancelled;
    if (cancelRequestedDuringPublish) log.warn('a cancel arrived while publish ran: the rows were published');
    progress = { ...progress, phase: 'done' };
    setCurrentDetails(
      `**${summary}**\n\ndone: ${formatCount(published.rows)} rows, ${formatBytes(copied.bytes)}` +
        (published.swapped ? ', staging swapped in for the target' : '') +
        (window ? `; window ${formatWindow(window)}` : ''),
    );
    metrics.completed(copied.importedRows, copied.bytes, Date.now() - started);
    return {
      rows: copied.importedRows,
      bytes: copied.bytes,
      sourceRows: copied.sourceRows,
      attempts,
      phaseDurationsMs: { ...phaseDurationsMs, done: Date.now() - started },
      targetTable,
      mode: input.mode,
      ...(chunks ? { chunks } : {}),
      ...(window ? { window } : {}),
      ...(cancelRequestedDuringPublish ? { cancelRequestedDuringPublish } : {}),
    };
  } catch (error) {
    metrics.failed(namedFailure(error).type, isCancellation(error), Date.now() - started);
    if (staging) {
      const toDrop = staging;
      // Cleanup must run even when the workflow itself is being cancelled.
      await CancellationScope.nonCancellable(() =>
        phase('cleanup', `dropping ${formatTable(toDrop)}`, () =>
          dropStaging({ target: input.target, staging: toDrop, targetTable }),
        ),
      ).catch((cleanupError: unknown) => {
        // Retried for the whole retry window: the target stayed unreachable. Its lease still
        // names the staging table, so the next copy of this table (or `pgferry gc`) drops it.
        const left = `${input.target}:${formatTable(toDrop)}`;
        log.error('could not drop staging', { staging: left, error: String(cleanupError) });
        setCurrentDetails(
          `**${summary}**

staging ${left} was left behind (target unreachable); ` +
            `the next copy of this table or \`pgferry gc --target ${input.target}\` drops it`,
        );
      });
    }
    throw error;
  }
}
