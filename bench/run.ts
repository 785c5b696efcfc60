/**
 * `npm run bench -- [--rows N] [--rounds K] [--chunk-rows N] [--json] [--out DIR]` (issue 6): pgferry
 * against a raw psql pipe (text and binary), pg_dump | psql and pgcopydb, interleaved on the same
 * data, with issue 14's chunked copies (chunked.ts) in the same rounds, plus worker RSS at two
 * sizes and an empty-table copy. Writes results.json and chart.svg.
 * Progress and the table go to stderr; with --json the results object goes to stdout as its last
 * line (the Temporal CLI writes a banner to the stdout it inherits).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { positiveInt } from './options.js';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { execa } from 'execa';
import { findPsql } from '../src/pipe/launcher.js';
import { renderChart } from './chart.js';
import { startFerry, type Ferry } from './ferry.js';
import { checkTargets, formatReport, median, summarise, type BenchResults, type Measurement } from './report.js';
import { EXPORT_KILLS } from './chunked.js';
import { measureReaderWait } from './reader-wait.js';
import { measureIncremental } from './incremental.js';
import { measureWorkerSubprocess } from './rss.js';
import { TEXT_SIZE_SCRIPT, timeScript, toolVersion } from './shell.js';
import { MEASUREMENTS, runRound, type RoundExtras } from './variants.js';
import { EMPTY_TABLE, TABLE, createBenchWorld, prepareData, type BenchWorld } from './world.js';
import { runCommand, tearDown } from './command.js';

const RSS_TASK_QUEUE = 'pgferry-bench-rss';

const program = new Command('bench')
  .option('--rows <n>', 'rows in the source table', positiveInt, 2_000_000)
  .option('--rounds <k>', 'interleaved rounds', positiveInt, 3)
  .option('--chunk-rows <n>', 'rows per chunk of the chunked copies (default: rows/10, about 10 chunks)', positiveInt)
  .option('--rss-small-rows <n>', 'rows of the small RSS-check copy (default: min(200000, rows/10))', positiveInt)
  .option('--json', 'print results.json to stdout')
  .option('--out <dir>', 'directory for results.json and chart.svg', 'bench-results')
  .parse();
const options = program.opts<{
  rows: number;
  rounds: number;
  chunkRows?: number;
  rssSmallRows?: number;
  json?: boolean;
  out: string;
}>();
const say = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** One line per worker warning: each killed chunk export's "Activity failed" would print a stack. */
function compactLog(entry: LogEntry): void {
  const meta = (entry.meta ?? {}) as { activityType?: unknown; workflowId?: unknown; error?: unknown };
  const where = [meta.activityType, meta.workflowId].filter((part) => typeof part === 'string').join(' ');
  const error = meta.error instanceof Error ? `: ${meta.error.message}` : '';
  process.stderr.write(`bench: [${entry.level}] ${entry.message}${where ? ` (${where})` : ''}${error}\n`);
}

async function uptime(): Promise<string> {
  return (await execa('uptime', [], { reject: false })).stdout.trim();
}

async function requireTools(): Promise<Record<string, string | undefined>> {
  const tools = {
    psql: await toolVersion('psql', ['--version']),
    pg_dump: await toolVersion('pg_dump', ['--version']),
    pgcopydb: await toolVersion('pgcopydb', ['--version']),
    node: process.version,
  };
  if (!tools.psql || !tools.pg_dump) throw new Error('psql and pg_dump must be on PATH: install postgresql-client');
  if (!tools.pgcopydb) {
    throw new Error('pgcopydb is not installed: apt-get update && apt-get install -y pgcopydb (variant D needs it)');
  }
  return tools;
}

async function emptyCopies(ferry: Ferry, runs: number): Promise<BenchResults['emptyCopy']> {
  const once = async () =>
    Math.round((await ferry.copy({ source: 'source_small', target: 'target', table: EMPTY_TABLE })).seconds * 1000);
  const warmupMs = await once();
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) runsMs.push(await once());
  return { warmupMs, runsMs, medianMs: median(runsMs) };
}

/** How long the first RSS-check worker idles before its idle VmRSS is read (issue 15: `pgferry worker` idle 25 s). */
const IDLE_MS = 25_000;

async function rssCheck(world: BenchWorld, ferry: Ferry, rows: number, smallRows: number) {
  const measure = (rowsCopied: number, source: string, target: string, idleMs?: number) =>
    measureWorkerSubprocess(
      { address: ferry.server.address, taskQueue: RSS_TASK_QUEUE, profiles: world.profiles, rows: rowsCopied, idleMs },
      async () => {
        const { result } = await ferry.copy(
          { source, target: 'target', table: TABLE, targetTable: { schema: 'public', table: target } },
          RSS_TASK_QUEUE,
        );
        if (result.rows !== rowsCopied) throw new Error(`RSS copy moved ${result.rows} rows, expected ${rowsCopied}`);
      },
    );
  const small = await measure(smallRows, 'source_small', 'rss_small', IDLE_MS);
  say(`  worker subprocess idle ${IDLE_MS / 1000} s: ${small.idleMB?.toFixed(0)} MB`);
  say(`  worker subprocess, ${smallRows} rows: peak ${small.peakDuringCopyMB.toFixed(0)} MB`);
  const large = await measure(rows, 'source', 'rss_large');
  say(`  worker subprocess, ${rows} rows: peak ${large.peakDuringCopyMB.toFixed(0)} MB`);
  return { small, large, growthMB: large.peakDuringCopyMB - small.peakDuringCopyMB };
}

async function main(): Promise<void> {
  // The in-process worker's state changes and bundling notes would bury the bench's own lines.
  Runtime.install({ logger: new DefaultLogger('WARN', compactLog) });
  const startedAt = new Date().toISOString();
  const uptimes = [await uptime()];
  const loadBefore = loadavg().map((l) => Number(l.toFixed(2)));
  const tools = await requireTools();
  const psqlPath = findPsql()!;
  const smallRows = options.rssSmallRows ?? Math.min(200_000, Math.max(1, Math.floor(options.rows / 10)));
  say(`${uptimes[0]}`);
  const world = await createBenchWorld(say);
  let ferry: Ferry | undefined;
  try {
    say(`generating ${options.rows} rows (and ${smallRows} for the RSS check)`);
    const facts = await prepareData(world, options.rows, smallRows);
    const sizeEnv = { ...world.toolEnv, SRC: world.uri('source', 'bench'), SRC_TABLE: 'public.bench_rows' };
    const textBytes = Number((await timeScript('COPY TO STDOUT | wc -c', TEXT_SIZE_SCRIPT, sizeEnv)).stdout.trim());
    say(
      `source: ${facts.rows} rows, ${(textBytes / 1e6).toFixed(0)} MB as COPY text, ${(facts.tableBytes / 1e6).toFixed(0)} MB on disk`,
    );
    say('starting the Temporal dev server and an in-process worker');
    ferry = await startFerry(world.profiles, psqlPath);

    const chunkRows = options.chunkRows ?? Math.max(1, Math.ceil(facts.rows / 10));
    // pgcopydb cuts a table into size / threshold parts: about as many as pgferry's chunks.
    const splitBytes = Math.max(1, Math.ceil(facts.heapBytes / Math.max(1, Math.round(facts.rows / chunkRows))));
    say(`chunked copies: --chunk-rows ${chunkRows}; pgcopydb --split-tables-larger-than ${splitBytes} bytes`);
    const seconds = new Map<string, number[]>(MEASUREMENTS.map((m) => [m.id, []]));
    const extras: RoundExtras[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      say(`round ${round} of ${options.rounds} (load ${loadavg()[0]!.toFixed(2)})`);
      const result = await runRound({ world, ferry, rows: facts.rows, chunkRows, splitBytes, say });
      for (const [id, value] of result.seconds) seconds.get(id)!.push(value);
      extras.push(result.extras);
    }
    say('empty-table copies through Temporal');
    const emptyCopy = await emptyCopies(ferry, Math.max(3, options.rounds));
    say('reader wait during publish: swap, then moving rows');
    const readerWait = await measureReaderWait(world, ferry);
    say('incremental: a run after 1% of the rows changed, against a full copy of the same table');
    const incremental = await measureIncremental(world, ferry);
    const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
    say(
      `  full copy ${incremental.fullSeconds.toFixed(2)} s, incremental (${incremental.changedRows} rows, median of ` +
        `${incremental.runs.length}) ${incremental.incrementalSeconds.toFixed(2)} s: ${percent(incremental.ratio)} ` +
        `(goal <= 5%); the same window by hand ${incremental.rawSeconds.toFixed(2)} s: ${percent(incremental.rawRatio)}`,
    );
    say(`RSS check: a fresh \`pgferry worker\` subprocess per copy size`);
    const rss = await rssCheck(world, ferry, facts.rows, smallRows);

    uptimes.push(await uptime());
    const measurements: Measurement[] = MEASUREMENTS.map((m) => ({ ...m, seconds: seconds.get(m.id)! }));
    const phases = [...new Set(extras.flatMap((e) => Object.keys(e.phases)))] as (keyof RoundExtras['phases'])[];
    const partial: Omit<BenchResults, 'targets'> = {
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        memoryMB: Math.round(totalmem() / 1048576),
        loadBefore,
        loadAfter: loadavg().map((l) => Number(l.toFixed(2))),
        uptime: uptimes,
      },
      tools,
      data: {
        rows: facts.rows,
        smallRows,
        tableBytes: facts.tableBytes,
        textBytes,
        binaryBytes: extras[0]!.binaryBytes,
      },
      rounds: options.rounds,
      measurements: summarise(measurements),
      copyPhases: Object.fromEntries(phases.map((p) => [p, median(extras.map((e) => e.phases[p] ?? 0))])),
      rss: {
        inProcessPeakMB: Math.max(...extras.map((e) => e.rssPeakMB)),
        inProcessBaselineMB: Math.min(...extras.map((e) => e.rssBeforeMB)),
        ...rss,
      },
      emptyCopy,
      readerWait,
      incremental,
      chunked: { chunkRows, splitBytes, exportKills: EXPORT_KILLS, rounds: extras.map((e) => e.chunked) },
    };
    const results: BenchResults = { ...partial, targets: checkTargets(partial) };
    const out = resolve(options.out);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(out, 'chart.svg'), renderChart(results));
    process.stderr.write(
      `\n${formatReport(results)}\n\nwrote ${join(out, 'results.json')} and ${join(out, 'chart.svg')}\n`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  } finally {
    await tearDown(ferry, world, say);
  }
}

await runCommand(main, say);
