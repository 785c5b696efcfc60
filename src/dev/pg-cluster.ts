/**
 * Throwaway PostgreSQL clusters for the demo and the integration tests: `initdb` + `pg_ctl` on a
 * free loopback port, a random superuser password, everything under one temp directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { access, chmod, chown, constants, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/** A running (or stopped) throwaway cluster. Connect as `postgres` over TCP with {@link PgCluster.password}. */
export interface PgCluster {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly dataDir: string;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/<database>`; holds the password, never log it. */
  url(database?: string): string;
  /** Starts the stopped cluster again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server (`fast` by default); connections fail until {@link PgCluster.start}. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server if it runs and deletes its directory. Idempotent. */
  destroy(): Promise<void>;
}

export interface PgClusterOptions {
  name: string;
  onProgress?: (message: string) => void;
  /** Extra server settings (`name=value`), e.g. the bench's `autovacuum=off`. */
  settings?: readonly string[];
}

const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 5;
// As root the server refuses to run, so every server command runs as the postgres OS user.
const asRoot = process.getuid?.() === 0;

/** A loopback port that was free a moment ago (the caller retries if someone takes it first). */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** PATH first, then `pg_config --bindir`, then Debian's versioned directories, newest first. */
async function findServerBinDir(): Promise<string> {
  const candidates = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const pgConfig = await execa('pg_config', ['--bindir'], { reject: false });
  if (pgConfig.exitCode === 0) candidates.push(pgConfig.stdout.trim());
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [])).filter((v) => /^\d+$/.test(v));
  candidates.push(...versions.sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`));
  for (const dir of candidates) {
    if ((await isExecutable(join(dir, 'initdb'))) && (await isExecutable(join(dir, 'pg_ctl')))) return dir;
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, pg_config --bindir or /usr/lib/postgresql/*/bin',
  );
}

async function tailOf(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a server binary (as postgres when root); a failure names the command, exit code and output tail. */
async function runServerCommand(binDir: string, command: string, args: string[], cwd: string, logFile?: string) {
  const file = join(binDir, command);
  const [bin, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  const result = await execa(bin, argv, { cwd, all: true, reject: false, stdin: 'ignore' });
  if (result.exitCode === 0) return;
  const output = [result.all?.trim(), logFile ? await tailOf(logFile) : ''].filter(Boolean).join('\n');
  const outcome = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
  throw new Error(`${command} ${outcome}:\n${output.split('\n').slice(-30).join('\n')}`);
}

/**
 * Creates and starts a throwaway cluster. The directory lives under `os.tmpdir()`; call
 * {@link PgCluster.destroy} (or use {@link withPgClusters}) to remove it.
 * @throws Error naming `initdb`/`pg_ctl`, the exit code and the output or server-log tail.
 */
export async function createPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  const { name, onProgress = () => {}, settings: extraSettings = [] } = options;
  const binDir = await findServerBinDir();
  // Short, path-safe prefix: the socket path (dir + /.s.PGSQL.NNNNN) must stay under 107 bytes.
  const root = await mkdtemp(join(tmpdir(), `pgferry-${name.replace(/[^\w-]/g, '_').slice(0, 20)}-`));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const password = randomBytes(24).toString('hex');
  let port = 0;
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await runServerCommand(binDir, 'pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w'], root).catch(() => {});
    }
    await rm(root, { recursive: true, force: true });
    destroyed = true;
    liveClusters.delete(dataDir);
  };

  try {
    // The password goes through a private file, never argv, and the file is gone before the server starts.
    const pwFile = join(root, 'pwfile');
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    await chmod(root, 0o700);
    if (asRoot) {
      const { uid, gid } = await postgresIds();
      await Promise.all([chown(root, uid, gid), chown(pwFile, uid, gid)]);
    }
    const initdbArgs = ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-sync'];
    const initdb = (locale: string) =>
      runServerCommand(
        binDir,
        'initdb',
        [...initdbArgs, '--auth-host=scram-sha-256', '--auth-local=trust', `--locale=${locale}`],
        root,
      );
    onProgress(`initdb for cluster ${name}`);
    try {
      await initdb('C.UTF-8');
    } catch {
      // Some minimal images lack the C.UTF-8 locale; plain C still stores UTF8 text.
      await initdb('C');
    } finally {
      await rm(pwFile, { force: true });
    }

    const start = async (): Promise<void> => {
      const settings = [`port=${port}`, `listen_addresses=${HOST}`, `unix_socket_directories='${root}'`]
        .concat(['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=50'])
        .concat(extraSettings)
        .map((setting) => `-c ${setting}`)
        .join(' ');
      const args = ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', settings];
      await runServerCommand(binDir, 'pg_ctl', args, root, logFile);
      liveClusters.add(dataDir);
    };
    for (let attempt = 1; ; attempt++) {
      port = await findFreePort();
      try {
        await start();
        break;
      } catch (error) {
        // Another process may take the port between our probe and the server's bind: pick another.
        const portTaken = /could not bind|could not create any TCP\/IP sockets/.test(await tailOf(logFile));
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
    onProgress(`cluster ${name} listening on ${HOST}:${port}`);

    return {
      name,
      host: HOST,
      port,
      password,
      dataDir,
      url: (database = 'postgres') =>
        `postgres://postgres:${encodeURIComponent(password)}@${HOST}:${port}/${encodeURIComponent(database)}`,
      start,
      stop: async (mode = 'fast') => {
        await runServerCommand(binDir, 'pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w'], root, logFile);
        liveClusters.delete(dataDir);
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

let ids: Promise<{ uid: number; gid: number }> | undefined;
function postgresIds(): Promise<{ uid: number; gid: number }> {
  ids ??= Promise.all([execa('id', ['-u', 'postgres']), execa('id', ['-g', 'postgres'])]).then(([u, g]) => ({
    uid: Number(u.stdout),
    gid: Number(g.stdout),
  }));
  return ids;
}

// A crashed test must not leave servers behind: on exit, SIGQUIT (immediate shutdown) any still running.
const liveClusters = new Set<string>();
process.once('exit', () => {
  for (const dataDir of liveClusters) {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
  }
});

/**
 * Creates the named clusters in parallel; if any fails, destroys the ones that started and
 * rethrows, so a half-made set never leaks a server.
 */
export async function createPgClusters(
  names: string[],
  onProgress?: (message: string) => void,
  settings?: readonly string[],
): Promise<PgCluster[]> {
  const created = await Promise.allSettled(names.map((name) => createPgCluster({ name, onProgress, settings })));
  const clusters = created.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  const failed = created.find((c) => c.status === 'rejected');
  if (failed) {
    await Promise.all(clusters.map((cluster) => cluster.destroy()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return clusters;
}

/** Creates the named clusters, runs `fn`, and always destroys every cluster. */
export async function withPgClusters<T>(names: string[], fn: (clusters: PgCluster[]) => Promise<T>): Promise<T> {
  const clusters = await createPgClusters(names);
  try {
    return await fn(clusters);
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.destroy()));
  }
}
