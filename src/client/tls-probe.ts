/**
 * Why a TLS connection to Temporal failed, in words. The gRPC client reports any handshake
 * failure as "Failed to connect before the deadline"; one TLS handshake with the same settings
 * tells a missing client certificate from an untrusted server certificate or a wrong name.
 */
import { connect } from 'node:tls';
import type { TemporalSettings } from '../config/environment.js';

const ALERT_WAIT_MS = 3_000;
/** A probe that gets no answer at all says nothing about TLS; the caller's own message stands. */
const PROBE_TIMEOUT_MS = 10_000;

const HINTS: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    "the server demands a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or client_cert_path and client_key_path in the profile's tls table",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    'the server refused the handshake (a client certificate is probably required: TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server does not accept this client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the CA that signed this client certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'the server certificate is not signed by a trusted CA: set TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  SELF_SIGNED_CERT_IN_CHAIN:
    'the server certificate is not signed by a trusted CA: set TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed: set TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this host: set TEMPORAL_TLS_SERVER_NAME',
};

/**
 * Makes one TLS handshake to `settings.address` as the gRPC client would (same CA, client
 * certificate, server name, ALPN h2) and returns what went wrong, or undefined when TLS is off
 * or the handshake succeeds. Never throws; certificate and key contents never appear in the text.
 */
export async function diagnoseTls(settings: TemporalSettings): Promise<string | undefined> {
  const tls = settings.connection?.tls;
  if (!tls) return undefined;
  const options = typeof tls === 'object' ? tls : {};
  const [host = '127.0.0.1', port = '7233'] = splitAddress(settings.address);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (problem: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(problem);
    };
    const socket = connect({
      host,
      port: Number(port),
      servername: options.serverNameOverride ?? (isIp(host) ? undefined : host),
      ca: pem(options.serverRootCACertificate),
      cert: pem(options.clientCertPair?.crt),
      key: pem(options.clientCertPair?.key),
      ALPNProtocols: ['h2'],
    });
    setTimeout(() => finish(undefined), PROBE_TIMEOUT_MS).unref();
    // TLS 1.3 sends a refused client certificate's alert after the client's handshake is done.
    socket.once('secureConnect', () => setTimeout(() => finish(undefined), ALERT_WAIT_MS).unref());
    socket.once('error', (error: NodeJS.ErrnoException & { reason?: string }) => {
      const hint = error.code ? HINTS[error.code] : undefined;
      // Refused or unreachable (ECONNREFUSED, ENOTFOUND, ...) is not a TLS problem.
      if (!hint && error.reason === undefined) return finish(undefined);
      finish(`TLS handshake failed: ${error.reason ?? error.message}${hint ? ` (${hint})` : ''}`);
    });
    socket.once('end', () => finish(undefined));
  });
}

function pem(data: Uint8Array | undefined): Buffer | undefined {
  return data === undefined ? undefined : Buffer.from(data);
}

function splitAddress(address: string): [string, string] {
  const index = address.lastIndexOf(':');
  return index < 0 ? [address, '7233'] : [address.slice(0, index).replace(/^\[|\]$/g, ''), address.slice(index + 1)];
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
