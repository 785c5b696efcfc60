/** workerSettings: the PGFERRY_* worker variables, their defaults and their errors. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultMaxPipes, workerSettings, WorkerSettingsError } from '../../src/config/worker-settings.js';

describe('workerSettings', () => {
  test('defaults to two pipes per core, a 30 s grace and no metrics endpoint', () => {
    assert.deepEqual(workerSettings({}), {
      maxPipes: defaultMaxPipes(),
      shutdownGraceMs: 30_000,
      metricsAddress: undefined,
    });
  });

  test('reads the pipe cap, the grace as a duration and the metrics address', () => {
    assert.deepEqual(
      workerSettings({ PGFERRY_MAX_PIPES: '3', PGFERRY_SHUTDOWN_GRACE: '2m', PGFERRY_METRICS_ADDRESS: '0.0.0.0:9464' }),
      { maxPipes: 3, shutdownGraceMs: 120_000, metricsAddress: '0.0.0.0:9464' },
    );
  });

  test('refuses values it cannot use, naming the variable', () => {
    assert.throws(() => workerSettings({ PGFERRY_MAX_PIPES: '0' }), WorkerSettingsError);
    assert.throws(() => workerSettings({ PGFERRY_MAX_PIPES: 'two' }), /PGFERRY_MAX_PIPES/);
    assert.throws(() => workerSettings({ PGFERRY_SHUTDOWN_GRACE: 'soon' }), /PGFERRY_SHUTDOWN_GRACE/);
    assert.throws(() => workerSettings({ PGFERRY_METRICS_ADDRESS: 'http://x/metrics' }), /PGFERRY_METRICS_ADDRESS/);
  });
});
