/**
 * A start whose answer was lost (issue 12 item 8): the server started the workflow but the
 * client saw a transient error, so the retried start meets "already started". It must take
 * the run as its own when this client started it, and still refuse another client's run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { startWithRetry } from '../../src/client/temporal-retry.js';

/** An error shaped like @grpc/grpc-js's ServiceError with status UNAVAILABLE. */
const lostAnswer = () =>
  Object.assign(new Error('14 UNAVAILABLE: connection reset'), { code: 14, details: 'connection reset', metadata: {} });

describe('startWithRetry', () => {
  let server: DevServer;
  const retry = { address: 'dev server', budgetMs: 30_000 };

  before(async () => {
    server = await startDevServer({ ui: false });
  });

  after(async () => {
    await server?.teardown();
  });

  /** Starts a workflow no worker runs (it stays RUNNING); the first call's answer is "lost". */
  function startLosingFirstAnswer(client: Client, workflowId: string) {
    let calls = 0;
    return async () => {
      const handle = await client.workflow.start('neverRuns', {
        taskQueue: 'nobody',
        workflowId,
        workflowIdConflictPolicy: 'FAIL',
      });
      if (++calls === 1) throw lostAnswer();
      return handle;
    };
  }

  test('a start that reached the server but lost its answer returns that run', async () => {
    const client = server.env.client;
    const handle = await startWithRetry<WorkflowHandle>(
      client,
      'lost-answer',
      retry,
      startLosingFirstAnswer(client, 'lost-answer'),
    );
    const description = await handle.describe();
    assert.equal(handle.firstExecutionRunId, description.runId);
    assert.equal(description.status.name, 'RUNNING');
    await handle.terminate('test done');
  });

  test("another client's running workflow is still refused as already started", async () => {
    const other = new Client({ connection: server.env.connection, identity: 'someone-else@elsewhere' });
    const theirs = await other.workflow.start('neverRuns', { taskQueue: 'nobody', workflowId: 'taken' });
    const client = server.env.client;
    let calls = 0;
    await assert.rejects(
      startWithRetry<WorkflowHandle>(client, 'taken', retry, async () => {
        if (++calls === 1) throw lostAnswer();
        return client.workflow.start('neverRuns', {
          taskQueue: 'nobody',
          workflowId: 'taken',
          workflowIdConflictPolicy: 'FAIL',
        });
      }),
      WorkflowExecutionAlreadyStartedError,
    );
    await theirs.terminate('test done');
  });
});
