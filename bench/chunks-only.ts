/**
 * `npm run bench:chunks -- [--rows N] [--rounds K] [--jobs N] [--chunk-rows N | --default-chunk-size]`: only the
 * chunked copy against the single-stream copy of the same table (issue 14's `--jobs` line of
 * `npm run bench`), alternating which goes first, plus where the chunked copy's time goes: each
 * chunk activity's queue wait, run time and the gap since the chunk before it completed, read
 * from the copy's batch histories. Progress and the figures go to stderr.
 */
import { Command } from 'commander';
import { phaseSeconds, type Ferry } from './ferry.js';
import { activitySpans, type ActivitySpan } from './history.js';
import { positiveInt } from './options.js';
import { median } from './report.js';
import { TABLE, type BenchWorld } from './world.js';
import { runCommand, withBenchFerry } from './command.js';

const options = new Command('bench:chunks')
  .option('--rows <n>', 'rows in the source table', positiveInt, 2_000_000)
  .option('--rounds <k>', 'rounds, each one single-stream and one chunked copy', positiveInt, 3)
  .option('--jobs <n>', '--jobs of the chunked copy', positiveInt, 1)
  .option('--chunk-rows <n>', 'rows per chunk (default: rows/10, as npm run bench)', positiveInt)
  .option('--default-chunk-size', "pgferry's own chunk size (about 1 GiB of heap) instead of rows/10")
  .parse()
  .opts<{ rows: number; rounds: number; jobs: number; chunkRows?: number; defaultChunkSize?: boolean }>();
const say = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** The copyChunk activities of a copy's whole workflow tree, each batch's in completion order. */
async function chunkSpans(ferry: Ferry, workflowId: string, runId?: string): Promise<ActivitySpan[][]> {
  const history = await ferry.server.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const own = activitySpans(events).filter((span) => span.type === 'copyChunk');
  const batches = own.length > 0 ? [own] : [];
  for (const event of events) {
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId) batches.push(...(await chunkSpans(ferry, child.workflowId, child.runId ?? undefined)));
  }
  return batches;
}

/** Both servers write out what the last copy left dirty, so each copy starts alike. */
async function settle(world: BenchWorld): Promise<void> {
  for (const side of ['source', 'target'] as const) await world.sql(side, 'postgres', 'CHECKPOINT');
}

const formatPhases = (result: Parameters<typeof phaseSeconds>[0]) =>
  Object.entries(phaseSeconds(result))
    .map(([phase, seconds]) => `${phase} ${seconds.toFixed(2)}`)
    .join(', ');

async function main(): Promise<void> {
  await withBenchFerry(options.rows, say, async (world, ferry) => {
    const chunkRows = options.defaultChunkSize
      ? undefined
      : (options.chunkRows ?? Math.max(1, Math.ceil(options.rows / 10)));
    const id = `F-c${options.jobs}`;
    const seconds: Record<string, number[]> = { F: [], [id]: [] };
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? ['F', id] : [id, 'F'];
      for (const variant of order) {
        await settle(world);
        const chunking =
          variant === 'F' ? {} : { chunking: { ...(chunkRows ? { chunkRows } : {}), jobs: options.jobs } };
        const copy = await ferry.copy({ source: 'source', target: 'target', table: TABLE, ...chunking });
        seconds[variant]!.push(copy.seconds);
        say(`round ${round} ${variant} ${copy.seconds.toFixed(2)} s (${formatPhases(copy.result)})`);
        if (variant === 'F') continue;
        for (const batch of await chunkSpans(ferry, copy.workflowId)) {
          let previous: number | undefined;
          for (const span of batch) {
            const gap = previous === undefined ? '' : `, ${(span.completedAt - previous).toFixed(0)} ms since the last`;
            say(
              `  chunk: wait ${(span.startedAt - span.scheduledAt).toFixed(0)} ms, ` +
                `run ${(span.completedAt - span.startedAt).toFixed(0)} ms${gap}`,
            );
            previous = span.completedAt;
          }
        }
      }
    }
    const f = median(seconds.F!);
    const c = median(seconds[id]!);
    say(
      `median F ${f.toFixed(2)} s, ${id} ${c.toFixed(2)} s: ${(c / f).toFixed(2)}x (${chunkRows ? `--chunk-rows ${chunkRows}` : 'default chunk size'})`,
    );
  });
}

await runCommand(main, say);
