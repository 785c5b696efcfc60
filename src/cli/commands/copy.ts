/** `pgferry copy`: start one copy (or a batch), optionally wait with live progress. */
import type { Command } from 'commander';
import { connectClient } from '../../client/connect.js';
import { startCopy } from '../../client/start-copy.js';
import { awaitOutcome, liveProgress, type CopyOutcome } from '../../client/outcome.js';
import { formatBytes, formatCount, formatDuration } from '../../shared/format.js';
import { addCopyFlags, copyInputsFromFlags, type CopyFlags } from '../copy-options.js';
import { createProgressPrinter, progressLine } from '../progress-line.js';
import { CliError } from '../cli-error.js';
import type { WorkflowHandle } from '@temporalio/client';

interface CopyCommandFlags extends CopyFlags {
  workflowId?: string;
  wait?: boolean;
  json?: boolean;
}

async function waitWithProgress(handle: WorkflowHandle, showProgress: boolean): Promise<CopyOutcome> {
  const printer = createProgressPrinter();
  const started = Date.now();
  const timer = showProgress
    ? setInterval(() => {
        void liveProgress(handle).then((progress) => {
          if (progress) printer.update(progressLine(progress, Date.now() - started));
        });
      }, 1000)
    : undefined;
  try {
    return await awaitOutcome(handle);
  } finally {
    if (timer) clearInterval(timer);
    printer.done();
  }
}

function describeOutcome(outcome: CopyOutcome): string {
  const took = outcome.durationMs === undefined ? '' : ` in ${formatDuration(outcome.durationMs)}`;
  if (outcome.status === 'COMPLETED') {
    return `${outcome.workflowId}: COMPLETED: ${formatCount(outcome.rows ?? 0)} rows, ${formatBytes(outcome.bytes ?? 0)}${took}`;
  }
  const failure = outcome.failure ? `: ${outcome.failure.type}: ${outcome.failure.message}` : '';
  return `${outcome.workflowId}: ${outcome.status}${took}${failure}`;
}

export function registerCopyCommand(program: Command): void {
  addCopyFlags(program.command('copy'))
    .description('copy a table from one database to another through a copyTable workflow')
    .option('--workflow-id <id>', 'workflow id (default: pgferry:<target>:<schema>.<table>)')
    .option('--wait', 'wait for the run to close, showing progress on stderr')
    .option('--json', 'with --wait: print one JSON object with the outcome on stdout')
    .action(async (flags: CopyCommandFlags) => {
      const inputs = copyInputsFromFlags(flags);
      if (flags.workflowId && inputs.length > 1) throw new CliError('--workflow-id works with a single --table');
      const connected = await connectClient();
      const { client, settings } = connected;
      try {
        const handles = [];
        for (const input of inputs) {
          const handle = await startCopy(client, input, {
            taskQueue: settings.taskQueue,
            workflowId: flags.workflowId,
          });
          handles.push(handle);
          if (!flags.json) console.error(`started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        }
        if (!flags.wait) {
          if (flags.json)
            console.log(
              JSON.stringify(handles.map((h) => ({ workflowId: h.workflowId, runId: h.firstExecutionRunId }))),
            );
          return;
        }
        const outcomes = await Promise.all(
          handles.map((handle) => waitWithProgress(handle, !flags.json && handles.length === 1)),
        );
        if (flags.json) console.log(JSON.stringify(outcomes.length === 1 ? outcomes[0] : outcomes));
        else for (const outcome of outcomes) console.error(describeOutcome(outcome));
        if (outcomes.some((outcome) => outcome.status !== 'COMPLETED')) process.exitCode = 1;
      } finally {
        await connected.close();
      }
    });
}
