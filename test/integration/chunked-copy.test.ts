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
  createCopyHarness,
  makeTable,
  parseJson,
  tableDigestOf,
  waitFor,
  type CliResult,
  type CopyHarness,
} from '../support/copy-harness.js';

const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

const table = (name: string): TableRef => ({ schema: 'public', table: name });

function assertCompleted(result: CliResult): CopyOutcome {
  assert.equal(result.exitCode, 0, `copy exited ${result.exitCode}: ${result.stderr}`);
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

  test('a 2,000,000-row table in chunks survives three export kills, redoing at most the chunks they hit', async () => {
    const ref = table('big_orders');
    const rows = 2_000_000;
    const chunkRows = 200_000;
    await makeTable(h.sourceUrl, ref, { to: rows });

    const running = copy('public.big_orders', '--chunk-rows', String(chunkRows), '--jobs', '2');
    const killed = new Set<number>();
    await withClient(h.targetUrl, async (client) => {
      while (killed.size < 3) {
        // A random moment: once a chunk's import has stored a random share of its rows.
        const min = 10_000 + Math.floor(Math.random() * 150_000);
        const pid = await waitFor(`a chunk export with ${min}+ rows imported`, async () => {
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
    assert.ok(chunks.total >= 9 && chunks.total <= 11, `${chunks.total} chunks`);
    assert.equal(chunks.done, chunks.total);
    assert.ok(chunks.attempts - chunks.total <= 3, `attempts ${chunks.attempts} for ${chunks.total} chunks`);
    assert.ok(chunks.attempts - chunks.total >= 1, 'a killed export was retried');
    assert.ok(chunks.reworkedRows <= 3 * chunkRows, `reworked ${chunks.reworkedRows} rows`);
    const types = failureTypes(await historiesOf(h, outcome.workflowId));
    assert.ok(types.includes('ExportKilled'), `failures in history: ${types.join(', ')}`);
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
    // One heap block per chunk.
    const outcome = assertCompleted(await copy('public.many_chunks', '--chunk-rows', '100', '--jobs', '4').done);

    assert.ok(outcome.chunks!.total >= 2000, `${outcome.chunks!.total} chunks`);
    assert.equal(outcome.chunks!.done, outcome.chunks!.total);
    assert.deepEqual(await tableDigestOf(h.targetUrl, ref), await tableDigestOf(h.sourceUrl, ref));
    const histories = await historiesOf(h, workflowIdForTarget('target', ref));
    assert.ok(histories.length > 1, 'chunks ran in child workflows');
    const longest = Math.max(...histories.map((history) => history.events.length));
    assert.ok(longest < 5000, `longest history: ${longest} events`);
    // Every chunk's result is in some batch's history, once.
    const done = histories.flatMap(({ events }) =>
      events
        .filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        .map((event) => {
          const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
          return payload ? defaultPayloadConverter.fromPayload<{ n?: number }>(payload).n : undefined;
        })
        .filter((n) => n !== undefined),
    );
    assert.equal(new Set(done).size, outcome.chunks!.total);
  });
});
