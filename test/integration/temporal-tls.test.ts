/**
 * Issue 15: the CLI and the worker reach a secured Temporal through Temporal's own client
 * configuration only. A mutual-TLS endpoint (haproxy with a throwaway CA, see tls-endpoint.ts)
 * stands in front of the dev server; the worker is configured by TEMPORAL_* variables, the CLI
 * by a config-file profile (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE), and both copy a table.
 * The same endpoint refuses a client without the certificate, and says so.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { findFreePort } from '../../src/dev/pg-cluster.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { startTlsEndpoint, type TlsEndpoint } from '../support/tls-endpoint.js';
import {
  assertExitedOk,
  createCopyHarness,
  makeTable,
  parseJson,
  REPO_ROOT,
  tableDigestOf,
  type CliResult,
  type CopyHarness,
} from '../support/copy-harness.js';

function without(env: Record<string, string>, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !keys.includes(key)));
}

const TABLE: TableRef = { schema: 'public', table: 'tls_orders' };

describe('Temporal over mutual TLS (issue 15)', { timeout: 300_000 }, () => {
  let h: CopyHarness;
  let endpoint: TlsEndpoint;
  const children: ResultPromise[] = [];

  /** `pgferry` with the harness's task queue and profiles, and only the given TEMPORAL_* settings. */
  const pgferry = (args: string[], temporalEnv: Record<string, string>) => {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('PGFERRY_') && !key.startsWith('TEMPORAL_')),
    );
    const own = Object.fromEntries(Object.entries(h.cliEnv).filter(([key]) => !key.startsWith('TEMPORAL_')));
    const child = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...base, ...own, ...temporalEnv },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
    });
    children.push(child);
    return child;
  };
  const done = async (child: ResultPromise): Promise<CliResult> => {
    const result = await child;
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    };
  };
  const mtlsEnv = () => ({
    TEMPORAL_ADDRESS: endpoint.address,
    TEMPORAL_NAMESPACE: h.server.namespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: endpoint.caCertPath,
    TEMPORAL_TLS_SERVER_NAME: endpoint.serverName,
    TEMPORAL_TLS_CLIENT_CERT_PATH: endpoint.clientCertPath,
    TEMPORAL_TLS_CLIENT_KEY_PATH: endpoint.clientKeyPath,
  });

  before(async () => {
    h = await createCopyHarness({ name: 'temporal-tls', worker: false });
    endpoint = await startTlsEndpoint(h.server.address);
  });
  after(async () => {
    for (const child of children) {
      child.kill('SIGTERM');
      await child;
    }
    await endpoint?.close();
    await h?.close();
  });

  test('a worker on TEMPORAL_TLS_* variables and the CLI on a config-file profile copy a table through mTLS', async () => {
    await makeTable(h.sourceUrl, TABLE, { to: 5_000 });
    const worker = pgferry(['worker'], mtlsEnv());
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      worker.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('worker on')) resolve();
      });
      void worker.then(() => reject(new Error(`worker exited early: ${stderr}`)));
    });

    const configFile = join(endpoint.dir, 'temporal.toml');
    await writeFile(
      configFile,
      [
        '[profile.secured]',
        `address = "${endpoint.address}"`,
        `namespace = "${h.server.namespace}"`,
        '[profile.secured.tls]',
        `server_ca_cert_path = "${endpoint.caCertPath}"`,
        `server_name = "${endpoint.serverName}"`,
        `client_cert_path = "${endpoint.clientCertPath}"`,
        `client_key_path = "${endpoint.clientKeyPath}"`,
        '',
      ].join('\n'),
    );
    const copy = await done(
      pgferry(
        ['copy', '--source', 'source', '--target', 'target', '--table', 'public.tls_orders', '--wait', '--json'],
        {
          TEMPORAL_CONFIG_FILE: configFile,
          TEMPORAL_PROFILE: 'secured',
        },
      ),
    );
    assertExitedOk(copy);
    const outcome = parseJson<{ status: string; rows: number }>(copy);
    assert.equal(outcome.status, 'COMPLETED');
    assert.equal(outcome.rows, 5_000);
    assert.deepEqual(await tableDigestOf(h.targetUrl, TABLE), await tableDigestOf(h.sourceUrl, TABLE));
  });

  test('the CLI without a client certificate is refused with a line that names the missing certificate', async () => {
    const withoutCert = without(mtlsEnv(), 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
    const result = await done(pgferry(['list'], withoutCert));
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`cannot connect to Temporal at ${endpoint.address} over TLS`));
    assert.match(result.stderr, /demands a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH/);
  });

  test('a worker without a client certificate exits non-zero with a line that names the missing certificate', async () => {
    const withoutCert = without(mtlsEnv(), 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
    const result = await done(pgferry(['worker'], withoutCert));
    assert.notEqual(result.exitCode, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`cannot start the worker against Temporal at ${endpoint.address} over TLS`));
    assert.match(result.stderr, /demands a client certificate/);
  });

  test('a client that does not trust the server CA is refused with a line that names TEMPORAL_TLS_SERVER_CA_CERT_PATH', async () => {
    const untrusting = without(mtlsEnv(), 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    const result = await done(pgferry(['list'], untrusting));
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /TLS handshake failed: .*TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  });

  test('with TLS on and nothing listening, the CLI says it cannot reach Temporal, not that TLS failed', async () => {
    const port = await findFreePort();
    const result = await done(
      pgferry(['list'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_TLS: 'true', PGFERRY_TEMPORAL_RETRY: '2s' }),
    );
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`Temporal at 127\\.0\\.0\\.1:${port} over TLS did not answer; tried for`));
    assert.doesNotMatch(result.stderr, /TLS handshake failed/);
  });
});
