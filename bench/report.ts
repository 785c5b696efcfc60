/** Statistics, the printed table and the shape of results.json. */
import type { ReaderWait } from './reader-wait.js';
import type { WorkerRss } from './rss.js';
import type { IncrementalBench } from './incremental.js';
import type { ChunkedRound } from './chunked.js';
import type { PhaseSeconds } from './ferry.js';

export type MeasurementKind = 'variant' | 'reference' | 'publish';

/** One thing timed once per round. */
export interface Measurement {
  id: string;
  label: string;
  /** What the rows were loaded into, so comparisons can be judged fair. */
  loadsInto: string;
  kind: MeasurementKind;
  seconds: number[];
}

export interface Summary extends Measurement {
  median: number;
  min: number;
  max: number;
  /** median / median of the raw binary pipe (B). */
  ratioToRawBinary: number;
  /**
   * Median over rounds of this round's time / B's time in the same round. Each pair ran minutes
   * apart at most, so drift in the machine's speed over the run cancels out of it.
   */
  pairedRatioToRawBinary: number;
}

export interface TargetCheck {
  name: string;
  goal: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; memoryMB: number; loadBefore: number[]; loadAfter: number[]; uptime: string[] };
  tools: Record<string, string | undefined>;
  data: { rows: number; smallRows: number; tableBytes: number; textBytes: number; binaryBytes: number };
  rounds: number;
  measurements: Summary[];
  /** Median seconds per workflow phase of the whole copies (F). */
  copyPhases: Record<string, number>;
  rss: { inProcessPeakMB: number; inProcessBaselineMB: number; small: WorkerRss; large: WorkerRss; growthMB: number };
  emptyCopy: { warmupMs: number; runsMs: number[]; medianMs: number };
  /** The longest read on the target during a replace publish, swapping and moving rows. */
  readerWait: ReaderWait[];
  /** Issue 16: an incremental run after 1% changed, against a full copy of the same table. */
  incremental?: IncrementalBench;
  /** Issue 14: the chunked copies' settings and, per round, what each chunked copy reported. */
  chunked?: { chunkRows: number; splitBytes: number; exportKills: number; rounds: ChunkedRound[][] };
  targets: TargetCheck[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarise(measurements: readonly Measurement[], baselineId = 'B'): Summary[] {
  const baseline = measurements.find((m) => m.id === baselineId);
  const base = baseline ? median(baseline.seconds) : NaN;
  const paired = (m: Measurement) =>
    baseline ? median(m.seconds.map((seconds, round) => seconds / (baseline.seconds[round] ?? NaN))) : NaN;
  return measurements.map((m) => ({
    ...m,
    median: median(m.seconds),
    min: Math.min(...m.seconds),
    max: Math.max(...m.seconds),
    ratioToRawBinary: median(m.seconds) / base,
    pairedRatioToRawBinary: paired(m),
  }));
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/**
 * Measurement `id` against `baseId` of the same run: the ratio of medians, and the median of
 * per-round ratios (each pair ran in the same round, minutes apart at most).
 */
export function compare(
  measurements: readonly Measurement[],
  id: string,
  baseId: string,
): { ratio: number; paired: number; reading: string } {
  const m = measurements.find((entry) => entry.id === id);
  const base = measurements.find((entry) => entry.id === baseId);
  if (!m || !base) return { ratio: NaN, paired: NaN, reading: 'n/a' };
  const ratio = median(m.seconds) / median(base.seconds);
  const paired = median(m.seconds.map((seconds, round) => seconds / (base.seconds[round] ?? NaN)));
  return { ratio, paired, reading: `${fixed(ratio)}x (paired ${fixed(paired)}x)` };
}

/** The chunked copies' settings and chunk figures, one line each. */
function chunkedLines(results: BenchResults): string[] {
  const chunked = results.chunked;
  if (!chunked) return [];
  const vs = (id: string, baseId: string) => `${id} ${compare(results.measurements, id, baseId).reading} of ${baseId}`;
  const perId = new Map<string, ChunkedRound[]>();
  for (const round of chunked.rounds) for (const c of round) perId.set(c.id, [...(perId.get(c.id) ?? []), c]);
  return [
    `chunked copies (--chunk-rows ${chunked.chunkRows}; pgcopydb --split-tables-larger-than ${chunked.splitBytes} bytes): ` +
      [
        vs('F-c1', 'F'),
        vs('B-chunks', 'B-logged'),
        vs('F-c2', 'F'),
        vs('D-split', 'F'),
        vs('F-c2', 'D-split'),
        vs('F-c2-kill', 'F-c2'),
      ].join('; '),
    ...[...perId].map(([id, rounds]) => {
      const phases = [...new Set(rounds.flatMap((c) => Object.keys(c.phases)))] as (keyof PhaseSeconds)[];
      const medians = phases.map((p) => `${p} ${fixed(median(rounds.map((c) => c.phases[p] ?? 0)))}`);
      return `  ${id} phases (median s): ${medians.join(', ')}`;
    }),
    ...[...perId].map(
      ([id, rounds]) =>
        `  ${id} per round: ` +
        rounds
          .map(
            (c) =>
              `${c.total} chunks, ${c.attempts} attempts, ${c.reworkedRows} rows reworked` +
              (c.kills === undefined ? '' : `, ${c.kills} kills at ${(c.killedAtRows ?? []).join('/')} rows sent`),
          )
          .join(' | '),
    ),
  ];
}

/** The human-readable report. */
export function formatReport(results: BenchResults): string {
  const header = ['id', 'what', 'loads into', 'median s', 'min s', 'max s', 'x raw binary', 'paired'];
  const rows = results.measurements.map((m) => [
    m.id,
    m.label,
    m.loadsInto,
    fixed(m.median),
    fixed(m.min),
    fixed(m.max),
    fixed(m.ratioToRawBinary),
    fixed(m.pairedRatioToRawBinary),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const { data, rss, emptyCopy } = results;
  const out = [
    `pgferry bench: ${data.rows.toLocaleString('en')} rows, ${(data.textBytes / 1e6).toFixed(0)} MB as COPY text, ` +
      `${(data.binaryBytes / 1e6).toFixed(0)} MB as COPY binary, ${results.rounds} interleaved rounds`,
    `load average before ${results.machine.loadBefore.join(' ')}, after ${results.machine.loadAfter.join(' ')}` +
      ` (${results.machine.cpus} CPUs)`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `whole copy phases (median s): ${Object.entries(results.copyPhases)
      .map(([phase, s]) => `${phase} ${fixed(s)}`)
      .join(', ')}`,
    `idle worker RSS (compiled pgferry worker, ${fixed((rss.small.idleMs ?? 0) / 1000, 0)} s after ready): ` +
      `${fixed(rss.small.idleMB ?? Number.NaN, 0)} MB (${fixed(rss.small.readyMB, 0)} MB at ready)`,
    `worker RSS (pgferry worker subprocess, VmRSS sampled during the copy): ` +
      `${data.smallRows.toLocaleString('en')} rows ${fixed(rss.small.peakDuringCopyMB, 0)} MB, ` +
      `${data.rows.toLocaleString('en')} rows ${fixed(rss.large.peakDuringCopyMB, 0)} MB, growth ${fixed(rss.growthMB, 1)} MB; ` +
      `VmHWM ${fixed(rss.small.hwmMB, 0)} / ${fixed(rss.large.hwmMB, 0)} MB`,
    `bench process RSS during whole copies (in-process worker): peak ${fixed(rss.inProcessPeakMB, 0)} MB, ` +
      `before ${fixed(rss.inProcessBaselineMB, 0)} MB`,
    `empty-table copy through Temporal: median ${emptyCopy.medianMs} ms (runs ${emptyCopy.runsMs.join(', ')} ms; ` +
      `first ${emptyCopy.warmupMs} ms)`,
    `reader wait during publish (longest point query on the target): ${results.readerWait
      .map(
        (w) =>
          `${w.path === 'swap' ? 'swapping staging in' : 'moving rows'} ${w.longestReadMs} ms of a ${w.publishMs} ms publish`,
      )
      .join('; ')}`,
    ...chunkedLines(results),
    '"x raw binary" is median / median of B; "paired" is the median of per-round ratios to B.',
    '',
    'targets:',
    ...results.targets.map((t) => `  ${t.met ? 'met    ' : 'NOT met'}  ${t.name}: ${t.measured} (goal ${t.goal})`),
  ];
  return out.join('\n');
}

/** The issue's targets, checked against the measured medians. */
export function checkTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const by = (id: string) => results.measurements.find((m) => m.id === id);
  const ratio = (id: string) => by(id)?.ratioToRawBinary ?? NaN;
  const reading = (id: string) => `${fixed(ratio(id))}x (paired ${fixed(by(id)?.pairedRatioToRawBinary ?? NaN)}x)`;
  const fOverD = (by('F')?.median ?? NaN) / (by('D')?.median ?? NaN);
  const fOverTarget = (by('F')?.median ?? NaN) / (by('B-target')?.median ?? NaN);
  const eOverLogged = (by('E')?.median ?? NaN) / (by('B-logged')?.median ?? NaN);
  const bOverD = (by('B')?.median ?? NaN) / (by('D')?.median ?? NaN);
  const fOverDTarget = (by('F')?.median ?? NaN) / (by('D-target')?.median ?? NaN);
  const jobs1 = compare(results.measurements, 'F-c1', 'F');
  const faulted = compare(results.measurements, 'F-c2-kill', 'F-c2');
  const kills = (results.chunked?.rounds ?? []).flatMap((round) =>
    round.filter((c) => c.id === 'F-c2-kill').map((c) => c.kills ?? 0),
  );
  const allKills = kills.length > 0 && kills.every((k) => k === results.chunked?.exportKills);
  return [
    {
      name: 'chunked copy --jobs 1 (F-c1) vs single-stream copy of the same table (F)',
      goal: '<= 1.10x',
      measured: `${jobs1.reading}; raw psql | psql per chunk (B-chunks) ${compare(results.measurements, 'B-chunks', 'B-logged').reading} of one raw pipe (B-logged)`,
      met: jobs1.ratio <= 1.1,
    },
    {
      name: 'chunked copy --jobs 2 with 3 export kills (F-c2-kill) vs uninterrupted (F-c2)',
      goal: '<= 1.30x, 3 kills every round',
      measured: `${faulted.reading}; kills per round ${kills.join(', ') || 'none'}`,
      met: faulted.ratio <= 1.3 && allKills,
    },
    ...(results.incremental
      ? [
          {
            name: 'incremental run after 1% changed vs full copy of the same table (median of runs)',
            goal: '<= 5%',
            measured:
              `${fixed(results.incremental.ratio * 100, 1)}%; the same window by hand (psql | psql, same upsert) ` +
              `${fixed(results.incremental.rawRatio * 100, 1)}%`,
            met: results.incremental.ratio <= 0.05,
          },
        ]
      : []),
    {
      name: 'whole copy (F) vs raw binary pipe',
      goal: '<= 1.15x',
      measured: reading('F'),
      met: ratio('F') <= 1.15,
    },
    {
      name: "whole copy (F) vs raw binary into F's target shape, logged + PK (B-target)",
      goal: '<= 1.15x (same-work reading of the first target)',
      measured: `${fixed(fOverTarget)}x`,
      met: fOverTarget <= 1.15,
    },
    {
      name: 'exportImport alone (E) vs raw binary pipe',
      goal: '<= 1.05x',
      measured: reading('E'),
      met: ratio('E') <= 1.05,
    },
    {
      name: "exportImport alone (E) vs raw binary into E's staging shape, logged + FREEZE (B-logged)",
      goal: '<= 1.05x (same-work reading)',
      measured: `${fixed(eOverLogged)}x`,
      met: eOverLogged <= 1.05,
    },
    {
      name: 'whole copy (F) vs pgcopydb --table-jobs 1 (D)',
      goal: 'faster (< 1.00x)',
      measured: `${fixed(fOverD)}x; raw binary pipe ${fixed(bOverD)}x of pgcopydb`,
      met: fOverD < 1,
    },
    {
      name: "whole copy (F) vs pgcopydb into F's target shape, logged + PK (D-target)",
      goal: 'faster (< 1.00x) (same-work reading)',
      measured: `${fixed(fOverDTarget)}x`,
      met: fOverDTarget < 1,
    },
    {
      name: 'worker peak RSS growth, small to large copy',
      goal: '< 50 MB',
      measured: `${fixed(results.rss.growthMB, 1)} MB`,
      met: results.rss.growthMB < 50,
    },
    {
      name: 'idle worker RSS (compiled, after 25 s)',
      goal: '< 150 MB',
      measured: `${fixed(results.rss.small.idleMB ?? Number.NaN, 0)} MB`,
      met: (results.rss.small.idleMB ?? Number.POSITIVE_INFINITY) < 150,
    },
    {
      name: 'empty-table copy run time',
      goal: '< 1500 ms',
      measured: `${results.emptyCopy.medianMs} ms`,
      met: results.emptyCopy.medianMs < 1500,
    },
  ];
}
