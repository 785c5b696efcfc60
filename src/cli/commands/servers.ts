/** `pgferry dev`, `pgferry worker` and `pgferry demo`: the long-running commands. */
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevServer } from '../../dev/dev-server.js';
import { runDemo } from '../../dev/demo.js';
import { createPgferryWorker } from '../../worker/create-worker.js';
import { workerRuntimeOptions } from '../../worker/telemetry.js';
import { temporalSettings } from '../../config/environment.js';
import { describeEndpoint } from '../../client/connect.js';
import { diagnoseTls } from '../../client/tls-probe.js';
import { LogSettingError, logSettings, loggingRuntimeOptions } from '../../worker/logging.js';
import { loadConnectionProfiles } from '../../config/connections.js';
import { workerSettings, WorkerSettingsError, type WorkerSettings } from '../../config/worker-settings.js';
import { formatBytes, formatCount, formatDuration } from '../../shared/format.js';
import { CliError } from '../cli-error.js';
import { listenForStop } from '../stop-signals.js';

const say = (message: string) => console.error(`pgferry: ${message}`);

const stillStopping = (signal: NodeJS.Signals) => say(`${signal}: still stopping (SIGKILL forces it)`);

/**
 * Resolves on the first Ctrl-C or SIGTERM, and keeps listening (stop-signals.ts): a later signal
 * must not kill the process halfway through its shutdown.
 */
function untilSignal(): Promise<NodeJS.Signals> {
  return listenForStop(stillStopping).received;
}

/** The PGFERRY_* worker settings, or a one-line error naming the variable. */
function readWorkerSettings(): WorkerSettings {
  try {
    return workerSettings();
  } catch (error) {
    if (error instanceof WorkerSettingsError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Installs the one process-wide Temporal runtime with the log settings and, when asked for, the
 * metrics endpoint. Must run before any connection (the dev server's included) is made.
 */
function installWorkerRuntime(ops: WorkerSettings) {
  try {
    return Runtime.install(workerRuntimeOptions(loggingRuntimeOptions(logSettings()), ops.metricsAddress)).logger;
  } catch (error) {
    if (error instanceof LogSettingError) throw new CliError(error.message);
    throw error;
  }
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) throw new CliError(`not a port: ${value}`);
  return parsed;
}

export function registerServerCommands(program: Command): void {
  program
    .command('dev')
    .description('run a Temporal dev server with its UI and a pgferry worker in the foreground')
    .option('--port <port>', 'Temporal frontend port', port, 7233)
    .option('--ui-port <port>', 'Temporal UI port', port, 8233)
    .action(async (flags: { port: number; uiPort: number }) => {
      // Listening from the start: a signal while the server or the worker starts stops both too.
      const stop = listenForStop(stillStopping);
      const ops = readWorkerSettings();
      installWorkerRuntime(ops);
      const settings = temporalSettings();
      const server = await startDevServer({ port: flags.port, uiPort: flags.uiPort, onProgress: say });
      try {
        const profiles = loadConnectionProfiles();
        const worker = await createPgferryWorker({
          connection: server.env.nativeConnection,
          settings: { ...settings, address: server.address, namespace: server.namespace },
          profiles,
          workerSettings: ops,
        });
        const running = worker.run();
        console.log(
          `pgferry dev: Temporal at ${server.address}, UI at ${server.uiUrl}, task queue ${settings.taskQueue}` +
            (ops.metricsAddress ? `, metrics on http://${ops.metricsAddress}/metrics` : ''),
        );
        if (profiles.size === 0) say('no PGFERRY_CONN_<NAME> profiles are set: copies will fail as UnknownConnection');
        const signal = await Promise.race([stop.received, running.then(() => undefined)]);
        if (signal) say(`${signal}: stopping the worker (its psql processes) and the dev server with its UI`);
        worker.shutdown();
        await running.catch(() => undefined);
      } finally {
        await server.teardown();
        stop.release();
      }
    });

  program
    .command('worker')
    .description(
      'run a pgferry worker (TEMPORAL_* client configuration, PGFERRY_TASK_QUEUE, PGFERRY_CONN_<NAME>, PGFERRY_LOG_FORMAT, PGFERRY_LOG_LEVEL)',
    )
    .action(async () => {
      const ops = readWorkerSettings();
      const logger = installWorkerRuntime(ops);
      const settings = temporalSettings();
      const profiles = loadConnectionProfiles();
      const worker = await createPgferryWorker({ settings, profiles, workerSettings: ops }).catch(
        async (error: unknown) => {
          const reason = (await diagnoseTls(settings)) ?? (error as Error).message;
          throw new CliError(`cannot start the worker against Temporal at ${describeEndpoint(settings)}: ${reason}`);
        },
      );
      logger.info(
        `worker on ${describeEndpoint(settings)}, namespace ${settings.namespace}, task queue ${settings.taskQueue}, profiles: ${[...profiles.keys()].join(', ') || 'none'}; ` +
          `at most ${ops.maxPipes} pipes` +
          (ops.metricsAddress ? `; metrics on http://${ops.metricsAddress}/metrics` : ''),
      );
      const running = worker.run();
      const signal = await Promise.race([untilSignal(), running.then(() => undefined)]);
      if (signal) logger.info(`${signal}: finishing running activities, then stopping`);
      worker.shutdown();
      await running;
    });

  program
    .command('demo')
    .description('copy a seeded 100,000-row table between two throwaway clusters through Temporal, then stop')
    .option('--keep', 'leave the dev server, UI and clusters running until Ctrl-C')
    .action(async (flags: { keep?: boolean }) => {
      // The demo reports its own steps; the worker's bundling chatter would bury them.
      Runtime.install({ logger: new DefaultLogger('WARN') });
      const demo = await runDemo({ onProgress: say });
      const { outcome, uiLink, elapsedMs, sourceDigest, targetDigest } = demo.result;
      const identical = outcome.status === 'COMPLETED' && sourceDigest.digest === targetDigest.digest;
      console.log(`workflow   ${outcome.workflowId} (run ${outcome.runId})`);
      console.log(
        `status     ${outcome.status}${outcome.failure ? `: ${outcome.failure.type}: ${outcome.failure.message}` : ''}`,
      );
      console.log(`UI         ${uiLink ?? '(no UI)'}`);
      console.log(`copied     ${formatCount(outcome.rows ?? 0)} rows, ${formatBytes(outcome.bytes ?? 0)}`);
      console.log(`elapsed    ${formatDuration(elapsedMs)} (run ${formatDuration(outcome.durationMs ?? 0)})`);
      console.log(
        `verified   target rows ${identical ? 'equal' : 'DIFFER FROM'} source rows (${formatCount(targetDigest.rows)} rows, md5 ${targetDigest.digest})`,
      );
      if (flags.keep) {
        console.log(`kept       Temporal at ${demo.server.address}; press Ctrl-C to stop everything`);
        await untilSignal();
      }
      await demo.stop();
      if (!identical) process.exitCode = 1;
    });
}
