import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canConnect } from '../support/network.js';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { findFreePort } from '../../src/dev/pg-cluster.js';
import { PGFERRY_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';

// temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD (@temporalio/proto is not a direct dependency).
const INDEXED_VALUE_TYPE_KEYWORD = 2;

describe('Temporal dev server', { timeout: 180_000 }, () => {
  let server: DevServer;
  const progress: string[] = [];

  before(async () => {
    server = await startDevServer({ onProgress: (message) => progress.push(message) });
  });
  after(async () => {
    await server?.teardown();
  });

  test('starts the real server on a loopback address in the default namespace', async () => {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.namespace, 'default');
    const { namespaceInfo } = await server.env.connection.workflowService.describeNamespace({ namespace: 'default' });
    assert.equal(namespaceInfo?.name, 'default');
    assert.ok(progress.some((message) => message.includes(server.address)));
  });

  test('registers the four pgferry search attributes as keywords', async () => {
    const { customAttributes } = await server.env.connection.operatorService.listSearchAttributes({
      namespace: 'default',
    });
    assert.equal(PGFERRY_SEARCH_ATTRIBUTES.length, 4);
    for (const { name } of PGFERRY_SEARCH_ATTRIBUTES) {
      assert.equal(customAttributes?.[name], INDEXED_VALUE_TYPE_KEYWORD, name);
    }
  });

  test('the UI answers 200 on its own port', async () => {
    assert.ok(server.uiUrl, 'uiUrl is set when the UI is on');
    assert.match(server.uiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(server.uiUrl).port, server.address.split(':')[1]);
    const response = await fetch(server.uiUrl);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<html/i);
  });

  test('teardown stops the server and the UI and can be called twice', async () => {
    const uiUrl = server.uiUrl ?? '';
    await server.teardown();
    await server.teardown();
    assert.equal(await canConnect(server.address), false);
    await assert.rejects(fetch(uiUrl));
  });
});

describe('Temporal dev server without UI', { timeout: 120_000 }, () => {
  test('ui: false starts a headless server on the requested port', async () => {
    const port = await findFreePort();
    const server = await startDevServer({ ui: false, port });
    try {
      assert.equal(server.address, `127.0.0.1:${port}`);
      assert.equal(server.uiUrl, undefined);
      await server.env.connection.workflowService.getSystemInfo({});
    } finally {
      await server.teardown();
    }
  });
});
