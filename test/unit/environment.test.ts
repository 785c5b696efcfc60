/**
 * The Temporal connection settings come from Temporal's client configuration: TEMPORAL_*
 * variables over a config-file profile, with pgferry's defaults only for address and namespace;
 * the worker's log settings come from PGFERRY_LOG_FORMAT and PGFERRY_LOG_LEVEL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { temporalSettings } from '../../src/config/environment.js';
import { jsonLine, LogSettingError, logSettings } from '../../src/worker/logging.js';

describe('temporalSettings', () => {
  let dir: string;
  let configFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-envconfig-'));
    configFile = join(dir, 'temporal.toml');
    await writeFile(join(dir, 'ca.pem'), 'CA PEM');
    await writeFile(
      configFile,
      [
        '[profile.default]',
        'address = "default-host:7233"',
        '[profile.cloud]',
        'address = "ns.acct.tmprl.cloud:7233"',
        'namespace = "ns.acct"',
        'api_key = "secret-key"',
        '[profile.cloud.tls]',
        `server_ca_cert_path = "${join(dir, 'ca.pem')}"`,
        'server_name = "ns.acct.tmprl.cloud"',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('with nothing configured it is the local dev server, plain, namespace default, task queue pgferry', () => {
    assert.deepEqual(temporalSettings({ HOME: dir }), {
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'pgferry',
    });
  });

  test('TEMPORAL_PROFILE picks a profile of TEMPORAL_CONFIG_FILE with its API key and TLS settings', () => {
    const settings = temporalSettings({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(settings.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(settings.namespace, 'ns.acct');
    assert.equal(settings.connection?.apiKey, 'secret-key');
    const tls = settings.connection?.tls;
    assert.ok(tls && typeof tls === 'object');
    assert.equal(tls.serverNameOverride, 'ns.acct.tmprl.cloud');
    assert.equal(Buffer.from(tls.serverRootCACertificate!).toString(), 'CA PEM');
  });

  test('TEMPORAL_* variables override the profile, and an empty variable counts as unset', () => {
    const settings = temporalSettings({
      TEMPORAL_CONFIG_FILE: configFile,
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_NAMESPACE: 'other',
      TEMPORAL_ADDRESS: '',
      PGFERRY_TASK_QUEUE: 'q',
    });
    assert.equal(settings.namespace, 'other');
    assert.equal(settings.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(settings.taskQueue, 'q');
  });

  test('the default profile of the config file applies without TEMPORAL_PROFILE', () => {
    assert.equal(temporalSettings({ TEMPORAL_CONFIG_FILE: configFile }).address, 'default-host:7233');
  });

  test('TEMPORAL_TLS=true turns TLS on with the system CAs', () => {
    const settings = temporalSettings({ HOME: dir, TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: 'true' });
    assert.ok(settings.connection?.tls, 'TLS is on');
  });

  test('a TEMPORAL_PROFILE the file lacks is an error naming the profile', () => {
    assert.throws(
      () => temporalSettings({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'nope' }),
      /cannot read the Temporal client configuration: Profile 'nope' not found/,
    );
  });
});

describe('logSettings', () => {
  test('defaults to text at info', () => {
    assert.deepEqual(logSettings({}), { format: 'text', level: 'INFO' });
  });

  test('reads json and a level in any case', () => {
    assert.deepEqual(logSettings({ PGFERRY_LOG_FORMAT: 'JSON', PGFERRY_LOG_LEVEL: 'Debug' }), {
      format: 'json',
      level: 'DEBUG',
    });
  });

  test('an unknown format or level is a LogSettingError naming the variable', () => {
    assert.throws(() => logSettings({ PGFERRY_LOG_FORMAT: 'xml' }), LogSettingError);
    assert.throws(() => logSettings({ PGFERRY_LOG_LEVEL: 'loud' }), /PGFERRY_LOG_LEVEL: "loud" is not one of/);
  });
});

describe('jsonLine', () => {
  test('puts time, level and message first and the attributes as fields, bigints as strings', () => {
    const line = jsonLine({
      level: 'INFO',
      message: 'Activity completed',
      timestampNanos: 1_700_000_000_123_000_000n,
      meta: { workflowId: 'w', attempt: 2, durationNanos: 5n },
    });
    assert.deepEqual(JSON.parse(line), {
      time: '2023-11-14T22:13:20.123Z',
      level: 'INFO',
      message: 'Activity completed',
      workflowId: 'w',
      attempt: 2,
      durationNanos: '5',
    });
  });
});
