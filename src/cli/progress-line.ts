/** The live progress line of `copy --wait`: rows, bytes, rate and ETA on stderr. */
import type { CopyProgress } from '../shared/copy-spec.js';
import { formatBytes, formatCount, formatDuration } from '../shared/format.js';

export function progressLine(progress: CopyProgress, elapsedMs: number): string {
  const parts = [`${progress.phase}`, `${formatCount(progress.rows)} rows`, formatBytes(progress.bytes)];
  if (progress.bytesPerSecond) parts.push(`${formatBytes(progress.bytesPerSecond)}/s`);
  const totalRows = progress.sourceRows ?? progress.estimatedSourceRows;
  if (totalRows && progress.rows > 0 && progress.rows < totalRows && elapsedMs > 0) {
    const rowsPerMs = progress.rows / elapsedMs;
    const approximate = progress.sourceRows === undefined ? '~' : '';
    parts.push(`ETA ${approximate}${formatDuration((totalRows - progress.rows) / rowsPerMs)}`);
  }
  if (progress.attempt > 1) parts.push(`attempt ${progress.attempt}`);
  return parts.join(' · ');
}

/**
 * Rewrites one line on a terminal; otherwise prints a line at most every 4 s, so that with
 * updates every second a log sees progress at least every 5 s (docs/design.md "Live progress").
 */
export function createProgressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  let lastPrinted = 0;
  return {
    update(line: string) {
      if (stream.isTTY) stream.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastPrinted >= 4_000) {
        stream.write(`${line}\n`);
        lastPrinted = Date.now();
      }
    },
    done() {
      if (stream.isTTY) stream.write('\r\x1b[2K');
    },
  };
}
