/**
 * Pipe work directories: named for the machine and worker process, and swept at worker start
 * once their process is gone (a worker killed by SIGKILL leaves its FIFO stock and pipe files).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { makeWorkDir, sweepAbandonedWorkDirs } from '../../src/pipe/work-dirs.js';

let parent: string;

describe('pipe work directories', () => {
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'pgferry-work-dirs-'));
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  test("a sweep removes this machine's directories whose process has ended, and nothing else", async () => {
    const mine = await makeWorkDir('chunk', parent);
    const hostTag = /^pgferry-([0-9a-f]{8})-/.exec(mine.slice(parent.length + 1))![1]!;
    const ended = spawnSync('true').pid;
    const abandoned = ['fifos', 'pipe', 'chunk'].map((purpose) => `pgferry-${hostTag}-${ended}-${purpose}-AbC123`);
    const otherHost = `pgferry-${hostTag === '00000000' ? '11111111' : '00000000'}-${ended}-pipe-AbC123`;
    const devCluster = 'pgferry-source-AbC123';
    for (const name of [...abandoned, otherHost, devCluster]) {
      mkdirSync(join(parent, name));
      writeFileSync(join(parent, name, 'export.tags'), 'COPY 1\n');
    }

    const removed = await sweepAbandonedWorkDirs(parent);

    assert.deepEqual(removed.sort(), [...abandoned].sort());
    assert.deepEqual(
      readdirSync(parent).sort(),
      [mine.slice(parent.length + 1), otherHost, devCluster].sort(),
      "the live process's directory, another machine's and other pgferry directories stay",
    );
  });
});
