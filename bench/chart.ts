/**
 * chart.svg: one horizontal bar per measurement (median seconds), a min-max whisker, and the
 * ratio to the raw binary pipe. Hand-written SVG, no dependencies.
 */
import type { BenchResults, MeasurementKind } from './report.js';

const COLORS: Record<MeasurementKind, string> = { variant: '#3b6fb6', reference: '#9bb5d9', publish: '#d9a441' };
const ROW = 28;
const LABEL_WIDTH = 360;
const BAR_WIDTH = 440;
const TOP = 84;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderChart(results: BenchResults): string {
  const items = results.measurements.filter((m) => Number.isFinite(m.median));
  const scaleMax = Math.max(...items.map((m) => m.max), 0.001);
  const x = (seconds: number) => LABEL_WIDTH + (seconds / scaleMax) * BAR_WIDTH;
  const width = LABEL_WIDTH + BAR_WIDTH + 170;
  const height = TOP + items.length * ROW + 60;
  const bars = items.map((m, i) => {
    const y = TOP + i * ROW;
    const label = `${m.id}  ${m.label}`;
    return [
      `<text x="${LABEL_WIDTH - 8}" y="${y + 17}" text-anchor="end">${escapeXml(label)}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y + 4}" width="${(x(m.median) - LABEL_WIDTH).toFixed(1)}" height="${ROW - 8}" fill="${COLORS[m.kind]}"/>`,
      `<line x1="${x(m.min).toFixed(1)}" x2="${x(m.max).toFixed(1)}" y1="${y + ROW / 2}" y2="${y + ROW / 2}" stroke="#222" stroke-width="1.5"/>`,
      `<text x="${(x(m.max) + 6).toFixed(1)}" y="${y + 17}">${m.median.toFixed(2)} s  (${m.ratioToRawBinary.toFixed(2)}x)</text>`,
    ].join('\n  ');
  });
  const { data, rss, emptyCopy } = results;
  const title =
    `pgferry bench: ${data.rows.toLocaleString('en')} rows (${(data.textBytes / 1e6).toFixed(0)} MB COPY text), ` +
    `median of ${results.rounds} interleaved rounds`;
  const subtitle = 'bar = median, whisker = min-max, (x) = ratio to the raw binary pipe B';
  const footer =
    `worker RSS ${rss.small.peakDuringCopyMB.toFixed(0)} MB at ${data.smallRows.toLocaleString('en')} rows, ` +
    `${rss.large.peakDuringCopyMB.toFixed(0)} MB at ${data.rows.toLocaleString('en')} rows; ` +
    `empty-table copy ${emptyCopy.medianMs} ms; load ${results.machine.loadBefore.join('/')} → ${results.machine.loadAfter.join('/')}`;
  const legend = (Object.entries(COLORS) as [MeasurementKind, string][]).map(
    ([kind, color], i) =>
      `<rect x="${LABEL_WIDTH + i * 150}" y="56" width="12" height="12" fill="${color}"/>` +
      `<text x="${LABEL_WIDTH + i * 150 + 18}" y="66">${kind === 'publish' ? 'publish step only' : kind}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="12" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>
  <text x="12" y="42">${escapeXml(subtitle)}</text>
  ${legend.join('\n  ')}
  ${bars.join('\n  ')}
  <line x1="${LABEL_WIDTH}" x2="${LABEL_WIDTH}" y1="${TOP}" y2="${TOP + items.length * ROW}" stroke="#444"/>
  <text x="12" y="${height - 20}">${escapeXml(footer)}</text>
</svg>
`;
}
