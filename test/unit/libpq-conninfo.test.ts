/** psqlConninfo / poolConnectionConfig: one profile means the same thing to psql and to the pool. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeOptions, poolConnectionConfig, psqlConninfo } from '../../src/config/libpq-conninfo.js';

const PINNED = '-c DateStyle=ISO';

describe('psqlConninfo', () => {
  test('removes the password from the user part and from the parameters', () => {
    const conninfo = psqlConninfo('postgres://app:s3cr%40t@db:5432/sales?password=other&sslmode=require', PINNED);
    assert.doesNotMatch(conninfo, /s3cr|other/);
    assert.match(conninfo, /^postgres:\/\/app@db:5432\/sales\?sslmode=require&options=/);
  });

  test("keeps every other libpq option as written, several hosts included, and appends the pinned settings to the user's options", () => {
    const conninfo = psqlConninfo(
      'postgresql://app@h1:5432,h2:5433/db?target_session_attrs=read-write&options=-c%20search_path%3Dx&keepalives_idle=30&service=erp',
      PINNED,
    );
    assert.equal(
      conninfo,
      'postgresql://app@h1:5432,h2:5433/db?target_session_attrs=read-write&keepalives_idle=30&service=erp&options=' +
        encodeURIComponent('-c search_path=x -c DateStyle=ISO'),
    );
  });

  test('leaves application_name and client_encoding to pgferry, which names and pins each psql session', () => {
    const conninfo = psqlConninfo(
      'postgres://app@db/x?application_name=mine&client_encoding=LATIN1&sslmode=disable',
      PINNED,
    );
    assert.equal(conninfo, `postgres://app@db/x?sslmode=disable&options=${encodeURIComponent(PINNED)}`);
  });

  test('refuses a profile that is not a postgres URI', () => {
    assert.throws(() => psqlConninfo('host=db dbname=x', PINNED), /postgres:\/\/ or postgresql:\/\/ URI/);
  });
});

describe('poolConnectionConfig', () => {
  test("follows libpq's sslmode=require: encrypted, certificate not verified", () => {
    const config = poolConnectionConfig('postgres://app:pw@db/x?sslmode=require', PINNED);
    assert.deepEqual(config.ssl, { rejectUnauthorized: false });
    assert.equal(config.password, 'pw');
  });

  test("puts the pinned settings after the user's options and maps keepalives and connect_timeout", () => {
    const config = poolConnectionConfig(
      'postgres://app@db:6432/x?options=-c%20search_path%3Dx&keepalives_idle=30&connect_timeout=7',
      PINNED,
    );
    assert.equal(config.options, '-c search_path=x -c DateStyle=ISO');
    assert.equal(config.port, 6432);
    assert.equal(config.keepAlive, true);
    assert.equal(config.keepAliveInitialDelayMillis, 30_000);
    assert.equal(config.connectionTimeoutMillis, 7_000);
  });

  test('uses the pinned settings alone when the profile has no options', () => {
    assert.equal(mergeOptions(undefined, PINNED), PINNED);
    assert.equal(poolConnectionConfig('postgres://db/x', PINNED).options, PINNED);
  });
});
