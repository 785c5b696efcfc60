/**
 * `npm run bench:incremental -- [--rows N] [--runs K] [--scattered]`: only issue 16's bench line
 * (see incremental.ts), without the other variants, plus where the incremental run's time goes:
 * each activity's schedule-to-start (queue wait) and start-to-close, read from the run's history.
 * `--runs K` repeats the 1%-change-then-incremental step K times after the one full copy and
 * reports each ratio and their median; `--scattered` changes another 1% each time (incremental.ts,
 * ChangedRows). Progress and the figures go to stderr. A local activity (an incremental run's
 * createStaging) has no scheduled/started events: its time is inside the "scheduled at" of the
 * activity after it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { positiveInt } from './options.js';
import type { Ferry } from './ferry.js';
import { changeStatements, incrementalRun, measureIncremental, type IncrementalRun } from './incremental.js';
import { activitySpans, millis } from './history.js';
import { median } from './report.js';
import type { BenchWorld } from './world.js';
import { runCommand, withBenchFerry } from './command.js';

/** Makes both servers log every statement's duration and every connection; returns each log's length now. */
async function startStatementLog(world: BenchWorld): Promise<number[]> {
  const sizes: number[] = [];
  for (const side of ['source', 'target'] as const) {
    await world.sql(side, 'postgres', 'ALTER SYSTEM SET log_min_duration_statement = 0');
    await world.sql(side, 'postgres', "ALTER SYSTEM SET log_line_prefix = '%m [%p] %a '");
    await world.sql(side, 'postgres', 'ALTER SYSTEM SET log_connections = on');
    await world.sql(side, 'postgres', 'SELECT pg_reload_conf()');
    sizes.push((await readFile(join(dirname(world[side].dataDir), 'server.log'), 'utf8')).length);
  }
  return sizes;
}

/** The statements logged since `sizes` at or above `atLeastMs`. */
async function loggedStatements(world: BenchWorld, sizes: number[], atLeastMs: number): Promise<string[]> {
  const lines: string[] = [];
  for (const [i, side] of (['source', 'target'] as const).entries()) {
    const log = (await readFile(join(dirname(world[side].dataDir), 'server.log'), 'utf8')).slice(sizes[i]);
    for (const line of log.split('\n')) {
      const ms = /duration: ([\d.]+) ms/.exec(line);
      if ((ms && Number(ms[1]) >= atLeastMs) || /connection (received|authorized)/.test(line))
        lines.push(`${side}: ${line.slice(0, 400)}`);
    }
  }
  return lines;
}

const options = new Command('bench:incremental')
  .option('--rows <n>', 'rows in the source table', positiveInt, 2_000_000)
  .option('--runs <k>', 'incremental runs after the full copy, each after another 1% changed', positiveInt, 3)
  .option('--scattered', 'each change touches another 1% of the rows, spread over the table, instead of the same 1%')
  .option(
    '--log-statements <ms>',
    'after the last run, list the statements both servers logged at or above ms, and every connection (when each psql connected)',
    Number,
  )
  .parse()
  .opts<{ rows: number; runs: number; scattered?: boolean; logStatements?: number }>();
const say = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** One line per activity: queue wait and run time, and the workflow's own overhead around them. */
async function activityTimings(ferry: Ferry, workflowId: string): Promise<string[]> {
  const history = await ferry.server.env.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const lines = activitySpans(events).map(
    (span) =>
      `${span.type.padEnd(16)} scheduled at ${span.scheduledAt.toFixed(0).padStart(5)} ms, ` +
      `wait ${(span.startedAt - span.scheduledAt).toFixed(0).padStart(4)} ms, ` +
      `run ${(span.completedAt - span.startedAt).toFixed(0).padStart(5)} ms`,
  );
  const completed = events.find((event) => event.workflowExecutionCompletedEventAttributes);
  if (completed) {
    const at = millis(completed.eventTime) - millis(events[0]?.eventTime);
    lines.push(`workflow completed at ${at.toFixed(0)} ms (${events.length} events)`);
  }
  return lines;
}

async function main(): Promise<void> {
  await withBenchFerry(options.rows, say, async (world, ferry) => {
    const nextChange = changeStatements(options.scattered ? 'scattered' : 'same');
    const first = await measureIncremental(world, ferry, 1, nextChange);
    const percent = (seconds: number) => `${((seconds / first.fullSeconds) * 100).toFixed(1)}%`;
    const report = async (run: number, measured: IncrementalRun) => {
      say(
        `incremental run ${run} (${measured.rows} rows) ${measured.seconds.toFixed(3)} s: ${percent(measured.seconds)}; ` +
          `the same window by hand ${measured.rawSeconds.toFixed(3)} s: ${percent(measured.rawSeconds)}`,
      );
      for (const line of await activityTimings(ferry, measured.workflowId)) say(`  ${line}`);
    };
    say(`full copy ${first.fullSeconds.toFixed(2)} s`);
    await report(1, first.runs[0]!);
    const runs = [first.runs[0]!];
    for (let run = 2; run <= options.runs; run++) {
      const sizes =
        run === options.runs && options.logStatements !== undefined ? await startStatementLog(world) : undefined;
      const again = await incrementalRun(world, ferry, nextChange);
      runs.push(again);
      await report(run, again);
      if (sizes) for (const line of await loggedStatements(world, sizes, options.logStatements!)) say(`  ${line}`);
    }
    say(
      `median over ${runs.length} runs: ${percent(median(runs.map((r) => r.seconds)))} (goal <= 5%); ` +
        `by hand ${percent(median(runs.map((r) => r.rawSeconds)))}`,
    );
  });
}

await runCommand(main, say);
