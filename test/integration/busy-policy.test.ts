/**
 * The workflow's TargetBusy decision, with stubbed activities on a real dev server: a manual
 * copy (onBusy: fail) fails at the first TargetBusy, so `pgferry copy` can refuse at once; a
 * scheduled or batched copy (onBusy: wait, the default) retries it with backoff and completes
 * once the holder is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Activities } from '../../activities/index.js';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import type { CopyTableInput, OnBusy } from '../../src/shared/copy-spec.js';
import { FailureType } from '../../src/shared/failure-types.js';
import { createStubWorkers, type StubWorkers } from '../support/stub-workers.js';

const TASK_QUEUE = 'pgferry-test-busy-policy';
const TABLE = { schema: 'public', table: 'busy' };

describe('TargetBusy policy (issue 12.1)', { timeout: 120_000 }, () => {
  let server: DevServer;
  let worker: StubWorkers;
  let running: Promise<void>;
  /** createStaging calls per workflow id; the first of each fails as TargetBusy. */
  const calls = new Map<string, number>();

  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // Already installed in this process.
    }
    server = await startDevServer({ ui: false });
    const stubs: Partial<Record<keyof Activities, (input: never) => Promise<unknown>>> = {
      createStaging: () => {
        const id = Context.current().info.workflowExecution?.workflowId ?? '';
        calls.set(id, (calls.get(id) ?? 0) + 1);
        if (calls.get(id) === 1) {
          return Promise.reject(
            ApplicationFailure.create({
              type: FailureType.TargetBusy,
              message: 'public.busy is being copied by holder',
            }),
          );
        }
        return Promise.resolve({
          staging: { schema: 'public', table: 'pgferry_stg_x' },
          columns: ['id'],
          primaryKey: [],
          selectForm: false,
          createdTarget: false,
        });
      },
      exportImport: () => Promise.resolve({ bytes: 1, importedRows: 1, sourceRows: 1, durationMs: 1, attempt: 1 }),
      verifyCounts: () => Promise.resolve({ stagedRows: 1 }),
      publish: () => Promise.resolve({ rows: 1, alreadyPublished: false, rebuiltIndexes: 0, swapped: false }),
      dropStaging: () => Promise.resolve(),
      // Below the chunk size: the single-stream path.
      planChunks: () => Promise.resolve({ consistency: 'snapshot', total: 0 }),
    };
    worker = await createStubWorkers({
      connection: server.env.nativeConnection,
      namespace: server.namespace,
      taskQueue: TASK_QUEUE,
      activities: stubs,
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await server?.teardown();
  });

  const copy = (workflowId: string, onBusy?: OnBusy) => {
    const input: CopyTableInput = {
      source: 's',
      target: 't',
      table: TABLE,
      mode: 'append',
      ...(onBusy ? { onBusy } : {}),
    };
    return server.env.client.workflow.execute('copyTable', { taskQueue: TASK_QUEUE, workflowId, args: [input] });
  };

  test('onBusy fail: the first TargetBusy fails the run without a retry', async () => {
    const error = await copy('busy-fail', 'fail').then(
      () => assert.fail('the run completed'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const cause = error.cause?.cause;
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    assert.equal(cause.type, FailureType.TargetBusy);
    assert.equal(calls.get('busy-fail'), 1);
  });

  test('onBusy wait (default): TargetBusy is retried and the run completes once the target is free', async () => {
    const result = (await copy('busy-wait')) as { rows: number };
    assert.equal(result.rows, 1);
    assert.equal(calls.get('busy-wait'), 2);
  });
});
