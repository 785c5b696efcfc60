/**
 * Chunked copy across workers (issue 14, DESIGN.md C3, C8): three `pgferry worker` subprocesses
 * on one task queue share one table's chunks, and one of them SIGKILLed mid-copy under
 * `--consistency chunk` costs at most the chunks it held: no chunk committed before the kill is
 * copied again.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { CopyTableResult } from '../../src/shared/copy-spec.js';
import type { CopyChunkResult } from '../../activities/index.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import { pipeTaskQueue } from '../../src/shared/task-queues.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { query } from '../support/pg.js';
import { childProcesses } from '../support/processes.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  tableDigestOf,
  waitFor,
  type CopyHarness,
  type RunningCli,
} from '../support/copy-harness.js';

const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

const TABLE: TableRef = { schema: 'public', table: 'shared_orders' };
const ROWS = 2_000_000;
const CHUNK_ROWS = 50_000;

interface ChunkRun {
  n: number;
  skipped: boolean;
  attempt: number;
  /** Identity of the worker whose attempt completed the chunk (`<pid>@<host>`). */
  identity: string;
}

/** Every completed chunk of the copy's batches, with the worker that completed it. */
async function chunkRuns(h: CopyHarness, workflowId: string): Promise<ChunkRun[]> {
  const runs: ChunkRun[] = [];
  for await (const batch of h.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}/chunks/'` })) {
    const events = (await h.client.workflow.getHandle(batch.workflowId).fetchHistory()).events ?? [];
    const identities = new Map(
      events
        .filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
        .map((event) => [String(event.eventId), event.activityTaskStartedEventAttributes?.identity ?? '']),
    );
    for (const event of events) {
      const completed = event.activityTaskCompletedEventAttributes;
      const payload = completed?.result?.payloads?.[0];
      if (event.eventType !== EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED || !payload) continue;
      const result = defaultPayloadConverter.fromPayload<CopyChunkResult>(payload);
      runs.push({
        n: result.n,
        skipped: result.skipped,
        attempt: result.attempt,
        identity: identities.get(String(completed.startedEventId)) ?? '',
      });
    }
  }
  return runs;
}

describe('chunked copy across workers (issue 14)', { timeout: 900_000 }, () => {
  let h: CopyHarness;
  const workers: RunningCli[] = [];

  before(async () => {
    h = await createCopyHarness({ name: 'chunked-workers', worker: false });
  });
  after(async () => {
    for (const worker of workers) {
      worker.subprocess.kill('SIGTERM');
      await worker.done;
    }
    await h?.close();
  });

  test('three workers share one table, and a SIGKILLed one costs only the chunks it held', async () => {
    await makeTable(h.sourceUrl, TABLE, { to: ROWS });
    for (let i = 0; i < 3; i++) workers.push(h.spawnCli(['worker']));
    const victim = workers[0]!;
    // Every worker polls for activities before the copy starts, so each can be handed chunks.
    await waitFor(
      'three workers polling the pipe task queue',
      async () => {
        const { pollers } = await h.client.workflowService.describeTaskQueue({
          namespace: h.server.namespace,
          taskQueue: { name: pipeTaskQueue(h.taskQueue) },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        });
        const polling = new Set((pollers ?? []).map((poller) => poller.identity?.split('@')[0]));
        return workers.every((worker) => polling.has(String(worker.subprocess.pid))) ? true : undefined;
      },
      120_000,
    );
    const workflowId = workflowIdForTarget('target', TABLE);
    const started = await h.cli([
      ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.shared_orders'],
      ...['--consistency', 'chunk', '--chunk-rows', String(CHUNK_ROWS), '--jobs', '3'],
      ...['--heartbeat-timeout', '5s', '--json'],
    ]);
    assertExitedOk(started);
    assert.equal(parseJson<{ workflowId: string }>(started).workflowId, workflowId);

    // Kill the victim once it has completed a chunk and is running another one.
    const victimIdentity = `${victim.subprocess.pid}@`;
    await waitFor(
      'the victim to have completed a chunk and to be running another',
      async () => {
        const busy = () => childProcesses(victim.subprocess.pid).some((child) => child.comm === 'psql');
        if (!busy()) return undefined;
        const done = (await chunkRuns(h, workflowId)).some((run) => run.identity.startsWith(victimIdentity));
        return done && busy() ? true : undefined;
      },
      300_000,
    );
    victim.subprocess.kill('SIGKILL');
    const { rows: ledger } = await query<{ chunk: number }>(h.targetUrl, 'SELECT chunk FROM pgferry.chunk_ledger');
    const committedBeforeKill = new Set(ledger.map((row) => row.chunk));
    assert.equal((await victim.done).signal, 'SIGKILL');

    const result = (await h.client.workflow.getHandle(workflowId).result()) as CopyTableResult;
    assert.equal(result.rows, ROWS);
    assert.deepEqual(await tableDigestOf(h.targetUrl, TABLE), await tableDigestOf(h.sourceUrl, TABLE));

    const runs = await chunkRuns(h, workflowId);
    assert.equal(new Set(runs.map((run) => run.n)).size, result.chunks!.total);
    const identities = new Set(runs.map((run) => run.identity.split('@')[0]));
    assert.deepEqual(
      [...workers.map((worker) => String(worker.subprocess.pid))].filter((pid) => !identities.has(pid)),
      [],
      `every worker completed at least one chunk (completed by: ${[...identities].join(', ')})`,
    );
    // A chunk that had committed was either done with, or its retry found its ledger row.
    const copiedAgain = runs.filter((run) => committedBeforeKill.has(run.n) && run.attempt > 1 && !run.skipped);
    assert.deepEqual(copiedAgain, []);
    // The victim held at most --jobs chunks: only those were redone.
    assert.ok(result.chunks!.attempts - result.chunks!.total <= 3, JSON.stringify(result.chunks));
    assert.ok(result.chunks!.reworkedRows <= 3 * CHUNK_ROWS, JSON.stringify(result.chunks));

    // The victim could not remove its pipe files (FIFO stock, its chunks' FIFOs and tags); the
    // next worker started on this machine does (src/pipe/work-dirs.ts).
    const victimDirs = new RegExp(`^pgferry-[0-9a-f]{8}-${victim.subprocess.pid}-`);
    const left = () => readdirSync(tmpdir()).filter((name) => victimDirs.test(name));
    assert.ok(left().length > 0, 'the SIGKILLed worker left its pipe directories behind');
    workers.push(h.spawnCli(['worker']));
    await waitFor('a starting worker to remove them', () => (left().length === 0 ? true : undefined), 60_000);
  });
});
