/**
 * `pgferry watermark show|set|reset --target NAME --table T`: the watermarks of incremental
 * copies onto a target table (pgferry.watermarks), read and moved by hand. `--source`,
 * `--source-table` and `--column` narrow the key when a table has several. Runs in the CLI
 * against the target profile of this shell. `set` normalises the value through the cursor type's
 * own input and output; moving a watermark while a copy of the table runs makes that copy's
 * publish fail (TargetBusy) rather than copy a window twice.
 */
import type { Command } from 'commander';
import type { WatermarkKey } from '../../shared/incremental.js';
import { formatTable, parseTableName, TableNameError, type TableRef } from '../../shared/table-name.js';
import { listWatermarks, resetWatermark, setWatermark, type WatermarkRow } from '../../db/watermarks.js';
import { readCursorColumn } from '../../db/cursor-column.js';
import { CliError } from '../cli-error.js';
import { targetDatabases } from '../target-databases.js';

interface WatermarkFlags {
  target: string;
  table: string;
  source?: string;
  sourceTable?: string;
  column?: string;
  json?: boolean;
}

function tableFlag(value: string, flag: string): TableRef {
  try {
    return parseTableName(value);
  } catch (error) {
    if (error instanceof TableNameError) throw new CliError(`${flag}: ${error.message}`);
    throw error;
  }
}

function filterOf(flags: WatermarkFlags): Partial<WatermarkKey> & { targetTable: string } {
  return {
    targetTable: formatTable(tableFlag(flags.table, '--table')),
    ...(flags.source ? { sourceProfile: flags.source.toLowerCase() } : {}),
    ...(flags.sourceTable ? { sourceTable: formatTable(tableFlag(flags.sourceTable, '--source-table')) } : {}),
    ...(flags.column ? { column: flags.column } : {}),
  };
}

function describe(row: WatermarkRow): string {
  return `${row.targetTable} ← ${row.sourceProfile}:${row.sourceTable} by ${row.column} (${row.type}): ${row.watermark}  (set ${row.updatedAt})`;
}

/** The one watermark the flags name. @throws CliError for none or several */
function single(rows: WatermarkRow[], flags: WatermarkFlags): WatermarkRow | undefined {
  if (rows.length > 1) {
    throw new CliError(
      `${rows.length} watermarks on ${flags.table}: narrow with --source, --source-table or --column (${rows
        .map((row) => `${row.sourceProfile}:${row.sourceTable} by ${row.column}`)
        .join('; ')})`,
    );
  }
  return rows[0];
}

function withOptions(command: Command): Command {
  return command
    .requiredOption('--target <name>', 'target connection profile (PGFERRY_CONN_<NAME> must be set in this shell)')
    .requiredOption('--table <[schema.]table>', 'the target table')
    .option('--source <name>', 'source profile of the copy')
    .option('--source-table <[schema.]table>', 'source table of the copy (default: any)')
    .option('--column <name>', 'the cursor column')
    .option('--json', 'print JSON on stdout');
}

/** Adds `pgferry watermark show | set | reset`. */
export function registerWatermarkCommand(program: Command): void {
  const watermark = program.command('watermark').description('show or move the watermark of incremental copies');

  withOptions(watermark.command('show'))
    .description('show the watermarks of a target table')
    .action(async (flags: WatermarkFlags) => {
      const databases = targetDatabases(flags.target, 'watermark');
      try {
        const rows = await databases.withClient(flags.target, (client) => listWatermarks(client, filterOf(flags)));
        if (flags.json) console.log(JSON.stringify(rows));
        else if (rows.length === 0)
          console.log(`no watermark on ${flags.table}: the next incremental run copies everything`);
        else for (const row of rows) console.log(describe(row));
      } finally {
        await databases.end();
      }
    });

  withOptions(watermark.command('set'))
    .description('set the watermark: the next run copies rows above this value')
    .argument('<value>', "a value of the cursor column's type")
    .action(async (value: string, flags: WatermarkFlags) => {
      const databases = targetDatabases(flags.target, 'watermark');
      const filter = filterOf(flags);
      try {
        const row = await databases.withClient(flags.target, async (client) => {
          const existing = single(await listWatermarks(client, filter), flags);
          let key: WatermarkKey;
          let type;
          if (existing) {
            ({ type } = existing);
            key = existing;
          } else {
            if (!filter.sourceProfile || !filter.column) {
              throw new CliError(`no watermark on ${flags.table} yet: give --source and --column to create one`);
            }
            const targetTable = tableFlag(flags.table, '--table');
            const column = await readCursorColumn(client, targetTable, filter.column).catch(() => undefined);
            if (!column?.type) {
              throw new CliError(`--column: ${flags.table} has no column ${filter.column} of an orderable cursor type`);
            }
            type = column.type;
            key = {
              targetTable: filter.targetTable,
              sourceProfile: filter.sourceProfile,
              sourceTable: filter.sourceTable ?? filter.targetTable,
              column: filter.column,
            };
          }
          const stored = await setWatermark(client, key, type, value).catch((error: unknown) => {
            if (((error as { code?: string }).code ?? '').startsWith('22')) {
              throw new CliError(`"${value}" is not a ${type} value`);
            }
            throw error;
          });
          return { ...key, type, watermark: stored };
        });
        if (flags.json) console.log(JSON.stringify(row));
        else console.log(`watermark of ${row.targetTable} by ${row.column} set to ${row.watermark}`);
      } finally {
        await databases.end();
      }
    });

  withOptions(watermark.command('reset'))
    .description('forget the watermark: the next run copies everything (or from --since)')
    .action(async (flags: WatermarkFlags) => {
      const databases = targetDatabases(flags.target, 'watermark');
      try {
        const removed = await databases.withClient(flags.target, async (client) => {
          const existing = single(await listWatermarks(client, filterOf(flags)), flags);
          return existing ? ((await resetWatermark(client, existing)) ? existing : undefined) : undefined;
        });
        if (flags.json) console.log(JSON.stringify({ reset: removed ?? null }));
        else console.log(removed ? `reset ${describe(removed)}` : `no watermark on ${flags.table}`);
      } finally {
        await databases.end();
      }
    });
}
