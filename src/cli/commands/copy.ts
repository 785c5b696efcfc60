/** `pgferry copy`: start one copy (or a batch of tables), optionally wait with live progress. */
import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../../client/connect.js';
import { startBatch, startCopy } from '../../client/start-copy.js';
import { awaitRun, liveProgress, type CopyOutcome } from '../../client/outcome.js';
import type { CopyTablesResult } from '../../../workflows/copy-tables.js';
import type { CopyTableInput } from '../../shared/copy-spec.js';
import { formatBytes, formatCount, formatDuration } from '../../shared/format.js';
import { addCopyFlags, copyInputsFromFlags, type CopyFlags } from '../copy-options.js';
import { createProgressPrinter, progressLine } from '../progress-line.js';
import { CliError } from '../cli-error.js';
import { awaitStagingGate } from '../../client/staging-gate.js';
import type { Client } from '@temporalio/client';
import { formatWindow } from '../../shared/incremental.js';
import type { TemporalRetry } from '../../client/temporal-retry.js';

interface CopyCommandFlags extends CopyFlags {
  workflowId?: string;
  wait?: boolean;
  json?: boolean;
  concurrency: string;
}

async function showProgressUntil<T>(handle: WorkflowHandle, done: Promise<T>): Promise<T> {
  const printer = createProgressPrinter();
  const started = Date.now();
  const timer = setInterval(() => {
    void liveProgress(handle).then((progress) => {
      if (progress) printer.update(progressLine(progress, Date.now() - started));
    });
  }, 1000);
  try {
    return await done;
  } finally {
    clearInterval(timer);
    printer.done();
  }
}

function describeOutcome(outcome: CopyOutcome): string {
  const took = outcome.durationMs === undefined ? '' : ` in ${formatDuration(outcome.durationMs)}`;
  if (outcome.status === 'COMPLETED') {
    const window = outcome.window ? `, window ${formatWindow(outcome.window)}` : '';
    const late = outcome.cancelRequestedDuringPublish
      ? ' (the cancel arrived after publish had begun: too late, the rows were published)'
      : '';
    return `${outcome.workflowId}: COMPLETED: ${formatCount(outcome.rows ?? 0)} rows, ${formatBytes(outcome.bytes ?? 0)}${took}${window}${late}`;
  }
  const failure = outcome.failure ? `: ${outcome.failure.type}: ${outcome.failure.message}` : '';
  return `${outcome.workflowId}: ${outcome.status}${took}${failure}`;
}

async function copyOne(
  client: Client,
  input: CopyTableInput,
  flags: CopyCommandFlags,
  taskQueue: string,
  retry: TemporalRetry,
) {
  // A manual copy is refused at once when another run holds the target table.
  const handle = await startCopy(
    client,
    { ...input, onBusy: 'fail' },
    { taskQueue, workflowId: flags.workflowId, retry },
  );
  if (!flags.json) console.error(`started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
  if (!flags.wait && (await awaitStagingGate(handle)) === 'closed') {
    const { outcome } = await awaitRun(handle);
    if (flags.json) console.log(JSON.stringify(outcome));
    else console.error(describeOutcome(outcome));
    if (outcome.status !== 'COMPLETED') process.exitCode = 1;
    return;
  }
  if (!flags.wait) {
    if (flags.json) console.log(JSON.stringify({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }));
    return;
  }
  const run = awaitRun(handle, retry);
  const { outcome } = flags.json ? await run : await showProgressUntil(handle, run);
  if (flags.json) console.log(JSON.stringify(outcome));
  else console.error(describeOutcome(outcome));
  if (outcome.status !== 'COMPLETED') process.exitCode = 1;
}

async function copyBatch(
  client: Client,
  inputs: CopyTableInput[],
  flags: CopyCommandFlags,
  taskQueue: string,
  retry: TemporalRetry,
) {
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new CliError(`--concurrency: "${flags.concurrency}" is not a positive whole number`);
  }
  const handle = await startBatch(client, inputs, { taskQueue, concurrency, workflowId: flags.workflowId, retry });
  if (!flags.json) console.error(`started batch ${handle.workflowId} with ${inputs.length} tables`);
  if (!flags.wait) {
    if (flags.json) console.log(JSON.stringify({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }));
    return;
  }
  const run = await awaitRun<CopyTablesResult>(handle, retry);
  const { result } = run;
  const items = result?.results ?? [];
  const outcome: CopyOutcome = {
    ...run.outcome,
    rows: items.reduce((sum, item) => sum + (item.rows ?? 0), 0),
    bytes: items.reduce((sum, item) => sum + (item.bytes ?? 0), 0),
  };
  const failed = result ? result.failed > 0 : true;
  if (flags.json) console.log(JSON.stringify({ ...outcome, results: result?.results ?? [] }));
  else {
    for (const item of result?.results ?? []) {
      const detail =
        item.status === 'COMPLETED'
          ? `${formatCount(item.rows ?? 0)} rows, ${formatBytes(item.bytes ?? 0)}` +
            (item.window ? `, window ${formatWindow(item.window)}` : '')
          : `${item.failure?.type}: ${item.failure?.message}`;
      console.error(`${item.status.padEnd(9)}  ${item.summary}  ${detail}`);
    }
    console.error(
      describeOutcome(outcome) + (result ? ` (${result.completed} completed, ${result.failed} failed)` : ''),
    );
  }
  if (outcome.status !== 'COMPLETED' || failed) process.exitCode = 1;
}

export function registerCopyCommand(program: Command): void {
  addCopyFlags(program.command('copy'))
    .description('copy a table (or several: repeat --table) from one database to another through Temporal')
    .option('--workflow-id <id>', 'workflow id (default: pgferry:<target>:<schema>.<table>)')
    .option('--concurrency <n>', 'with several --table: how many tables copy at once', '2')
    .option('--wait', 'wait for the run to close, showing progress on stderr')
    .option('--json', 'print one JSON object with the outcome on stdout')
    .action(async (flags: CopyCommandFlags) => {
      const inputs = copyInputsFromFlags(flags);
      const connected = await connectClient();
      try {
        const { taskQueue } = connected.settings;
        if (inputs.length === 1) await copyOne(connected.client, inputs[0]!, flags, taskQueue, connected.retry);
        else await copyBatch(connected.client, inputs, flags, taskQueue, connected.retry);
      } finally {
        await connected.close();
      }
    });
}
