import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { locateTemporalCli, TEMPORAL_CLI_VERSION, temporalCacheDir } from '../../src/dev/temporal-cli.js';

describe('locating the temporal CLI', () => {
  let dir: string;
  let pathDir: string;
  let onPath: string;
  let explicit: string;

  async function executable(path: string): Promise<string> {
    await writeFile(path, '#!/bin/sh\nexit 0\n');
    await chmod(path, 0o755);
    return path;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-temporal-cli-test-'));
    pathDir = join(dir, 'bin');
    await mkdir(pathDir);
    onPath = await executable(join(pathDir, 'temporal'));
    explicit = await executable(join(dir, 'my-temporal'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('TEMPORAL_CLI pointing to a missing file is a clear error', async () => {
    const missing = join(dir, 'no-such-temporal');
    await assert.rejects(locateTemporalCli({ env: { TEMPORAL_CLI: missing, PATH: pathDir } }), (error: Error) => {
      assert.match(error.message, /TEMPORAL_CLI/);
      assert.ok(error.message.includes(missing), error.message);
      assert.match(error.message, /not an executable file/);
      return true;
    });
  });

  test('TEMPORAL_CLI pointing to a file that is not executable is a clear error', async () => {
    const plain = join(dir, 'plain-file');
    await writeFile(plain, 'not a program');
    await assert.rejects(locateTemporalCli({ env: { TEMPORAL_CLI: plain, PATH: pathDir } }), /not an executable file/);
  });

  test('TEMPORAL_CLI pointing to an executable wins over temporal on PATH', async () => {
    const found = await locateTemporalCli({ env: { TEMPORAL_CLI: explicit, PATH: pathDir } });
    assert.deepEqual(found, { type: 'existing-path', path: explicit });
  });

  test('without TEMPORAL_CLI, temporal on PATH wins over the cache', async () => {
    const cache = join(dir, 'cache-with-binary');
    await mkdir(temporalCacheDir({ PGFERRY_CACHE_DIR: cache }), { recursive: true });
    await executable(join(temporalCacheDir({ PGFERRY_CACHE_DIR: cache }), 'temporal'));
    const found = await locateTemporalCli({ env: { PATH: `/nonexistent:${pathDir}`, PGFERRY_CACHE_DIR: cache } });
    assert.deepEqual(found, { type: 'existing-path', path: onPath });
  });

  test('the cached build is used when nothing is on PATH', async () => {
    const cache = join(dir, 'cache-with-binary');
    const found = await locateTemporalCli({ env: { PATH: join(dir, 'empty'), PGFERRY_CACHE_DIR: cache } });
    assert.deepEqual(found, { type: 'existing-path', path: join(cache, 'temporal-cli-1.5.1', 'temporal') });
  });

  test('with Go on PATH, the CLI is go-installed once into the cache, with a visible message first', async () => {
    const goDir = join(dir, 'go-ok');
    await mkdir(goDir);
    // A stand-in `go` that installs a fake binary into $GOBIN, as `go install` does, noting its arguments
    // in it. Only absolute paths inside: PATH holds nothing but this directory.
    const script =
      '#!/bin/sh\nprintf "#!/bin/sh\\n# %s\\n" "$*" > "$GOBIN/temporal"\n/bin/chmod +x "$GOBIN/temporal"\n';
    await writeFile(join(goDir, 'go'), script);
    await chmod(join(goDir, 'go'), 0o755);
    const cache = join(dir, 'fresh-cache');
    const messages: string[] = [];
    const env = { PATH: goDir, PGFERRY_CACHE_DIR: cache };
    const found = await locateTemporalCli({ env, onProgress: (message) => messages.push(message) });
    const cached = join(cache, 'temporal-cli-1.5.1', 'temporal');
    assert.deepEqual(found, { type: 'existing-path', path: cached });
    assert.match(
      messages[0] ?? '',
      /^Building the Temporal dev server once \(go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1\), about 3 minutes; cached in /,
    );
    assert.ok(messages[0]?.endsWith(join(cache, 'temporal-cli-1.5.1')));
    assert.match(await readFile(cached, 'utf8'), /# install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1\n/);
    assert.deepEqual(await readdir(cache), ['temporal-cli-1.5.1'], 'the temporary build directory is gone');
    messages.length = 0;
    assert.deepEqual(await locateTemporalCli({ env, onProgress: (message) => messages.push(message) }), found);
    assert.deepEqual(messages, [], 'the second call uses the cache without building');
  });

  test('a failing go install throws with the tail of its output and caches nothing', async () => {
    const goDir = join(dir, 'go-broken');
    await mkdir(goDir);
    await writeFile(
      join(goDir, 'go'),
      '#!/bin/sh\necho "downloading..."\necho "go: module lookup disabled by GOPROXY=off" >&2\nexit 1\n',
    );
    await chmod(join(goDir, 'go'), 0o755);
    const cache = join(dir, 'broken-cache');
    await assert.rejects(locateTemporalCli({ env: { PATH: goDir, PGFERRY_CACHE_DIR: cache } }), (error: Error) => {
      assert.match(error.message, /go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1 exited with code 1/);
      assert.match(error.message, /module lookup disabled by GOPROXY=off/);
      return true;
    });
    assert.deepEqual(await readdir(cache), []);
  });

  test('without CLI, cache or Go, the SDK download is the fallback and says it needs internet', async () => {
    const messages: string[] = [];
    const found = await locateTemporalCli({
      env: { PATH: join(dir, 'empty'), PGFERRY_CACHE_DIR: join(dir, 'empty-cache') },
      onProgress: (message) => messages.push(message),
    });
    assert.deepEqual(found, { type: 'cached-download' });
    assert.match(messages.join('\n'), /internet/);
  });
});

describe('the temporal CLI cache directory', () => {
  test('honours PGFERRY_CACHE_DIR before XDG_CACHE_HOME and HOME', () => {
    const env = { PGFERRY_CACHE_DIR: '/srv/cache', XDG_CACHE_HOME: '/xdg', HOME: '/home/ferry' };
    assert.equal(temporalCacheDir(env), '/srv/cache/temporal-cli-1.5.1');
  });

  test('falls back to $XDG_CACHE_HOME/pgferry, then ~/.cache/pgferry', () => {
    assert.equal(temporalCacheDir({ XDG_CACHE_HOME: '/xdg', HOME: '/home/ferry' }), '/xdg/pgferry/temporal-cli-1.5.1');
    assert.equal(temporalCacheDir({ HOME: '/home/ferry' }), '/home/ferry/.cache/pgferry/temporal-cli-1.5.1');
  });

  test('names the directory after the pinned CLI version', () => {
    assert.equal(TEMPORAL_CLI_VERSION, 'v1.5.1');
    assert.ok(temporalCacheDir().endsWith(`temporal-cli-${TEMPORAL_CLI_VERSION.slice(1)}`));
  });
});
