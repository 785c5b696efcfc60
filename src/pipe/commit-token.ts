/**
 * The commit token: the import's last command is `\i <fifo>`, and the only thing that ever
 * writes `COMMIT;` into that FIFO is the supervisor, once the export has exited 0. psql opens
 * the FIFO for reading and blocks until a writer appears, so an import that reached end of input
 * (a finished export, a killed export, or a worker that died) waits there with its transaction
 * open until the supervisor either delivers the token or kills it. Nothing else commits.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the token FIFO delivers to the import's `\i`. */
export const COMMIT_TOKEN_SQL = 'COMMIT;\n';

// The import opens the FIFO a few ms after the export's end (it loads the last buffered bytes
// first), so the poll stays fine-grained: at most 10 ms of a copy's time is lost waiting here.
const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 10;

/**
 * Writes the token once the import has opened the FIFO. A non-blocking open for writing fails
 * with ENXIO while no reader is there yet (the import is still loading the last bytes); we poll
 * rather than block, because a blocking open would wait forever on an import that died first.
 * Returns false, writing nothing, when `giveUp()` turns true before the import opened it.
 * `sql` may put statements before the COMMIT that must commit with the data (a chunk's ledger row).
 */
export async function deliverCommitToken(
  path: string,
  giveUp: () => boolean,
  sql: string = COMMIT_TOKEN_SQL,
): Promise<boolean> {
  for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
    if (giveUp()) return false;
    try {
      const fifo = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        await fifo.write(sql);
      } finally {
        await fifo.close();
      }
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // EPIPE: the import opened the FIFO and died before reading; its outcome says why.
      if (code === 'EPIPE') return false;
      if (code !== 'ENXIO') throw error;
    }
    await sleep(delay);
  }
}
