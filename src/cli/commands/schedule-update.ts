/** `pgferry schedule update SCHEDULE_ID`: change a copy schedule's timing or copy flags in place. */
import type { Command } from 'commander';
import { describeCopySchedule, InvalidScheduleSpecError, type CopyScheduleTiming } from '../../client/schedules.js';
import { NotACopyScheduleError, updateCopySchedule } from '../../client/schedule-update.js';
import { COPY_FORMATS, COPY_MODES, VERIFY_MODES, type CopyTableInput } from '../../shared/copy-spec.js';
import { oneOf } from '../copy-options.js';
import { durationFlag, durationFlagMs } from '../duration-flag.js';
import { CliError } from '../cli-error.js';
import { incrementalProblem } from '../../shared/incremental.js';
import { overlapOption, timezone, withClient } from './schedule.js';
import type { OverlapName } from '../../client/schedules.js';

interface UpdateFlags {
  cron?: string;
  every?: string;
  timezone?: string;
  jitter?: string;
  overlap?: OverlapName;
  catchupWindow?: string;
  mode?: string;
  verify?: string;
  format?: string;
  copyTimeout?: string;
  heartbeatTimeout?: string;
  stallTimeout?: string;
  maxAttempts?: string;
}

/** The copy flags given, validated; applied over the schedule's current copy. */
function copyChanges(flags: UpdateFlags): ((current: CopyTableInput) => CopyTableInput) | undefined {
  const mode = flags.mode === undefined ? undefined : oneOf(flags.mode, COPY_MODES, '--mode');
  const verify = flags.verify === undefined ? undefined : oneOf(flags.verify, VERIFY_MODES, '--verify');
  const format = flags.format === undefined ? undefined : oneOf(flags.format, COPY_FORMATS, '--format');
  const maxAttempts = flags.maxAttempts === undefined ? undefined : Number(flags.maxAttempts);
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts > 0)) {
    throw new CliError(`--max-attempts: "${flags.maxAttempts}" is not a positive whole number`);
  }
  const timeouts = Object.fromEntries(
    Object.entries({
      copyTimeout: durationFlag(flags.copyTimeout, '--copy-timeout'),
      heartbeatTimeout: durationFlag(flags.heartbeatTimeout, '--heartbeat-timeout'),
      stallTimeout: durationFlag(flags.stallTimeout, '--stall-timeout'),
      maxAttempts,
    }).filter(([, value]) => value !== undefined),
  );
  const fields = Object.fromEntries(
    Object.entries({ mode, verify, format }).filter(([, value]) => value !== undefined),
  );
  if (Object.keys(fields).length === 0 && Object.keys(timeouts).length === 0) return undefined;
  return (current) => {
    const next = { ...current, ...fields, timeouts: { ...current.timeouts, ...timeouts } };
    // An incremental schedule keeps its cursor: a mode it cannot take is refused, not scheduled to fail.
    const problem = next.incremental && incrementalProblem(next.incremental, next.mode);
    if (problem) throw new CliError(problem);
    return next;
  };
}

export function registerUpdate(schedule: Command): void {
  schedule
    .command('update')
    .description("change a schedule's timing or copy flags in place (source, target and table stay)")
    .argument('<schedule-id>')
    .option('--cron <expr>', 'new cron expression, e.g. "30 2 * * *"')
    .option('--every <duration>', 'new fixed interval instead, e.g. 15m, 6h, 1d')
    .option('--timezone <zone>', 'IANA time zone for the cron expression')
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .addOption(overlapOption('when the previous copy still runs'))
    .option('--catchup-window <duration>', 'how late a missed run may still start after an outage')
    .option('--mode <mode>', `how to publish: ${COPY_MODES.join(' | ')}`)
    .option('--verify <how>', `check after the copy: ${VERIFY_MODES.join(' | ')}`)
    .option('--format <format>', `COPY format: ${COPY_FORMATS.join(' | ')}`)
    .option('--copy-timeout <duration>', 'start-to-close of the data copy, e.g. 2h')
    .option('--heartbeat-timeout <duration>', 'heartbeat timeout of the data copy, e.g. 30s')
    .option('--stall-timeout <duration>', 'fail the attempt when no bytes move for this long, e.g. 60s')
    .option('--max-attempts <n>', 'attempts of the data copy before the run fails')
    .action(async (scheduleId: string, flags: UpdateFlags) => {
      if (flags.cron !== undefined && flags.every !== undefined) throw new CliError('give --cron or --every, not both');
      const timing: CopyScheduleTiming | undefined =
        flags.cron !== undefined
          ? { cron: flags.cron }
          : flags.every !== undefined
            ? { everyMs: durationFlagMs(flags.every, '--every')! }
            : undefined;
      const options = {
        timing,
        timezone: timezone(flags.timezone),
        jitterMs: durationFlagMs(flags.jitter, '--jitter'),
        overlap: flags.overlap,
        catchupWindowMs: durationFlagMs(flags.catchupWindow, '--catchup-window'),
        input: copyChanges(flags),
      };
      if (Object.values(options).every((value) => value === undefined)) {
        throw new CliError('nothing to change: give a timing flag (--cron, --every, ...) or a copy flag (--mode, ...)');
      }
      await withClient(scheduleId, async (client) => {
        try {
          await updateCopySchedule(client, scheduleId, options);
        } catch (error) {
          if (error instanceof NotACopyScheduleError) throw new CliError(error.message);
          if (error instanceof InvalidScheduleSpecError) throw new CliError(`schedule spec: ${error.message}`);
          throw error;
        }
        const info = await describeCopySchedule(client, scheduleId);
        console.error(`updated schedule ${scheduleId}: ${info.spec}, overlap ${info.overlap}: ${info.summary ?? ''}`);
        console.error(
          `next runs: ${info.nextRunTimes.slice(0, 3).join(', ') || 'none'}${info.paused ? ' (paused)' : ''}`,
        );
      });
    });
}
