/**
 * Finds or provisions the `temporal` CLI that runs the dev server (docs/design.md "Tests"):
 * `$TEMPORAL_CLI` → `temporal` on PATH → a cached build → `go install` into the cache → the SDK's
 * own download, which needs internet.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';

/** The same shape as the SDK's `EphemeralServerExecutable`, so it can be passed straight through. */
export type TemporalExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

export interface LocateTemporalCliOptions {
  onProgress?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The CLI version pgferry builds; later versions carry a `replace` directive and cannot be go-installed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
const HEARTBEAT_MS = 20_000;

/**
 * Where the go-installed CLI is cached: `$PGFERRY_CACHE_DIR`, else `$XDG_CACHE_HOME/pgferry`,
 * else `~/.cache/pgferry`, followed by `temporal-cli-<version>`.
 */
export function temporalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? join(env.XDG_CACHE_HOME, 'pgferry') : undefined;
  const base = env.PGFERRY_CACHE_DIR || xdg || join(env.HOME || homedir(), '.cache', 'pgferry');
  return join(resolve(base), `temporal-cli-${TEMPORAL_CLI_VERSION.slice(1)}`);
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function findOnPath(command: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = resolve(dir, command);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the `temporal` CLI, building it once with Go when nothing else is available.
 * Idempotent: after one build every later call returns the cached binary.
 * @throws Error when `$TEMPORAL_CLI` is set but is not an executable file, or when `go install` fails
 *   (the message carries the tail of Go's output).
 * @returns `{ type: 'cached-download' }` when there is neither a CLI nor Go: the SDK then downloads
 *   the dev server itself, which needs internet.
 */
export async function locateTemporalCli(options: LocateTemporalCliOptions = {}): Promise<TemporalExecutable> {
  const { onProgress = () => {}, env = process.env } = options;

  if (env.TEMPORAL_CLI) {
    const path = resolve(env.TEMPORAL_CLI);
    if (!(await isExecutableFile(path))) {
      throw new Error(`TEMPORAL_CLI is set to ${path}, which is not an executable file; fix or unset it`);
    }
    return { type: 'existing-path', path };
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) return { type: 'existing-path', path: onPath };

  const cacheDir = temporalCacheDir(env);
  const cached = join(cacheDir, 'temporal');
  if (await isExecutableFile(cached)) return { type: 'existing-path', path: cached };

  const go = await findOnPath('go', env);
  if (!go) {
    onProgress('No temporal CLI or Go toolchain found: the Temporal SDK will download the dev server (needs internet)');
    return { type: 'cached-download' };
  }
  await buildIntoCache(go, cacheDir, env, onProgress);
  return { type: 'existing-path', path: cached };
}

/**
 * Builds into a private temp directory and renames the binary into place, so a second process
 * building at the same time never sees a half-written binary: the last rename wins, both are whole.
 */
async function buildIntoCache(
  go: string,
  cacheDir: string,
  env: NodeJS.ProcessEnv,
  onProgress: (message: string) => void,
): Promise<void> {
  await mkdir(dirname(cacheDir), { recursive: true });
  const buildDir = await mkdtemp(join(dirname(cacheDir), '.temporal-build-'));
  onProgress(
    `Building the Temporal dev server once (go install ${GO_PACKAGE}), about 3 minutes; cached in ${cacheDir}`,
  );
  const startedAt = Date.now();
  const heartbeat = setInterval(() => {
    const seconds = Math.round((Date.now() - startedAt) / 1000);
    onProgress(`Still building the Temporal dev server (${seconds}s so far)...`);
  }, HEARTBEAT_MS);
  try {
    const result = await execa(go, ['install', GO_PACKAGE], {
      env: { ...env, GOBIN: buildDir },
      extendEnv: false,
      all: true,
      reject: false,
      stdin: 'ignore',
    });
    if (result.exitCode !== 0) {
      const tail = (result.all ?? '').trimEnd().split('\n').slice(-20).join('\n');
      const outcome = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      throw new Error(`go install ${GO_PACKAGE} ${outcome}:\n${tail}`);
    }
    await mkdir(cacheDir, { recursive: true });
    await rename(join(buildDir, 'temporal'), join(cacheDir, 'temporal'));
    onProgress(`Built the Temporal dev server in ${Math.round((Date.now() - startedAt) / 1000)}s`);
  } finally {
    clearInterval(heartbeat);
    await rm(buildDir, { recursive: true, force: true });
  }
}
