/**
 * The import backend's COPY progress on the target, found by its application_name. The stream
 * goes straight from one psql to the other, so this is where progress (and a stall) shows; the
 * single-stream pipe and every chunk read it the same way.
 */
import type { CopyProgressSample } from '../pipe/supervise-copy.js';
import type { Databases } from './databases.js';

export async function sampleImportProgress(
  databases: Databases,
  target: string,
  applicationName: string,
): Promise<CopyProgressSample | undefined> {
  return databases.withClient(target, async (client) => {
    const result = await client.query<{ bytes: string; rows: string }>(
      `SELECT p.bytes_processed AS bytes, p.tuples_processed AS rows
         FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
        WHERE a.application_name = $1`,
      [applicationName],
    );
    const row = result.rows[0];
    return row && { bytes: Number(row.bytes), rows: Number(row.rows) };
  });
}
