/**
 * A TLS endpoint in front of a Temporal dev server that demands a client certificate: Debian's
 * haproxy terminating mutual TLS with certificates from a throwaway CA that openssl makes here.
 * What a secured Temporal cluster or Temporal Cloud looks like to a client, on loopback.
 *
 * Not stunnel4: stunnel 5.68 cannot negotiate ALPN, and the SDK's core (tonic) refuses a TLS
 * server that does not select `h2` (`ConnectError(H2NotNegotiated)`), so the worker could never
 * connect through it; haproxy's `alpn h2` does what a real gRPC endpoint does.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { findFreePort } from '../../src/dev/pg-cluster.js';
import { canConnect } from './network.js';

export interface TlsEndpoint {
  /** `127.0.0.1:<port>` where haproxy accepts mutual TLS. */
  address: string;
  /** The name in the server certificate (also valid: IP 127.0.0.1). */
  serverName: string;
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  dir: string;
  close(): Promise<void>;
}

const SERVER_NAME = 'temporal.pgferry.test';

async function openssl(dir: string, args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: dir });
}

/** A CA, then a certificate for `name` signed by it (server or client use). */
async function issue(dir: string, name: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    `/CN=${name}`,
    '-out',
    `${name}.csr`,
  ]);
  await openssl(dir, [
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
  ]);
}

/**
 * Makes the CA and certificates, starts haproxy in the foreground (`verify required`: a client
 * without a certificate signed by the CA is refused during the handshake) forwarding TCP to
 * `upstream`, and waits until it accepts.
 * @throws Error when openssl or haproxy is missing or haproxy does not come up.
 */
export async function startTlsEndpoint(upstream: string): Promise<TlsEndpoint> {
  const dir = await mkdtemp(join(tmpdir(), 'pgferry-tls-'));
  let proxy: ResultPromise | undefined;
  try {
    await openssl(dir, [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-days', '2'],
      ...['-subj', '/CN=pgferry test CA', '-out', 'ca.crt'],
    ]);
    await issue(dir, 'server', `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
    await issue(dir, 'client', 'extendedKeyUsage=clientAuth\n');
    const pem = (await readFile(join(dir, 'server.crt'), 'utf8')) + (await readFile(join(dir, 'server.key'), 'utf8'));
    await writeFile(join(dir, 'server.pem'), pem);
    const port = await findFreePort();
    await writeFile(
      join(dir, 'haproxy.cfg'),
      [
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        // Workers long-poll for minutes; the proxy must not cut an idle poll.
        '  timeout client 1h',
        '  timeout server 1h',
        'frontend temporal',
        `  bind 127.0.0.1:${port} ssl crt ${join(dir, 'server.pem')} ca-file ${join(dir, 'ca.crt')} verify required alpn h2`,
        '  default_backend devserver',
        'backend devserver',
        `  server dev ${upstream}`,
        '',
      ].join('\n'),
    );
    proxy = execa('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { reject: false, stdin: 'ignore', all: true });
    const address = `127.0.0.1:${port}`;
    const until = Date.now() + 15_000;
    while (!(await canConnect(address))) {
      if (proxy.exitCode !== null || Date.now() > until) {
        proxy.kill('SIGTERM');
        const result = await proxy;
        throw new Error(`haproxy did not start on ${address}: ${String(result.all)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const running = proxy;
    return {
      address,
      serverName: SERVER_NAME,
      caCertPath: join(dir, 'ca.crt'),
      clientCertPath: join(dir, 'client.crt'),
      clientKeyPath: join(dir, 'client.key'),
      dir,
      async close() {
        running.kill('SIGTERM');
        await running;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    proxy?.kill('SIGTERM');
    await proxy;
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
