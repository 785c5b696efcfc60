/**
 * Chunked copy (issue 14, DESIGN.md C1-C8) end to end: the real CLI, a real Temporal dev server,
 * real source and target clusters and real psql. Contents are compared by digests of every row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { CopyOutcome } from '../../src/client/outcome.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query, withClient } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  rowsSql,
  tableDigestOf,
  waitFor,
  type CliResult,
  type CopyHarness,
} from '../support/copy-harness.js';

const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

const table = (name: string): TableRef => ({ schema: 'public', table: name });

function assertCompleted(result: CliResult): CopyOutcome {
  assertExitedOk(result, 'copy');
  const outcome = parseJson<CopyOutcome>(result);
  assert.equal(outcome.status, 'COMPLETED');
  return outcome;
}

/** Every history in a copy's tree: the copy's own and its chunk batches'. */
async function historiesOf(h: CopyHarness, workflowId: string) {
  const ids = [workflowId];
  for await (const run of h.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}/chunks/'` })) {
    ids.push(run.workflowId);
  }
  return Promise.all(
    ids.map(async (id) => ({ id, events: (await h.client.workflow.getHandle(id).fetchHistory()).events ?? [] })),
  );
}

/** Failure types of every retried or failed activity attempt in a copy's tree. */
function failureTypes(histories: Awaited<ReturnType<typeof historiesOf>>): string[] {
  const types: string[] = [];
  for (const { events } of histories) {
    for (const event of events) {
      const failure =
        event.activityTaskStartedEventAttributes?.lastFailure ?? event.activityTaskFailedEventAttributes?.failure;
      for (let f = failure; f; f = f.cause) {
        if (f.applicationFailureInfo?.type) types.push(f.applicationFailureInfo.type);
      }
    }
  }
  return types;
}

interface Backends {
  peak: number;
  peakPsql: number;
  /** The backends seen at the peak, by application_name with the chunk's own numbers as `#`. */
  atPeak: string[];
  samples: number;
}

/**
 * Samples a server's client backends (all but the sampler's own) every 50 ms until stopped;
 * resolves to the most seen at once and the most of them that were psql (a chunk's export or
 * import: application_name ending in /export or /import).
 */
function sampleBackends(url: string): { stop(): Promise<Backends> } {
  let stopped = false;
  const sampled = withClient(url, async (client) => {
    const seen: Backends = { peak: 0, peakPsql: 0, atPeak: [], samples: 0 };
    while (!stopped) {
      const { rows } = await client.query<{ name: string }>(
        `SELECT application_name AS name FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      const psql = rows.filter(({ name }) => /\/(export|import)$/.test(name)).length;
      if (rows.length > seen.peak) {
        seen.peak = rows.length;
        seen.atPeak = rows.map(({ name }) => name.replace(/\d+/g, '#')).sort();
      }
      seen.peakPsql = Math.max(seen.peakPsql, psql);
      seen.samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return seen;
  });
  return {
    stop() {
      stopped = true;
      return sampled;
    },
  };
}

/** The psql children of this process running a chunk's export. */
function chunkExports(): number[] {
  return childProcesses()
    .filter((child) => child.comm === 'psql' && /\/g\d+c\d+\/a\d+\/export$/.test(child.appName ?? ''))
    .map((child) => child.pid);
}

describe('chunked copy (issue 14)', { timeout: 1_800_000 }, () => {
  let h: CopyHarness;
  const copy = (tableArg: string, ...flags: string[]) =>
    h.spawnCli(['copy', '--source', 'source', '--target', 'target', '--table', tableArg, ...flags, '--wait', '--json']);

  before(async () => {
    h = await createCopyHarness({ name: 'chunked-copy' });
  });
  after(async () => {
    await h?.close();
  });

  test('a 3,000,000-row table in chunks survives three export kills, redoing at most the chunks they hit', async () => {
    const ref = table('big_orders');
    // 15 chunks for 2 jobs: after the second kill there are always chunks left to kill a third
    // time in (with 10 chunks a fast machine finished the copy before the third kill came).
    const rows = 3_000_000;
    const chunkRows = 200_000;
    await makeTable(h.sourceUrl, ref, { to: rows });

    const running = copy('public.big_orders', '--chunk-rows', String(chunkRows), '--jobs', '2');
    let ended: CliResult | undefined;
    void running.done.then((result) => (ended = result));
    const killed = new Set<number>();
    await withClient(h.targetUrl, async (client) => {
      while (killed.size < 3) {
        // A random moment: once a chunk's import has stored a random share of its rows.
        const min = 10_000 + Math.floor(Math.random() * 120_000);
        const pid = await waitFor(`a chunk export with ${min}+ rows imported`, async () => {
          // Say why no export comes: the copy ended (how) before this kill.
          if (ended) assert.fail(`the copy ended after ${killed.size} kills: ${JSON.stringify(ended)}`);
          const { rows: progress } = await client.query<{ n: string }>(
            `SELECT max(tuples_processed)::text AS n FROM pg_stat_progress_copy WHERE command = 'COPY FROM'`,
          );
          if (Number(progress[0]?.n ?? 0) < min) return undefined;
          return chunkExports().find((candidate) => !killed.has(candidate));
        });
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      }
    });
    const outcome = assertCompleted(await running.done);
    console.log(JSON.stringify(outcome));

    assert.equal(outcome.rows, rows);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    const chunks = outcome.chunks!;
    // Chunks are block ranges sized by the planner's rows per block: about rows / chunkRows of them.
    assert.ok(chunks.total >= 14 && chunks.total <= 16, `${chunks.total} chunks`);
    assert.equal(chunks.done, chunks.total);
    assert.ok(chunks.attempts - chunks.total <= 3, `attempts ${chunks.attempts} for ${chunks.total} chunks`);
    assert.ok(chunks.attempts - chunks.total >= 1, 'a killed export was retried');
    assert.ok(chunks.reworkedRows <= 3 * chunkRows, `reworked ${chunks.reworkedRows} rows`);
    // Every kill came once an import had 10,000+ rows: the killed attempts moved rows that were
    // rolled back, counted at the moment each attempt failed (no longer 0 for a kill that came
    // before the attempt's first progress sample or heartbeat).
    assert.ok(chunks.reworkedRows > 0, `reworked ${chunks.reworkedRows} rows after ${killed.size} kills`);
    const types = failureTypes(await historiesOf(h, outcome.workflowId));
    assert.ok(types.includes('ExportKilled'), `failures in history: ${types.join(', ')}`);
  });

  test('a chunk that outruns --copy-timeout is stopped by its own deadline, typed, and retried', async () => {
    const ref = table('late_chunks');
    await makeTable(h.sourceUrl, ref, { to: 40_000 });
    const running = copy(
      'public.late_chunks',
      ...['--chunk-rows', '10000', '--jobs', '1', '--copy-timeout', '10s', '--stall-timeout', '5m'],
    );
    // Every chunk's import waits for a lock the test holds on staging (its lock_timeout is 30 s),
    // until a chunk's second attempt is seen: the first one ended at its deadline.
    await withClient(h.targetUrl, async (client) => {
      const staging = await waitFor('the staging table', async () => {
        const { rows } = await client.query<{ name: string }>(
          `SELECT quote_ident(relname) AS name FROM pg_class WHERE relname LIKE 'pgferry_stg_%' AND relkind = 'r'`,
        );
        return rows[0]?.name;
      });
      await client.query('BEGIN');
      await client.query(`LOCK TABLE public.${staging} IN ACCESS EXCLUSIVE MODE`);
      await waitFor(
        "a chunk's second attempt",
        // Not on the lock's session: pg_stat_activity is read once per transaction.
        async () => {
          const { rows } = await query(
            h.targetUrl,
            `SELECT 1 FROM pg_stat_activity WHERE application_name ~ '/g1c\\d+/a2/import$'`,
          );
          return rows.length > 0 || undefined;
        },
        60_000,
      );
      await client.query('ROLLBACK');
    });
    const outcome = assertCompleted(await running.done);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    assert.ok(outcome.chunks!.attempts > outcome.chunks!.total, `attempts ${outcome.chunks!.attempts}`);
    // The attempt failed as pgferry's own CopyStalled, naming the deadline and the chunk, not as
    // Temporal's start-to-close timeout (which would leave its psql running until a heartbeat).
    const failures = (await historiesOf(h, outcome.workflowId)).flatMap(({ events }) =>
      events.flatMap((event) => {
        const failure =
          event.activityTaskStartedEventAttributes?.lastFailure ?? event.activityTaskFailedEventAttributes?.failure;
        return failure ? [failure] : [];
      }),
    );
    assert.ok(failures.length > 0, 'no failed attempt in history');
    for (const failure of failures) {
      assert.equal(failure.timeoutFailureInfo, null, `a timeout: ${failure.message}`);
      assert.equal(failure.applicationFailureInfo?.type, 'CopyStalled', failure.message ?? '');
      assert.match(failure.message ?? '', /activity deadline.*\(chunk public\.late_chunks ctid/);
    }
  });

  test('under snapshot consistency, rows moved between blocks during the copy are copied exactly once', async () => {
    // Transfers between accounts: every UPDATE writes a new row version, usually in another
    // block (fillfactor 100 leaves no room for HOT updates), and keeps the total balance. Chunks
    // read in different snapshots would copy a moved row twice or not at all (DESIGN.md C1).
    const accounts = 200_000;
    await query(
      h.sourceUrl,
      `DROP TABLE IF EXISTS public.accounts;
       CREATE TABLE public.accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, note text) WITH (fillfactor = 100);
       INSERT INTO public.accounts SELECT i, 1000, repeat('x', 40) FROM generate_series(1, ${accounts}) AS i;
       ANALYZE public.accounts;`,
    );
    let writing = true;
    let transfers = 0;
    const writer = withClient(h.sourceUrl, async (client) => {
      while (writing) {
        // 25 even ids give 1 to 25 odd ids: the total stays the same.
        const first = 2 * Math.floor(Math.random() * (accounts / 2 - 50)) + 1;
        await client.query(
          `UPDATE public.accounts SET balance = balance + CASE WHEN id % 2 = 0 THEN -1 ELSE 1 END
            WHERE id BETWEEN $1 AND $1 + 49`,
          [first],
        );
        transfers++;
      }
    });
    let result: CliResult;
    try {
      result = await copy('public.accounts', '--chunk-rows', '10000', '--jobs', '2', '--mode', 'replace').done;
    } finally {
      writing = false;
      await writer;
    }
    assert.ok(transfers > 0, 'the writer moved rows during the copy');
    assertCompleted(result);
    const { rows } = await query<{ n: number; ids: number; total: string }>(
      h.targetUrl,
      'SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, sum(balance)::text AS total FROM public.accounts',
    );
    assert.deepEqual(rows[0], { n: accounts, ids: accounts, total: String(accounts * 1000) });
  });

  test('a lost snapshot holder starts a new generation in a fresh snapshot, and the copy holds each row once', async () => {
    const ref = table('lost_snapshot');
    await makeTable(h.sourceUrl, ref, { to: 1_000_000 });
    const running = copy('public.lost_snapshot', '--chunk-rows', '50000', '--jobs', '2');
    // The holder's backend ends mid-copy, as when the source restarts or its worker dies.
    await withClient(h.sourceUrl, async (client) => {
      await waitFor('a chunk export reading the held snapshot', () => (chunkExports().length > 0 ? true : undefined));
      const { rowCount } = await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgferry/snapshot/g1'`,
      );
      assert.equal(rowCount, 1);
    });
    const outcome = assertCompleted(await running.done);

    assert.equal(outcome.rows, 1_000_000);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    const histories = await historiesOf(h, outcome.workflowId);
    assert.ok(failureTypes(histories).includes('SnapshotLost'), failureTypes(histories).join(', '));
    assert.ok(
      histories.some(({ id }) => id.startsWith(`${outcome.workflowId}/chunks/2/`)),
      'generation 2 ran',
    );
  });

  test('a partitioned source is chunked per leaf partition, verified by checksum, and copied exactly', async () => {
    const ref = table('parted_orders');
    await query(
      h.sourceUrl,
      `DROP TABLE IF EXISTS public.parted_orders;
       CREATE TABLE public.parted_orders (id bigint NOT NULL, label text NOT NULL, amount numeric(12,2))
         PARTITION BY RANGE (id);
       CREATE TABLE public.parted_orders_1 PARTITION OF public.parted_orders FOR VALUES FROM (1) TO (100001);
       CREATE TABLE public.parted_orders_2 PARTITION OF public.parted_orders FOR VALUES FROM (100001) TO (200001);
       CREATE TABLE public.parted_orders_3 PARTITION OF public.parted_orders FOR VALUES FROM (200001) TO (MAXVALUE);
       INSERT INTO public.parted_orders ${rowsSql(1, 300_000, 'parted')};
       ANALYZE public.parted_orders;`,
    );
    const outcome = assertCompleted(
      await copy('public.parted_orders', '--chunk-rows', '25000', '--verify', 'checksum').done,
    );

    assert.equal(outcome.rows, 300_000);
    // Four chunks of about 25,000 rows in each of the three leaves.
    assert.ok(outcome.chunks!.total >= 12 && outcome.chunks!.total <= 15, JSON.stringify(outcome.chunks));
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('--consistency chunk copies by key ranges with a checksum per chunk', async () => {
    const ref = table('keyed_orders');
    await makeTable(h.sourceUrl, ref, { to: 100_000 });
    const outcome = assertCompleted(
      await copy('public.keyed_orders', '--consistency', 'chunk', '--chunk-rows', '10000', '--verify', 'checksum').done,
    );
    assert.equal(outcome.rows, 100_000);
    // Bounds every 10,000 keys, the last range open: 11 chunks, the last one empty.
    assert.equal(outcome.chunks!.total, 11);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
  });

  test('--consistency chunk on a table without a usable key is refused before anything starts', async () => {
    const ref = table('keyless_orders');
    await makeTable(h.sourceUrl, ref, { to: 1000, primaryKey: false });
    const result = await copy('public.keyless_orders', '--consistency', 'chunk', '--chunk-rows', '100').done;
    assert.equal(result.exitCode, 1, result.stderr);
    const outcome = parseJson<CopyOutcome>(result);
    assert.equal(outcome.failure?.type, 'InvalidCopySpec');
    const { rows } = await query<{ n: number }>(
      h.targetUrl,
      `SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgferry\\_stg\\_%' OR relname = 'keyless_orders'`,
    );
    assert.equal(rows[0]!.n, 0, 'nothing was created on the target');
  });

  test('a copy of more than 2,000 chunks keeps every history in its tree under 5,000 events', async () => {
    const ref = table('many_chunks');
    await makeTable(h.sourceUrl, ref, { to: 300_000 });
    // Connections, like history, must not grow with the number of chunks: sampled on both
    // servers for the whole copy.
    const samplers = [sampleBackends(h.sourceUrl), sampleBackends(h.targetUrl)];
    // One heap block per chunk.
    const jobs = 4;
    const result = await copy('public.many_chunks', '--chunk-rows', '100', '--jobs', String(jobs)).done;
    const [source, target] = (await Promise.all(samplers.map((sampler) => sampler.stop()))) as [Backends, Backends];
    const outcome = assertCompleted(result);

    assert.ok(outcome.chunks!.total >= 2000, `${outcome.chunks!.total} chunks`);
    assert.equal(outcome.chunks!.done, outcome.chunks!.total);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    const histories = await historiesOf(h, workflowIdForTarget('target', ref));
    assert.ok(histories.length > 1, 'chunks ran in child workflows');
    const longest = Math.max(...histories.map((history) => history.events.length));
    console.log(`${outcome.chunks!.total} chunks, ${histories.length} histories, the longest ${longest} events`);
    assert.ok(longest < 5000, `longest history: ${longest} events`);
    console.log(
      `peak backends: source ${source.peak} (${source.peakPsql} psql), target ${target.peak} (${target.peakPsql} psql); ` +
        `${source.samples} and ${target.samples} samples; at the peaks: ${JSON.stringify([source.atPeak, target.atPeak])}`,
    );
    // At most one psql per chunk in flight on each side, and besides them no more than a
    // worker's own bounded sessions: its short-query pool (4 per profile) and the copy's step
    // sessions (the snapshot holder; createStaging's and the plan's, kept warm for 10 s after
    // use). Seen at the peaks: five idle `pgferry` sessions (pooled or warm) beside 4 imports on
    // the target; the holder and one idle session beside the exports on the source. Nothing here
    // scales with the 2,000 chunks.
    for (const [side, seen] of [
      ['source', source],
      ['target', target],
    ] as const) {
      assert.ok(seen.samples > 20, `${side}: only ${seen.samples} samples`);
      assert.ok(seen.peakPsql <= jobs, `${side}: ${seen.peakPsql} psql backends at once`);
      assert.ok(
        seen.peak >= 1 && seen.peak <= jobs + 4 + 4,
        `${side}: ${seen.peak} backends at once: ${seen.atPeak.join(', ')}`,
      );
    }
    // No event carries the plan (it is stored on the target): the largest event of the tree,
    // its encoded size as Temporal stores it, does not grow with the number of chunks.
    const sizes = histories.flatMap(({ id, events }) =>
      events.map((event) => ({
        id,
        type: EventType[event.eventType ?? 0],
        bytes: temporal.api.history.v1.HistoryEvent.encode(event).finish().length,
      })),
    );
    const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    // The copy's own history: a few events per batch of 100 chunks, so a 10,000-chunk copy (100
    // batches) adds that many more per batch to what this copy used.
    const parent = histories.find(({ id }) => id === outcome.workflowId)!.events;
    const batches = histories.length - 1;
    const firstChild = parent.findIndex(
      (event) => event.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    );
    const lastChild = parent.findLastIndex(
      (event) => event.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    );
    const perBatch = (lastChild - firstChild + 1) / batches;
    const projected = Math.ceil(parent.length + perBatch * (100 - batches));
    console.log(
      `largest event ${largest.bytes} B (${largest.type} in ${largest.id}); the copy's history ${parent.length} events, ` +
        `${perBatch.toFixed(1)} per batch of ${batches}: 10,000 chunks would take about ${projected}`,
    );
    assert.ok(largest.bytes < 16 * 1024, `largest event ${JSON.stringify(largest)}`);
    assert.ok(projected < 5000, `a 10,000-chunk copy's history: about ${projected} events`);
    // Every chunk's result is in some batch's history, once.
    const done = histories.flatMap(({ events }) =>
      events
        .filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        .map((event) => {
          const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
          return payload ? defaultPayloadConverter.fromPayload<{ n?: number } | undefined>(payload)?.n : undefined;
        })
        .filter((n) => n !== undefined),
    );
    assert.equal(new Set(done).size, outcome.chunks!.total);
  });
});
