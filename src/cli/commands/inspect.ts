/** `pgferry status | list | cancel`: look at and stop runs; `list` filters by search attributes. */
import { Option, type Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { connectClient } from '../../client/connect.js';
import { failedAttempts, liveProgress } from '../../client/outcome.js';
import { namedFailure } from '../../shared/failure-chain.js';
import { formatBytes, formatCount } from '../../shared/format.js';
import { CliError } from '../cli-error.js';
import type { ChunkStats } from '../../shared/chunk-spec.js';
import { formatWindowRange, windowWarnings, type CopiedWindow } from '../../shared/incremental.js';
import { LIST_STATUSES, listCopies, type ListCopiesFilter, type ListStatus } from '../../client/list-copies.js';
import { parseTableName, TableNameError, type TableRef } from '../../shared/table-name.js';

async function withClient<T>(
  fn: (client: Awaited<ReturnType<typeof connectClient>>['client']) => Promise<T>,
): Promise<T> {
  const connected = await connectClient();
  try {
    return await fn(connected.client);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new CliError(`no such workflow: ${error.workflowId}`);
    throw error;
  } finally {
    await connected.close();
  }
}

export function registerInspectCommands(program: Command): void {
  program
    .command('status')
    .description('show a copy: status, phase, progress and every failed attempt with its type')
    .argument('<workflow-id>')
    .option('--json', 'print one JSON object on stdout')
    .action(async (workflowId: string, flags: { json?: boolean }) =>
      withClient(async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        const description = await handle.describe();
        const running = description.status.name === 'RUNNING';
        const progress = running ? await liveProgress(handle) : undefined;
        let result:
          | {
              rows?: number;
              bytes?: number;
              chunks?: ChunkStats;
              window?: CopiedWindow;
              cancelRequestedDuringPublish?: boolean;
            }
          | undefined;
        let failure: { type: string; message: string } | undefined;
        if (!running) {
          try {
            result = (await handle.result()) as NonNullable<typeof result>;
          } catch (error) {
            failure = namedFailure(error);
          }
        }
        const chunks = progress?.chunks ?? result?.chunks;
        const status = {
          workflowId,
          runId: description.runId,
          status: description.status.name,
          summary: (await description.staticSummary()) ?? undefined,
          phase: progress?.phase ?? (running ? 'starting' : 'done'),
          rows: progress?.rows ?? result?.rows,
          bytes: progress?.bytes ?? result?.bytes,
          startTime: description.startTime.toISOString(),
          closeTime: description.closeTime?.toISOString(),
          attempts: await failedAttempts(client, workflowId, description.runId),
          ...(chunks ? { chunks } : {}),
          ...(failure ? { failure } : {}),
          ...((progress?.window ?? result?.window) ? { window: progress?.window ?? result?.window } : {}),
          ...(result?.cancelRequestedDuringPublish ? { cancelRequestedDuringPublish: true, published: true } : {}),
        };
        if (flags.json) {
          console.log(JSON.stringify(status));
          return;
        }
        console.log(`${status.workflowId}  ${status.status}  ${status.summary ?? ''}`);
        console.log(
          `  phase ${status.phase}, ${formatCount(status.rows ?? 0)} rows, ${formatBytes(status.bytes ?? 0)}`,
        );
        if (chunks) {
          console.log(
            `  chunks ${chunks.done} of ${chunks.total} done, ${chunks.attempts} attempts, ` +
              `${formatCount(chunks.reworkedRows)} rows reworked`,
          );
        }
        if (status.window) {
          console.log(`  window ${formatWindowRange(status.window)}: ${formatCount(status.window.rows)} rows`);
          for (const warning of windowWarnings(status.window)) console.log(`  warning: ${warning}`);
        }
        for (const attempt of status.attempts) {
          console.log(
            `  ${attempt.activity} attempt ${attempt.attempt} failed: ${attempt.failureType}: ${attempt.message}`,
          );
        }
        if (failure) console.log(`  failed: ${failure.type}: ${failure.message}`);
        if (status.cancelRequestedDuringPublish) {
          console.log('  a cancel arrived after publish had begun: too late, the rows were published');
        }
      }),
    );

  program
    .command('cancel')
    .description('cancel a running copy; staging is dropped and the target keeps what it had')
    .argument('<workflow-id>')
    .action(async (workflowId: string) =>
      withClient(async (client) => {
        await client.workflow.getHandle(workflowId).cancel();
        console.error(`cancellation requested for ${workflowId}`);
      }),
    );

  program
    .command('list')
    .description('list copies, newest first, by source, target, target table and status (search attributes)')
    .option('--source <name>', 'only copies from this source profile')
    .option('--target <name>', 'only copies onto this target profile')
    .option('--table <[schema.]table>', 'only copies onto this target table (PostgreSQL quoting rules)')
    .addOption(
      new Option('--status <status>', 'only runs in this status; repeat for several')
        .choices(Object.keys(LIST_STATUSES))
        .argParser((value: string, previous: string[] = []) => {
          if (!(value in LIST_STATUSES)) {
            throw new CliError(
              `--status: unknown value "${value}" (expected ${Object.keys(LIST_STATUSES).join(', ')})`,
            );
          }
          return [...previous, value];
        }),
    )
    .option('--limit <n>', 'how many runs', '20')
    .option('--json', 'print a JSON array on stdout')
    .action(async (flags: ListFlags) => {
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new CliError(`--limit: "${flags.limit}" is not a positive whole number`);
      const filter: ListCopiesFilter = {
        source: flags.source?.toLowerCase(),
        target: flags.target?.toLowerCase(),
        table: flags.table === undefined ? undefined : tableFlag(flags.table),
        statuses: flags.status as ListStatus[] | undefined,
        limit,
      };
      await withClient(async (client) => {
        const runs = await listCopies(client, filter);
        if (flags.json) console.log(JSON.stringify(runs));
        else {
          for (const run of runs) {
            console.log(
              `${run.startTime}  ${run.status.padEnd(10)}  ${run.workflowId}  ${run.source ?? '?'} → ${run.target ?? '?'} (${run.mode ?? '?'})`,
            );
          }
        }
      });
    });
}

interface ListFlags {
  source?: string;
  target?: string;
  table?: string;
  status?: string[];
  limit: string;
  json?: boolean;
}

function tableFlag(value: string): TableRef {
  try {
    return parseTableName(value);
  } catch (error) {
    if (error instanceof TableNameError) throw new CliError(`--table: ${error.message}`);
    throw error;
  }
}
