/**
 * findPsql: Debian's pg_wrapper on PATH is replaced by the newest installed client it would
 * exec; any other psql on PATH is launched as it is. Built in a temporary directory laid out as
 * postgresql-common lays out /usr: bin/psql -> share/postgresql-common/pg_wrapper, and
 * lib/postgresql/<major>/bin/psql.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { findPsql } from '../../src/pipe/launcher.js';

let root: string;

async function executable(file: string): Promise<string> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, '#!/bin/sh\nexit 0\n');
  await chmod(file, 0o755);
  return file;
}

/** `<root>/usr/bin/psql` pointing at a pg_wrapper, with a client psql per major given. */
async function debianLayout(majors: string[]): Promise<{ path: string; clients: string }> {
  const wrapper = await executable(join(root, 'usr/share/postgresql-common/pg_wrapper'));
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await symlink(wrapper, join(root, 'usr/bin/psql'));
  for (const major of majors) await executable(join(root, 'usr/lib/postgresql', major, 'bin/psql'));
  return { path: join(root, 'usr/bin'), clients: join(root, 'usr/lib/postgresql') };
}

describe('findPsql', () => {
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pgferry-find-psql-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('pg_wrapper on PATH: the newest major client, compared as numbers (9.6 < 13 < 17)', async () => {
    const { path, clients } = await debianLayout(['9.6', '13', '17']);
    assert.equal(findPsql(path, clients), join(clients, '17/bin/psql'));
  });

  test('a major directory without psql is passed over, as pg_wrapper does', async () => {
    const { path, clients } = await debianLayout(['13']);
    await mkdir(join(clients, '16/bin'), { recursive: true });
    assert.equal(findPsql(path, clients), join(clients, '13/bin/psql'));
  });

  test('pg_wrapper with no client installed: the wrapper itself, which reports the missing client', async () => {
    const { path, clients } = await debianLayout([]);
    assert.equal(findPsql(path, clients), join(path, 'psql'));
  });

  test('a psql that is not the wrapper is launched as found on PATH', async () => {
    const own = await executable(join(root, 'opt/pg/bin/psql'));
    await executable(join(root, 'usr/lib/postgresql/17/bin/psql'));
    assert.equal(findPsql(join(root, 'opt/pg/bin'), join(root, 'usr/lib/postgresql')), own);
  });

  test('no psql on PATH: undefined', () => {
    assert.equal(findPsql(join(root, 'empty'), join(root, 'usr/lib/postgresql')), undefined);
  });
});
