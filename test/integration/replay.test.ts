/**
 * Determinism guard: a real history of a completed copy (one exportImport attempt killed, then
 * retried) replays against today's workflow code. A change that would break running copies on
 * deploy fails here, fast and without a server.
 *
 * Re-record the fixture (real dev server, clusters and psql) after an intended, versioned change:
 *   PGFERRY_RECORD_HISTORY=1 node --import tsx --test test/integration/replay.test.ts
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { createRequire } from 'node:module';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import { workflowsPath } from '../../src/worker/create-worker.js';
import { workflowIdForTarget } from '../../src/shared/ids.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { chunkBatchWorkflowId } from '../../src/shared/chunk-spec.js';
import {
  assertExitedOk,
  copyWithExportKilledOnce,
  createCopyHarness,
  makePacedView,
  makeTable,
  parseJson,
  tableDigestOf,
  type CopyHarness,
} from '../support/copy-harness.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

type History = proto.temporal.api.history.v1.IHistory;

/*
 * Proto JSON of a history, the format `temporal workflow show --output json` and the SDK's
 * historyToJSON/historyFromJSON use. Those two SDK helpers fail in this install ("type must be a
 * Type"): npm hoists grpc's protobufjs 7 and gives @temporalio/common and @temporalio/proto
 * separate copies of protobufjs 8, so common's protojson rejects proto's types. Taking protojson
 * from the protobufjs that @temporalio/proto itself resolves keeps the pair matched in any layout.
 */
const protojson = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'))(
  'protobufjs/ext/protojson',
) as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History | null;
};
const patchedRoot = patchProtobufRoot(proto as unknown as Record<string, unknown>) as unknown as {
  lookupType(name: string): unknown;
};
const historyType = patchedRoot.lookupType('temporal.api.history.v1.History');

function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, temporal.api.history.v1.History.fromObject(history)), null, 2);
}

function historyFromJSON(json: unknown): History {
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!history) throw new TypeError('not a history');
  return history;
}

const HISTORY_FILE = fileURLToPath(new URL('../fixtures/histories/copy-table-completed.json', import.meta.url));
const TABLE: TableRef = { schema: 'public', table: '주문 기록' };
/*
 * A chunked copy recorded before chunk plans were stored on the target: planChunks' result holds
 * the whole plan and the batch child's input the ranges. Re-record only from a version that
 * still passes plans in payloads (this fixture guards the histories such versions left):
 *   PGFERRY_RECORD_CHUNKED_HISTORY=1 node --import tsx --test test/integration/replay.test.ts
 */
const CHUNKED_FILE = fileURLToPath(new URL('../fixtures/histories/copy-table-chunked.json', import.meta.url));
const BATCH_FILE = fileURLToPath(new URL('../fixtures/histories/copy-chunk-batch.json', import.meta.url));
const CHUNKED_TABLE: TableRef = { schema: 'public', table: 'chunked_orders' };

if (process.env.PGFERRY_RECORD_HISTORY === '1') {
  describe('recording the copyTable history', { timeout: 300_000 }, () => {
    let h: CopyHarness;
    before(async () => {
      h = await createCopyHarness({ name: 'replay-record' });
    });
    after(async () => {
      await h?.close();
    });

    test('a copy whose export is killed once completes and its history is saved', async () => {
      await makePacedView(h.sourceUrl, TABLE, 20_000);
      const result = await copyWithExportKilledOnce(h, 'public."주문 기록"', 20);
      assertExitedOk(result);
      assert.equal(parseJson<{ status: string }>(result).status, 'COMPLETED');
      assert.deepEqual(await tableDigestOf(h.targetUrl, TABLE), await tableDigestOf(h.sourceUrl, TABLE));

      const history = await h.client.workflow.getHandle(workflowIdForTarget('target', TABLE)).fetchHistory();
      await mkdir(dirname(HISTORY_FILE), { recursive: true });
      await writeFile(HISTORY_FILE, `${historyToJSON(history)}\n`);
    });
  });
}

if (process.env.PGFERRY_RECORD_CHUNKED_HISTORY === '1') {
  describe('recording a chunked copyTable history', { timeout: 300_000 }, () => {
    let h: CopyHarness;
    before(async () => {
      h = await createCopyHarness({ name: 'replay-record-chunked' });
    });
    after(async () => {
      await h?.close();
    });

    test('a chunked copy completes and its history and its batch’s are saved', async () => {
      await makeTable(h.sourceUrl, CHUNKED_TABLE, { to: 30_000 });
      const result = await h.cli([
        ...['copy', '--source', 'source', '--target', 'target', '--table', 'public.chunked_orders'],
        ...['--chunk-rows', '10000', '--jobs', '2', '--verify', 'checksum', '--wait', '--json'],
      ]);
      assertExitedOk(result);
      assert.deepEqual(
        await tableDigestOf(h.targetUrl, CHUNKED_TABLE),
        await tableDigestOf(h.sourceUrl, CHUNKED_TABLE),
      );
      const workflowId = workflowIdForTarget('target', CHUNKED_TABLE);
      await writeFile(CHUNKED_FILE, `${historyToJSON(await h.client.workflow.getHandle(workflowId).fetchHistory())}\n`);
      const batch = await h.client.workflow.getHandle(chunkBatchWorkflowId(workflowId, 1, 0)).fetchHistory();
      await writeFile(BATCH_FILE, `${historyToJSON(batch)}\n`);
    });
  });
}

describe('copyTable replay', { timeout: 120_000 }, () => {
  let history: History;
  before(async () => {
    history = historyFromJSON(JSON.parse(await readFile(HISTORY_FILE, 'utf8')));
  });

  test('the recorded history is a completed copyTable with a killed export attempt', () => {
    const events = history.events ?? [];
    assert.equal(events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name, 'copyTable');
    assert.equal(events.at(-1)?.eventType, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    const retried = events.find(
      (event) =>
        event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        event.activityTaskStartedEventAttributes?.attempt === 2,
    );
    assert.equal(
      retried?.activityTaskStartedEventAttributes?.lastFailure?.applicationFailureInfo?.type,
      'ExportKilled',
    );
  });

  test('the recorded completed copy replays against the current workflow code', async () => {
    await Worker.runReplayHistory({ workflowsPath: workflowsPath(), replayName: 'copy-table-completed' }, history);
  });

  test('the recorded completed copy replays against the prebuilt bundle a compiled worker loads', async () => {
    // npm test builds first (pretest); a missing bundle means the build step did not write it.
    const codePath = fileURLToPath(new URL('../../dist/workflow-bundle.js', import.meta.url));
    await Worker.runReplayHistory({ workflowBundle: { codePath }, replayName: 'copy-table-prebuilt' }, history);
  });

  test('a chunked copy recorded with the plan in its payloads replays, its batch child too', async () => {
    const parent = historyFromJSON(JSON.parse(await readFile(CHUNKED_FILE, 'utf8')));
    const batch = historyFromJSON(JSON.parse(await readFile(BATCH_FILE, 'utf8')));
    // The fixture is from before the plan moved to the target: the plan is in planChunks' result.
    const planned = (parent.events ?? []).some((event) => {
      const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
      return payload && Array.isArray(defaultPayloadConverter.fromPayload<{ chunks?: unknown }>(payload)?.chunks);
    });
    assert.ok(planned, 'planChunks returned the whole plan in this history');
    assert.equal(batch.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name, 'copyChunkBatch');
    // The copy's id: its batch children's ids derive from it.
    const workflowId = workflowIdForTarget('target', CHUNKED_TABLE);
    await Worker.runReplayHistory(
      { workflowsPath: workflowsPath(), replayName: 'copy-table-chunked' },
      parent,
      workflowId,
    );
    await Worker.runReplayHistory(
      { workflowsPath: workflowsPath(), replayName: 'copy-chunk-batch' },
      batch,
      chunkBatchWorkflowId(workflowId, 1, 0),
    );
  });

  test('the same history fails to replay against a copyTable that schedules other activities', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgferry-replay-'));
    try {
      const changed = join(dir, 'workflows.js');
      await writeFile(
        changed,
        `import { proxyActivities } from '@temporalio/workflow';
         export async function copyTable() {
           await proxyActivities({ startToCloseTimeout: '1m' }).publish({});
         }\n`,
      );
      const nodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
      await assert.rejects(
        Worker.runReplayHistory(
          {
            workflowsPath: changed,
            replayName: 'copy-table-changed',
            bundlerOptions: {
              // The file lives outside the checkout: let it resolve packages from ours.
              webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, modules: [nodeModules] } }),
            },
          },
          history,
        ),
        (error: unknown) => error instanceof DeterminismViolationError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/*
 * An incremental run recorded before the 'incremental-fewer-steps' patch (planWindow, createStaging,
 * exportImport, verifyCounts, publish; recorded from main at d2bdf25 with the test's harness: a
 * second `copy --incremental-by id --mode upsert` moving 500 rows). Runs in flight at deploy
 * replay this older sequence; new runs take the three-step one.
 */
const INCREMENTAL_HISTORY_FILE = fileURLToPath(
  new URL('../fixtures/histories/copy-table-incremental-five-steps.json', import.meta.url),
);

describe('copyTable replay of an incremental run from before the fewer-steps patch', { timeout: 120_000 }, () => {
  let history: History;
  before(async () => {
    history = historyFromJSON(JSON.parse(await readFile(INCREMENTAL_HISTORY_FILE, 'utf8')));
  });

  test('the recorded history is a completed five-activity incremental copyTable', () => {
    const events = history.events ?? [];
    const activities = events.flatMap((event) => {
      const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    assert.deepEqual(activities, ['planWindow', 'createStaging', 'exportImport', 'verifyCounts', 'publish']);
    assert.equal(events.at(-1)?.eventType, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  });

  test('it replays against the current workflow code', async () => {
    await Worker.runReplayHistory({ workflowsPath: workflowsPath(), replayName: 'copy-table-incremental' }, history);
  });

  test('it replays against the prebuilt bundle a compiled worker loads', async () => {
    const codePath = fileURLToPath(new URL('../../dist/workflow-bundle.js', import.meta.url));
    await Worker.runReplayHistory(
      { workflowBundle: { codePath }, replayName: 'copy-table-incremental-prebuilt' },
      history,
    );
  });
});
