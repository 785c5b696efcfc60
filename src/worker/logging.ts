/**
 * The worker's log output (PGFERRY_LOG_FORMAT, PGFERRY_LOG_LEVEL): one Runtime logger for
 * pgferry's own lines, the SDK's TypeScript side and the Rust core (forwarded), so every line has
 * the same shape. JSON lines carry the SDK's log attributes as fields: workflowId, runId,
 * activityType, attempt, taskQueue, namespace.
 */
import { DefaultLogger, type LogEntry, type LogLevel, type RuntimeOptions } from '@temporalio/worker';

export type LogFormat = 'json' | 'text';

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
}

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** A setting a person got wrong; the CLI prints its message. */
export class LogSettingError extends Error {
  override name = 'LogSettingError';
}

/**
 * Reads PGFERRY_LOG_FORMAT (`text`, default, or `json`) and PGFERRY_LOG_LEVEL (trace, debug,
 * info (default), warn, error; any case).
 * @throws LogSettingError for any other value.
 */
export function logSettings(env: NodeJS.ProcessEnv = process.env): LogSettings {
  const format = (env.PGFERRY_LOG_FORMAT || 'text').toLowerCase();
  if (format !== 'json' && format !== 'text') {
    throw new LogSettingError(`PGFERRY_LOG_FORMAT: "${env.PGFERRY_LOG_FORMAT}" is not json or text`);
  }
  const level = (env.PGFERRY_LOG_LEVEL || 'info').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new LogSettingError(
      `PGFERRY_LOG_LEVEL: "${env.PGFERRY_LOG_LEVEL}" is not one of ${LEVELS.join(', ').toLowerCase()}`,
    );
  }
  return { format, level };
}

/** One JSON object per line: time, level, message, then the attributes (bigints as strings). */
export function jsonLine(entry: LogEntry): string {
  const fields = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: entry.message,
    ...entry.meta,
  };
  return JSON.stringify(fields, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return { name: value.name, message: value.message };
    return value;
  });
}

/**
 * Runtime options for {@link Runtime.install}: the logger and core's log forwarding at the chosen
 * level. Spread them into the one Runtime.install call of the process (with telemetry, if any).
 */
export function loggingRuntimeOptions(settings: LogSettings): Pick<RuntimeOptions, 'logger' | 'telemetryOptions'> {
  const logger =
    settings.format === 'json'
      ? new DefaultLogger(settings.level, (entry) => process.stderr.write(`${jsonLine(entry)}\n`))
      : new DefaultLogger(settings.level);
  return {
    logger,
    telemetryOptions: { logging: { filter: { core: settings.level, other: 'WARN' }, forward: {} } },
  };
}
