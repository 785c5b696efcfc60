/**
 * The docker-compose deployment (issue 5), checked without a Docker engine: the compose file is
 * validated and resolved by the real `docker-compose`, the Dockerfile is read line by line, and the
 * source seed runs through the real psql against a throwaway PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import pg from 'pg';
import { createPgCluster, type PgCluster } from '../../src/dev/pg-cluster.js';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/dev/dev-server.js';
import { PGFERRY_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';
import { parseDuration } from '../../src/shared/duration.js';
import { METRICS } from '../../src/shared/metrics.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  // docker-compose 1.x prints short syntax; Compose 2 prints the long one.
  ports?: (string | { host_ip?: string; published?: string | number; target: number })[];
  volumes?: (string | { source?: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }>;
  entrypoint?: string[];
  command?: string[];
  user?: string;
  stop_grace_period?: string;
  expose?: (string | number)[];
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
}

/** Reads a YAML file with python3's PyYAML (docker-compose 1.x depends on it). */
async function readYaml<T>(file: string): Promise<T> {
  const toJson = 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)';
  return JSON.parse((await execa('python3', ['-c', toJson, file], { cwd: root })).stdout) as T;
}

/** Runs docker-compose with only PATH and `env` (no stray COMPOSE_* or password variables). */
async function compose(args: string[], env: Record<string, string> = {}) {
  try {
    return await execa('docker-compose', ['-f', 'docker-compose.yml', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      extendEnv: false,
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw new Error(
        'docker-compose not found: install the Debian package `docker-compose` (apt-get install docker-compose)',
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

/** The resolved configuration. docker-compose 1.x prints YAML only; its own PyYAML reads it back. */
async function resolvedConfig(env: Record<string, string> = {}): Promise<ComposeConfig> {
  const { stdout: version } = await compose(['version', '--short']);
  if (!version.trim().startsWith('1.')) {
    return JSON.parse((await compose(['config', '--format', 'json'], env)).stdout) as ComposeConfig;
  }
  const { stdout: yaml } = await compose(['config'], env);
  const toJson = 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)';
  return JSON.parse((await execa('python3', ['-c', toJson], { input: yaml })).stdout) as ComposeConfig;
}

function service(config: ComposeConfig, name: string): ComposeService {
  const found = config.services[name];
  assert.ok(found, `docker-compose.yml has no service ${name}`);
  return found;
}

function hostIp(port: NonNullable<ComposeService['ports']>[number]): string | undefined {
  return typeof port === 'string' ? /^(\d+\.\d+\.\d+\.\d+):/.exec(port)?.[1] : port.host_ip;
}

describe('docker-compose.yml', { timeout: 60_000 }, () => {
  let config: ComposeConfig;
  before(async () => {
    config = await resolvedConfig();
  });

  test('validates with docker-compose config -q', async () => {
    const { exitCode, stderr } = await compose(['config', '-q']);
    assert.equal(exitCode, 0);
    assert.equal(stderr, '');
  });

  test('the worker gets TEMPORAL_ADDRESS and the source and target profiles with development passwords', () => {
    const env = service(config, 'worker').environment ?? {};
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(env.PGFERRY_CONN_SOURCE, 'postgres://postgres:pgferry@source-db:5432/postgres');
    assert.equal(env.PGFERRY_CONN_TARGET, 'postgres://postgres:pgferry@target-db:5432/postgres');
  });

  test('passwords set in the environment reach both the databases and the worker profiles', async () => {
    const custom = await resolvedConfig({ SOURCE_DB_PASSWORD: 'src-S3cret', TARGET_DB_PASSWORD: 'tgt-S3cret' });
    assert.equal(service(custom, 'source-db').environment?.POSTGRES_PASSWORD, 'src-S3cret');
    assert.equal(service(custom, 'target-db').environment?.POSTGRES_PASSWORD, 'tgt-S3cret');
    const env = service(custom, 'worker').environment ?? {};
    assert.equal(env.PGFERRY_CONN_SOURCE, 'postgres://postgres:src-S3cret@source-db:5432/postgres');
    assert.equal(env.PGFERRY_CONN_TARGET, 'postgres://postgres:tgt-S3cret@target-db:5432/postgres');
  });

  test('every published port binds 127.0.0.1', () => {
    const published = Object.entries(config.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    assert.deepEqual(published.map(({ name }) => name).sort(), [
      'grafana',
      'prometheus',
      'source-db',
      'target-db',
      'temporal',
      'temporal-ui',
    ]);
    for (const { name, p } of published) assert.equal(hostIp(p), '127.0.0.1', `${name} publishes ${JSON.stringify(p)}`);
  });

  test('source-db mounts the seed file into docker-entrypoint-initdb.d read-only', () => {
    const mounts = (service(config, 'source-db').volumes ?? []).map((v) =>
      typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`,
    );
    const seed = mounts.find((m) => m.includes('/docker-entrypoint-initdb.d/'));
    assert.ok(seed, `no seed mount in ${JSON.stringify(mounts)}`);
    assert.match(seed, /\/docker\/source-seed\.sql:\/docker-entrypoint-initdb\.d\/[^:]+\.sql:ro$/);
  });

  test('the worker starts after healthy Temporal and databases and registered search attributes', () => {
    assert.deepEqual(service(config, 'worker').depends_on, {
      temporal: { condition: 'service_healthy' },
      'temporal-setup': { condition: 'service_completed_successfully' },
      'source-db': { condition: 'service_healthy' },
      'target-db': { condition: 'service_healthy' },
    });
  });

  test("temporal-setup registers pgferry's search attributes as Keyword", () => {
    const script = (service(config, 'temporal-setup').command ?? []).join(' ');
    for (const key of PGFERRY_SEARCH_ATTRIBUTES) {
      assert.match(script, new RegExp(`--name ${key.name} --type Keyword`));
    }
  });

  test("Temporal reads pgferry's dynamic config, with every setting the dev server runs with", async () => {
    const temporal = service(config, 'temporal');
    const path = temporal.environment?.DYNAMIC_CONFIG_FILE_PATH;
    assert.ok(path, 'DYNAMIC_CONFIG_FILE_PATH is not set');
    const mounts = (temporal.volumes ?? []).map((v) =>
      typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`,
    );
    const mount = mounts.find((m) => m.endsWith(`:${path}:ro`));
    assert.ok(mount, `nothing is mounted read-only at ${path}: ${JSON.stringify(mounts)}`);
    const file = mount.slice(0, -`:${path}:ro`.length);
    const toJson = 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)';
    const settings = JSON.parse((await execa('python3', ['-c', toJson, file])).stdout) as Record<
      string,
      { value: unknown }[]
    >;
    assert.ok(Object.keys(DEV_SERVER_DYNAMIC_CONFIG).length >= 2);
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
      assert.deepEqual(settings[key]?.[0]?.value, value, key);
    }
  });

  test("the worker's stop grace leaves room after PGFERRY_SHUTDOWN_GRACE for cancelling pipes", () => {
    const worker = service(config, 'worker');
    const grace = parseDuration(worker.environment?.PGFERRY_SHUTDOWN_GRACE ?? '');
    const stop = parseDuration(worker.stop_grace_period ?? '');
    assert.ok(stop >= grace + 5_000, `stop_grace_period ${worker.stop_grace_period} vs grace ${grace} ms`);
  });

  test('Temporal images are pinned to a 1.2x server and a fixed UI tag', () => {
    assert.match(service(config, 'temporal').image ?? '', /^temporalio\/auto-setup:1\.2\d\.\d+$/);
    assert.match(service(config, 'temporal-ui').image ?? '', /^temporalio\/ui:\d+\.\d+\.\d+$/);
  });
});

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; for?: string; labels?: Record<string, string> }[] }[];
}
interface Dashboard {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
}

/** Every series name pgferry's endpoint can show: counters gain _total, histograms their parts. */
const HISTOGRAMS: string[] = [METRICS.copyDuration, METRICS.phaseDuration];
const GAUGES: string[] = [METRICS.pipesInFlight, METRICS.pipeRunning, METRICS.pipeLastSuccess];
const PGFERRY_SERIES = new Set<string>(
  Object.values(METRICS).flatMap((name: string) => {
    if (HISTOGRAMS.includes(name)) return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
    return GAUGES.includes(name) ? [name] : [`${name}_total`];
  }),
);
/** SDK worker metrics the rules and dashboard read (seen on a real worker's endpoint, metrics.test.ts). */
const SDK_SERIES = new Set([
  'temporal_num_pollers',
  'temporal_worker_task_slots_used',
  'temporal_activity_execution_latency_bucket',
]);

function seriesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:pgferry|temporal)_[a-z_]+)\b/g)].map((match) => match[1]!);
}

function mountsOf(s: ComposeService): string[] {
  return (s.volumes ?? []).map((v) =>
    typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`,
  );
}

/** The host file mounted read-only at `target` in a service. */
function mountedFile(s: ComposeService, target: string): string {
  const mount = mountsOf(s).find((m) => m.endsWith(`:${target}:ro`));
  assert.ok(mount, `nothing is mounted read-only at ${target}: ${JSON.stringify(mountsOf(s))}`);
  return mount.slice(0, -`:${target}:ro`.length);
}

describe('monitoring in docker-compose.yml', { timeout: 60_000 }, () => {
  let config: ComposeConfig;
  before(async () => {
    config = await resolvedConfig();
  });

  test("prometheus scrapes every worker on the port of the worker's PGFERRY_METRICS_ADDRESS", async () => {
    const worker = service(config, 'worker');
    const address = worker.environment?.PGFERRY_METRICS_ADDRESS ?? '';
    const port = Number(/:(\d+)$/.exec(address)?.[1]);
    assert.ok(port, `PGFERRY_METRICS_ADDRESS: ${address}`);
    assert.ok((worker.expose ?? []).map(String).includes(String(port)), 'the worker exposes its metrics port');
    const prometheus = await readYaml<{
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    }>(mountedFile(service(config, 'prometheus'), '/etc/prometheus/prometheus.yml'));
    const job = prometheus.scrape_configs.find((c) => c.dns_sd_configs?.some((d) => d.names.includes('worker')));
    assert.ok(job, 'a scrape job finds the worker service by DNS');
    assert.equal(job.dns_sd_configs?.[0]?.port, port);
    for (const file of prometheus.rule_files) mountedFile(service(config, 'prometheus'), file);
  });

  test('the alert rules cover a failed scheduled copy, a copy far longer than its last success and no polling worker', async () => {
    const prometheus = service(config, 'prometheus');
    const rules = await readYaml<RuleFile>(mountedFile(prometheus, '/etc/prometheus/pgferry-alerts.yml'));
    const alerts = rules.groups.flatMap((group) => group.rules);
    assert.deepEqual(alerts.map((rule) => rule.alert).sort(), [
      'PgferryCopyRunningLong',
      'PgferryNoWorkerPolling',
      'PgferryScheduledCopyFailed',
    ]);
    const byName = Object.fromEntries(alerts.map((rule) => [rule.alert, rule.expr]));
    assert.match(byName.PgferryScheduledCopyFailed!, /pgferry_copy_failures_total\{schedule!=""\}/);
    assert.match(
      byName.PgferryCopyRunningLong!,
      /pgferry_pipe_running_seconds[\s\S]*pgferry_pipe_last_success_seconds/,
    );
    assert.match(byName.PgferryNoWorkerPolling!, /temporal_num_pollers\{task_queue="pgferry"\}/);
    for (const rule of alerts) {
      assert.ok(rule.labels?.severity, `${rule.alert} has a severity`);
      for (const name of seriesIn(rule.expr)) {
        assert.ok(PGFERRY_SERIES.has(name) || SDK_SERIES.has(name), `${rule.alert} reads unknown series ${name}`);
      }
    }
  });

  test('grafana provisions the pgferry dashboard on the prometheus data source, reading only known series', async () => {
    const grafana = service(config, 'grafana');
    const mounts = mountsOf(grafana);
    const dashboards = mounts.find((m) => m.endsWith(':/var/lib/grafana/dashboards:ro'))?.split(':')[0];
    assert.ok(dashboards, `dashboards are not mounted: ${JSON.stringify(mounts)}`);
    const provisioning = mounts.find((m) => m.endsWith(':/etc/grafana/provisioning:ro'))?.split(':')[0];
    assert.ok(provisioning);
    const provider = await readYaml<{ providers: { options: { path: string } }[] }>(
      `${provisioning}/dashboards/pgferry.yml`,
    );
    assert.equal(provider.providers[0]?.options.path, '/var/lib/grafana/dashboards');
    const datasources = await readYaml<{ datasources: { uid: string; url: string }[] }>(
      `${provisioning}/datasources/prometheus.yml`,
    );
    assert.equal(datasources.datasources[0]?.url, 'http://prometheus:9090');
    const dashboard = JSON.parse(await readFile(`${dashboards}/pgferry.json`, 'utf8')) as Dashboard;
    assert.equal(dashboard.uid, 'pgferry');
    const read = new Set(dashboard.panels.flatMap((panel) => panel.targets.flatMap((t) => seriesIn(t.expr))));
    for (const panel of dashboard.panels) assert.equal(panel.datasource.uid, datasources.datasources[0]?.uid);
    for (const name of read) assert.ok(PGFERRY_SERIES.has(name) || SDK_SERIES.has(name), `unknown series ${name}`);
    for (const name of ['pgferry_rows_copied_total', 'pgferry_copy_failures_total', 'pgferry_pipes_in_flight']) {
      assert.ok(read.has(name), `the dashboard shows ${name}`);
    }
  });
});

const INSTRUCTIONS = new Set(
  'FROM RUN CMD LABEL EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL'.split(
    ' ',
  ),
);

describe('Dockerfile', () => {
  let instructions: { keyword: string; args: string }[];
  before(async () => {
    const text = await readFile(new URL('Dockerfile', `file://${root}`), 'utf8');
    // Comments and blank lines go first, then backslash continuations join their instruction.
    const lines = text.split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
    instructions = lines
      .join('\n')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((line) => {
        const [, keyword = '', args = ''] = /^\s*(\S+)\s*(.*)$/.exec(line) ?? [];
        return { keyword, args };
      });
  });

  test('every instruction is a known Dockerfile instruction', () => {
    for (const { keyword, args } of instructions) assert.ok(INSTRUCTIONS.has(keyword), `unknown: ${keyword} ${args}`);
  });

  test('the runtime stage is node:20-bookworm-slim with psql and setpriv, run by a non-root user', () => {
    const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
    const runtime = instructions.slice(lastFrom);
    assert.equal(runtime[0]?.args, 'node:20-bookworm-slim');
    const run = runtime
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join(' ');
    assert.match(run, /apt-get install -y --no-install-recommends postgresql-client util-linux/);
    const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args;
    assert.ok(user && user !== 'root' && user !== '0', `runtime user: ${user}`);
  });

  test('CMD runs the pgferry worker', () => {
    const cmd = instructions.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? '';
    assert.deepEqual(JSON.parse(cmd), ['node', 'bin/pgferry.js', 'worker']);
  });
});

describe('source seed (docker/source-seed.sql)', { timeout: 180_000 }, () => {
  let cluster: PgCluster;
  before(async () => {
    cluster = await createPgCluster({ name: 'compose-seed' });
  });
  after(async () => {
    await cluster?.destroy();
  });

  test('loads 100,000 rows into public."고객_주문" through psql as the postgres image does', async () => {
    const env = { PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
    await execa('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '--no-password', '-q', '-f', 'docker/source-seed.sql'], {
      cwd: root,
      env: { ...env, PGPASSWORD: cluster.password },
    });
    const client = new pg.Client({ connectionString: cluster.url() });
    await client.connect();
    try {
      const { rows } = await client.query<{ rows: string; ids: string; nulls: string; korean: string }>(
        `SELECT count(*) AS rows, count(DISTINCT id) AS ids, count(*) FILTER (WHERE note IS NULL) AS nulls,
                count(*) FILTER (WHERE customer_name ~ '[가-힣]') AS korean
           FROM public."고객_주문"`,
      );
      assert.deepEqual(rows[0], { rows: '100000', ids: '100000', nulls: '20000', korean: '100000' });
    } finally {
      await client.end();
    }
  });
});
