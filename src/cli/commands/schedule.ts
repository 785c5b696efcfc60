/** `pgferry schedule create | list | describe | update | pause | unpause | trigger | backfill | delete`. */
import { Option, type Command } from 'commander';
import type { Client } from '@temporalio/client';
import { connectClient } from '../../client/connect.js';
import {
  backfillCopySchedule,
  createCopySchedule,
  describeCopySchedule,
  formatInterval,
  InvalidScheduleSpecError,
  listCopySchedules,
  OVERLAP_POLICIES,
  ScheduleExistsError,
  ScheduleNotFoundError,
  triggerCopySchedule,
  type CopyScheduleInfo,
  type CopyScheduleTiming,
  type OverlapName,
} from '../../client/schedules.js';
import { durationFlagMs } from '../duration-flag.js';
import { addCopyFlags, copyInputsFromFlags, type CopyFlags } from '../copy-options.js';
import { registerUpdate } from './schedule-update.js';
import { CliError } from '../cli-error.js';
import { scheduleWatermark, watermarkLine } from '../schedule-watermark.js';

interface CreateFlags extends CopyFlags {
  cron?: string;
  every?: string;
  timezone?: string;
  overlap: OverlapName;
  catchupWindow?: string;
  jitter?: string;
  paused?: boolean;
  note?: string;
}

const OVERLAP_NAMES = Object.keys(OVERLAP_POLICIES) as OverlapName[];
export const overlapOption = (description: string) =>
  new Option('--overlap <policy>', description).choices(OVERLAP_NAMES);

export function timezone(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
  } catch {
    throw new CliError(`--timezone: unknown time zone "${value}" (an IANA name, e.g. Asia/Seoul or UTC)`);
  }
  return value;
}

function isoDate(value: string, flag: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new CliError(`${flag}: "${value}" is not an ISO date-time (e.g. 2025-01-31T00:00:00Z)`);
  }
  return date;
}

/** Connects, runs `fn`, and turns a missing schedule into one line. */
export async function withClient<T>(
  scheduleId: string | undefined,
  fn: (client: Client, taskQueue: string) => Promise<T>,
) {
  const connected = await connectClient();
  try {
    return await fn(connected.client, connected.settings.taskQueue);
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) throw new CliError(`no such schedule: ${scheduleId ?? ''}`);
    throw error;
  } finally {
    await connected.close();
  }
}

function printDescription(info: CopyScheduleInfo): void {
  const lines = [
    `${info.scheduleId}  ${info.paused ? 'PAUSED' : 'ACTIVE'}${info.note ? `  (${info.note})` : ''}`,
    `  spec      ${info.spec}, overlap ${info.overlap}, catch-up window ${formatInterval(info.catchupWindowMs)}`,
    `  copy      ${info.summary ?? '(no summary)'}`,
    `  workflow  ${info.workflowId ?? '?'}-<time> on task queue ${info.taskQueue ?? '?'}`,
    `  actions   ${info.actionsTaken} taken, ${info.actionsSkippedOverlap} skipped (overlap), ${info.actionsMissedCatchupWindow} missed (catch-up window)`,
    `  running   ${info.running.join(', ') || 'none'}`,
    `  next      ${info.paused ? '(paused) ' : ''}${info.nextRunTimes.slice(0, 5).join(', ') || 'none'}`,
    info.recentRuns.length ? '  last runs' : '  last runs none',
    ...info.recentRuns.map(
      (run) => `    ${run.scheduledAt}  ${run.status.padEnd(10)}  ${run.workflowId}${run.closeTime ? '' : ' (open)'}`,
    ),
  ];
  console.log(lines.join('\n'));
}

function registerCreate(schedule: Command): void {
  addCopyFlags(schedule.command('create'))
    .description('create a schedule that copies one table on a cron expression or a fixed interval')
    .argument('<schedule-id>', 'your name for the schedule, e.g. nightly-orders')
    .option('--cron <expr>', 'cron expression (5-7 fields or @daily etc.), e.g. "0 3 * * *"')
    .option('--every <duration>', 'fixed interval instead of --cron, e.g. 10s, 15m, 6h, 1d')
    .option('--timezone <zone>', 'IANA time zone for --cron (default UTC)')
    .addOption(overlapOption('when the previous copy still runs').default('skip'))
    .option('--catchup-window <duration>', 'how late a missed run may still start after an outage (default 1 year)')
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option('--paused', 'create the schedule paused')
    .option('--note <text>', 'a note shown by describe (e.g. why it is paused)')
    .action(async (scheduleId: string, flags: CreateFlags) => {
      if ((flags.cron === undefined) === (flags.every === undefined)) {
        throw new CliError('give exactly one of --cron EXPR or --every DURATION');
      }
      const timing: CopyScheduleTiming =
        flags.cron !== undefined ? { cron: flags.cron } : { everyMs: durationFlagMs(flags.every, '--every')! };
      const inputs = copyInputsFromFlags(flags);
      if (inputs.length !== 1) {
        throw new CliError(`a schedule copies a single --table (got ${inputs.length}): create one schedule per table`);
      }
      const options = {
        scheduleId,
        input: inputs[0]!,
        timing,
        timezone: timezone(flags.timezone),
        overlap: flags.overlap,
        catchupWindowMs: durationFlagMs(flags.catchupWindow, '--catchup-window'),
        jitterMs: durationFlagMs(flags.jitter, '--jitter'),
        paused: flags.paused,
        note: flags.note,
      };
      await withClient(scheduleId, async (client, taskQueue) => {
        try {
          await createCopySchedule(client, { ...options, taskQueue });
        } catch (error) {
          if (error instanceof ScheduleExistsError) throw new CliError(error.message);
          if (error instanceof InvalidScheduleSpecError) {
            const what = flags.cron !== undefined ? `--cron "${flags.cron}"` : 'schedule spec';
            throw new CliError(`${what}: ${error.message}`);
          }
          throw error;
        }
        const info = await describeCopySchedule(client, scheduleId);
        console.error(`created schedule ${scheduleId}: ${info.spec}: ${info.summary ?? ''}`);
        console.error(
          `next runs: ${info.nextRunTimes.slice(0, 3).join(', ') || 'none'}${info.paused ? ' (paused)' : ''}`,
        );
      });
    });
}

export function registerScheduleCommand(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('copy a table on a schedule (Temporal Schedules)')
    .showHelpAfterError('(run with --help for usage)');
  registerCreate(schedule);
  registerUpdate(schedule);

  schedule
    .command('list')
    .description('list the copy schedules')
    .option('--json', 'print a JSON array on stdout')
    .action(async (flags: { json?: boolean }) =>
      withClient(undefined, async (client) => {
        const entries = await listCopySchedules(client);
        if (flags.json) return console.log(JSON.stringify(entries));
        for (const entry of entries) {
          const state = entry.paused ? 'PAUSED' : 'ACTIVE';
          console.log(`${entry.scheduleId}  ${state}  ${entry.spec ?? ''}  ${entry.summary ?? ''}`);
        }
      }),
    );

  schedule
    .command('describe')
    .description('show a schedule: spec, copy, state, next run times and the last runs with their outcome')
    .argument('<schedule-id>')
    .option('--json', 'print one JSON object on stdout')
    .action(async (scheduleId: string, flags: { json?: boolean }) =>
      withClient(scheduleId, async (client) => {
        const info = await describeCopySchedule(client, scheduleId);
        const watermark = await scheduleWatermark(client, scheduleId);
        if (flags.json) console.log(JSON.stringify({ ...info, ...(watermark ? { watermark } : {}) }));
        else {
          printDescription(info);
          if (watermark) console.log(watermarkLine(watermark));
        }
      }),
    );

  for (const [name, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    schedule
      .command(name)
      .description(paused ? 'stop starting new runs (a running copy goes on)' : 'start runs again')
      .argument('<schedule-id>')
      .option('--note <text>', 'why, shown by describe')
      .action(async (scheduleId: string, flags: { note?: string }) =>
        withClient(scheduleId, async (client) => {
          const handle = client.schedule.getHandle(scheduleId);
          await (paused ? handle.pause(flags.note ?? 'paused with pgferry') : handle.unpause(flags.note ?? ''));
          console.error(`${paused ? 'paused' : 'unpaused'} ${scheduleId}`);
        }),
      );
  }

  schedule
    .command('trigger')
    .description("start a run now, under the schedule's overlap policy unless --overlap says otherwise")
    .argument('<schedule-id>')
    .addOption(overlapOption("overlap policy for this run (default: the schedule's)"))
    .action(async (scheduleId: string, flags: { overlap?: OverlapName }) =>
      withClient(scheduleId, async (client) => {
        await triggerCopySchedule(client, scheduleId, flags.overlap);
        console.error(`triggered ${scheduleId}`);
      }),
    );

  schedule
    .command('backfill')
    .description('take the runs the spec names in a past window, now')
    .argument('<schedule-id>')
    .requiredOption('--start <iso>', 'window start, e.g. 2025-01-01T00:00:00Z')
    .requiredOption('--end <iso>', 'window end')
    .addOption(overlapOption("overlap policy for these runs (default: the schedule's; buffer-all runs each in turn)"))
    .action(async (scheduleId: string, flags: { start: string; end: string; overlap?: OverlapName }) => {
      const start = isoDate(flags.start, '--start');
      const end = isoDate(flags.end, '--end');
      if (end <= start) throw new CliError('--end must be after --start');
      await withClient(scheduleId, async (client) => {
        await backfillCopySchedule(client, scheduleId, { start, end, overlap: flags.overlap });
        console.error(`backfill of ${scheduleId} from ${start.toISOString()} to ${end.toISOString()} requested`);
      });
    });

  schedule
    .command('delete')
    .description('delete a schedule (runs it started are not touched)')
    .argument('<schedule-id>')
    .action(async (scheduleId: string) =>
      withClient(scheduleId, async (client) => {
        await client.schedule.getHandle(scheduleId).delete();
        console.error(`deleted ${scheduleId}`);
      }),
    );
}
