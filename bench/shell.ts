/**
 * The tools users would pick instead of pgferry, run the way a person would: bash pipelines of
 * psql, pg_dump and pgcopydb. Connection strings carry no password (a pgpass file does), and
 * variables reach the script through its environment, never spliced into the script text.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** Raised when a tool the bench runs exits non-zero; carries the tail of its output. */
export class BenchCommandError extends Error {
  override name = 'BenchCommandError';
}

/** Runs a bash script with `pipefail`; returns wall-clock seconds and stdout. */
export async function timeScript(
  label: string,
  script: string,
  env: Record<string, string>,
): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  const result = await execa('bash', ['-o', 'pipefail', '-c', script], {
    env: { ...process.env, ...env },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    maxBuffer: 16 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) {
    const tail = `${result.stderr}\n${result.stdout}`.trim().split('\n').slice(-15).join('\n');
    throw new BenchCommandError(`${label} exited with code ${String(result.exitCode ?? result.signal)}:\n${tail}`);
  }
  return { seconds, stdout: result.stdout };
}

export const PSQL = 'psql -X -q -v ON_ERROR_STOP=1';

/** `psql -c "COPY src TO STDOUT" | psql -c "COPY dst FROM STDIN"` in text or binary format. */
export function rawPipeScript(format: 'text' | 'binary', options: { freeze?: boolean } = {}): string {
  const with_ = format === 'binary' ? ' (FORMAT binary)' : '';
  const exporter = `${PSQL} -d "$SRC" -c "COPY $SRC_TABLE TO STDOUT${with_}"`;
  const importer = options.freeze
    ? `${PSQL} -d "$DST" -c 'BEGIN' -c "TRUNCATE $DST_TABLE" -c "COPY $DST_TABLE FROM STDIN (FORMAT ${format}, FREEZE)" -c 'COMMIT'`
    : `${PSQL} -d "$DST" -c "COPY $DST_TABLE FROM STDIN${with_}"`;
  return `${exporter} | ${importer}`;
}

/**
 * A raw binary pipe per chunk, one after another: for each `start:end` heap block range in
 * `$RANGES` (the last `start:`, open-ended), `COPY (SELECT * ... WHERE ctid range)` piped into
 * `COPY dst FROM STDIN`, each load its own transaction. What a chunk costs with nothing but two
 * psql: the floor under pgferry's chunked copy with `--jobs 1`.
 */
export function chunkPipesScript(): string {
  const exporter = `${PSQL} -d "$SRC" -c "COPY (SELECT * FROM $SRC_TABLE WHERE $where) TO STDOUT (FORMAT binary)"`;
  const importer = `${PSQL} -d "$DST" -c "COPY $DST_TABLE FROM STDIN (FORMAT binary)"`;
  return [
    'for range in $RANGES; do',
    '  start=${range%%:*}; end=${range#*:}',
    `  where="ctid >= '($start,0)'::tid"`,
    `  if [ -n "$end" ]; then where="$where AND ctid < '($end,0)'::tid"; fi`,
    `  ${exporter} | ${importer}`,
    'done',
  ].join('\n');
}

/** `start:end` block ranges splitting `blocks` heap blocks into `parts`, the last open-ended. */
export function blockRanges(blocks: number, parts: number): string {
  const size = Math.max(1, Math.ceil(blocks / parts));
  const ranges: string[] = [];
  for (let start = 0; start < blocks || ranges.length === 0; start += size) {
    ranges.push(start + size >= blocks ? `${start}:` : `${start}:${start + size}`);
  }
  return ranges.join(' ');
}

/** Bytes of the source table in COPY text form. */
export const TEXT_SIZE_SCRIPT = `${PSQL} -d "$SRC" -c "COPY $SRC_TABLE TO STDOUT" | wc -c`;

/** `pg_dump --data-only -t src | psql` (pg_dump writes COPY ... FROM stdin in text format). */
export const PG_DUMP_SCRIPT = `pg_dump --data-only --no-owner --no-privileges -t "$SRC_TABLE" -d "$SRC" | ${PSQL} -d "$DST"`;

/** `pgcopydb copy table-data --table-jobs 1` into a fresh work directory. */
export async function timePgcopydb(env: Record<string, string>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pgferry-bench-pgcopydb-'));
  try {
    const script = 'pgcopydb copy table-data --source "$SRC" --target "$DST" --dir "$WORK_DIR" --table-jobs 1';
    return (await timeScript('pgcopydb copy table-data', script, { ...env, WORK_DIR: dir })).seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `pgcopydb clone --table-jobs 2 --split-tables-larger-than <bytes>` restricted to the source
 * table by a filter file: pgcopydb's same-table concurrency (COPY of key ranges of one table in
 * parallel). clone also creates the table, builds its primary key and runs VACUUM ANALYZE (this
 * pgcopydb has no flag to skip it), into `$DST`, which must be an empty database.
 */
export async function timePgcopydbClone(env: Record<string, string>, splitBytes: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pgferry-bench-pgcopydb-'));
  try {
    const filters = join(dir, 'filters.ini');
    await writeFile(filters, `[include-only-table]\n${env.SRC_TABLE}\n`);
    const script =
      'pgcopydb clone --source "$SRC" --target "$DST" --dir "$WORK_DIR/work" --filters "$FILTERS" ' +
      '--table-jobs 2 --index-jobs 2 --split-tables-larger-than "$SPLIT_BYTES" --no-owner --no-acl';
    const cloneEnv = { ...env, WORK_DIR: dir, FILTERS: filters, SPLIT_BYTES: String(splitBytes) };
    return (await timeScript('pgcopydb clone', script, cloneEnv)).seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first line of a tool's version output, or undefined when the tool is not installed. */
export async function toolVersion(command: string, args: string[]): Promise<string | undefined> {
  const result = await execa(command, args, { reject: false, all: true });
  if (result.exitCode !== 0) return undefined;
  const lines = (result.all ?? '').split('\n').filter((line) => /\d+\.\d+/.test(line) && !/INFO/.test(line));
  return lines[0]?.trim();
}
