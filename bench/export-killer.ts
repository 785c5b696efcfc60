/**
 * Issue 14's fault line: SIGKILL the export psql of three chunks while a chunked copy runs, as
 * test/integration/chunked-copy.test.ts does, so the bench can time a copy that redoes what the
 * kills cost. The exports are found by their PGAPPNAME (`pgferry/.../g<gen>c<n>/a<k>/export`)
 * among this process's children (the bench's worker runs in-process, so psql is its child).
 *
 * The victims are fixed, not random, so rounds do the same work: the first attempt of chunks 1,
 * 4 and 7 (one kill early, one mid-copy, one late in a copy of about 10 chunks), each once the
 * source has sent half a chunk (`killAfterRows`), the rows a kill at a random moment costs on
 * average. With `killAfterRows` 0 the export is killed as soon as it is seen: chunks of a few
 * hundred rows (the smoke run) are gone before any progress could be read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** What one killer did. */
export interface ExportKills {
  /** Exports killed (the goal is 3; fewer means the copy ended before the killer found them). */
  kills: number;
  /** `g<gen>c<n>` of each killed chunk. */
  chunks: string[];
  /** Rows the source had sent of each killed chunk when the killer saw it (0 when killed at sight). */
  sentRows: number[];
}

export interface ExportKillerOptions {
  /** Source database the exports read (their COPY progress is read there). */
  sourceUrl: string;
  kills: number;
  /** Rows the export must have sent before it is killed; 0: at sight. */
  killAfterRows: number;
}

const EXPORT_NAME = /\/g(\d+)c(\d+)\/a1\/export$/;
const isVictim = (appName: string) => {
  const match = EXPORT_NAME.exec(appName);
  return match !== null && Number(match[2]) % 3 === 1;
};

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** psql children of this process by PGAPPNAME (through /proc/<pid>/task/<tid>/children). */
function psqlChildren(): Map<string, number> {
  const found = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    for (const pid of (read(`/proc/${process.pid}/task/${task}/children`) ?? '').split(' ').filter(Boolean)) {
      const stat = read(`/proc/${pid}/stat`) ?? '';
      if (!stat.includes('(psql)')) continue;
      const appName = (read(`/proc/${pid}/environ`) ?? '')
        .split('\0')
        .find((v) => v.startsWith('PGAPPNAME='))
        ?.slice('PGAPPNAME='.length);
      if (appName) found.set(appName, Number(pid));
    }
  }
  return found;
}

/** Export sessions on the source that have sent at least `rows` rows, with the rows sent. */
async function exportsPast(client: pg.Client, rows: number): Promise<Map<string, number>> {
  const { rows: sessions } = await client.query<{ name: string; sent: string }>(
    `SELECT a.application_name AS name, p.tuples_processed::text AS sent
       FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid)
      WHERE p.command = 'COPY TO' AND a.application_name LIKE 'pgferry/%/export' AND p.tuples_processed >= $1`,
    [rows],
  );
  return new Map(sessions.map((s) => [s.name, Number(s.sent)]));
}

/**
 * Kills chunk exports while `copy` runs, then returns what it killed once `copy` settles.
 * The copy's own promise is returned untouched (its failure is the caller's).
 */
export async function withExportKills<T>(
  options: ExportKillerOptions,
  copy: () => Promise<T>,
): Promise<{ value: T; kills: ExportKills }> {
  const killed: ExportKills = { kills: 0, chunks: [], sentRows: [] };
  const client = options.killAfterRows > 0 ? new pg.Client({ connectionString: options.sourceUrl }) : undefined;
  await client?.connect();
  let running = true;
  const killer = (async () => {
    const pollMs = client ? 10 : 2;
    while (running && killed.kills < options.kills) {
      const ready = client ? await exportsPast(client, options.killAfterRows) : undefined;
      for (const [appName, pid] of psqlChildren()) {
        if (killed.kills >= options.kills || !isVictim(appName) || (ready && !ready.has(appName))) continue;
        const chunk = EXPORT_NAME.exec(appName)!;
        const tag = `g${chunk[1]}c${chunk[2]}`;
        if (killed.chunks.includes(tag)) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          continue; // it ended between the scan and the kill
        }
        killed.kills++;
        killed.chunks.push(tag);
        killed.sentRows.push(ready?.get(appName) ?? 0);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  })();
  try {
    const value = await copy();
    return { value, kills: killed };
  } finally {
    running = false;
    await killer.catch(() => undefined);
    await client?.end();
  }
}
