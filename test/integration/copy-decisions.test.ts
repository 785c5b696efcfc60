/**
 * The copyTable workflow's decisions, tested fast with stubbed activities (as samples-typescript's
 * workflows.test.ts does) on a real local dev server: TestWorkflowEnvironment.createTimeSkipping
 * downloads a binary and cannot work offline, so src/dev/dev-server.ts runs the cached CLI.
 *
 * Issue 13 item 10: verifyCounts threw CountMismatch as retryable, so Temporal recounted the
 * unchanged staging five times with backoff before the workflow's one re-copy saw it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Activities } from '../../activities/index.js';
import { failure } from '../../activities/failures.js';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { CopyTableInput, CopyTableResult } from '../../src/shared/copy-spec.js';
import { createStubWorkers } from '../support/stub-workers.js';

const TABLE = { schema: 'public', table: 'decided' };
const STAGING = { schema: 'pgferry', table: 'stage_decided' };
const INPUT: CopyTableInput = { source: 'src', target: 'dst', table: TABLE, mode: 'replace' };
const INCREMENTAL_INPUT: CopyTableInput = { ...INPUT, mode: 'upsert', incremental: { column: 'id' } };
const WINDOW_PLAN = {
  key: { targetTable: 'public.decided', sourceProfile: 'src', sourceTable: 'public.decided', column: 'id' },
  type: 'bigint' as const,
  watermark: '10',
};

/** Which activity ran, and as which attempt of its retry policy. */
type Call = `${keyof Activities}#${number}`;

/** Stub activities: verifyCounts reports a mismatch for its first `mismatches` calls. */
function stubActivities(mismatches: number, calls: Call[]): Activities {
  const record = (name: keyof Activities) => calls.push(`${name}#${Context.current().info.attempt}`);
  let verified = 0;
  const stubs: Activities = {
    createStaging(input) {
      record('createStaging');
      return Promise.resolve({
        staging: STAGING,
        columns: ['id'],
        primaryKey: ['id'],
        selectForm: false,
        createdTarget: false,
        // An incremental run's createStaging plans the window too (patch 'incremental-fewer-steps').
        ...(input.incremental ? { window: { ...WINDOW_PLAN, low: '10' } } : {}),
      });
    },
    exportImport(input) {
      record('exportImport');
      const attempt = Context.current().info.attempt;
      // An incremental run's exportImport verifies staging itself.
      if (input.verifyStaged && ++verified <= mismatches) {
        return Promise.reject(
          failure(FailureType.CountMismatch, 'row counts differ: source 10, imported 10, staged 9'),
        );
      }
      const window = input.window ? { window: { column: 'id', low: input.window.low, high: '20', rows: 10 } } : {};
      return Promise.resolve({ bytes: 8192, importedRows: 10, sourceRows: 10, durationMs: 1, attempt, ...window });
    },
    verifyCounts() {
      record('verifyCounts');
      if (++verified <= mismatches) {
        return Promise.reject(
          failure(FailureType.CountMismatch, 'row counts differ: source 10, imported 10, staged 9'),
        );
      }
      return Promise.resolve({ stagedRows: 10 });
    },
    planWindow() {
      record('planWindow');
      return Promise.reject(new Error('planWindow runs only for incremental copies'));
    },
    publish() {
      record('publish');
      return Promise.resolve({ rows: 10, alreadyPublished: false, rebuiltIndexes: 0, swapped: false });
    },
    dropStaging() {
      record('dropStaging');
      return Promise.resolve();
    },
    // A table below the chunk size: the single-stream path these decisions are about.
    planChunks() {
      record('planChunks');
      return Promise.resolve({ consistency: 'snapshot' as const, total: 0 });
    },
    holdSnapshot: () => Promise.reject(new Error('not a chunked copy')),
    copyChunk: () => Promise.reject(new Error('not a chunked copy')),
    startChunkGeneration: () => Promise.reject(new Error('not a chunked copy')),
    forgetChunks: () => Promise.reject(new Error('not a chunked copy')),
    verifyChunks: () => Promise.reject(new Error('not a chunked copy')),
  };
  return stubs;
}

describe('copyTable decisions (stubbed activities)', () => {
  let server: DevServer;

  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // Already installed in this process.
    }
    server = await startDevServer({ ui: false });
  });

  after(async () => {
    await server?.teardown();
  });

  async function runWithStubs(name: string, mismatches: number, input: CopyTableInput = INPUT) {
    const calls: Call[] = [];
    const taskQueue = `decisions-${name}`;
    const worker = await createStubWorkers({
      connection: server.env.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      activities: stubActivities(mismatches, calls),
    });
    const outcome = await worker.runUntil(
      server.env.client.workflow
        .execute<(input: CopyTableInput) => Promise<CopyTableResult>>('copyTable', {
          taskQueue,
          workflowId: `decisions-${name}`,
          args: [input],
        })
        .then(
          (result) => ({ result, error: undefined }),
          (error: unknown) => ({ result: undefined, error }),
        ),
    );
    return { ...outcome, calls };
  }

  test('one count mismatch earns exactly one re-copy, with no retry of verifyCounts, then publishes', async () => {
    const { result, error, calls } = await runWithStubs('once', 1);
    assert.equal(error, undefined);
    assert.equal(result?.rows, 10);
    assert.deepEqual(calls, [
      'planChunks#1',
      'createStaging#1',
      'exportImport#1',
      'verifyCounts#1',
      'exportImport#1',
      'verifyCounts#1',
      'publish#1',
    ]);
  });

  test('a second count mismatch fails the run as CountMismatch after two counts, and drops staging', async () => {
    const { error, calls } = await runWithStubs('twice', 2);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ActivityFailure);
    assert.ok(error.cause.cause instanceof ApplicationFailure);
    assert.equal(error.cause.cause.type, FailureType.CountMismatch);
    assert.deepEqual(calls, [
      'planChunks#1',
      'createStaging#1',
      'exportImport#1',
      'verifyCounts#1',
      'exportImport#1',
      'verifyCounts#1',
      'dropStaging#1',
    ]);
  });

  test('an incremental run is createStaging (local), exportImport and publish; its mismatch earns one re-copy', async () => {
    const { result, error, calls } = await runWithStubs('incremental-once', 1, INCREMENTAL_INPUT);
    assert.equal(error, undefined);
    assert.deepEqual(result?.window, { column: 'id', low: '10', high: '20', rows: 10 });
    assert.deepEqual(calls, ['createStaging#1', 'exportImport#1', 'exportImport#1', 'publish#1']);
  });

  test('a second mismatch of an incremental run fails it as CountMismatch and drops staging', async () => {
    const { error, calls } = await runWithStubs('incremental-twice', 2, INCREMENTAL_INPUT);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ActivityFailure);
    assert.ok(error.cause.cause instanceof ApplicationFailure);
    assert.equal(error.cause.cause.type, FailureType.CountMismatch);
    assert.deepEqual(calls, ['createStaging#1', 'exportImport#1', 'exportImport#1', 'dropStaging#1']);
  });
});
