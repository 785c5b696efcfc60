/**
 * `pgferry gc --target NAME [--dry-run]`: drops the staging tables, leases and chunk plans and
 * ledgers of copies that are no longer running. It runs in the CLI, not on a worker: it reads the target's profile from
 * PGFERRY_CONN_<NAME> in this shell, and asks Temporal (TEMPORAL_ADDRESS) about each run.
 */
import type { Command } from 'commander';
import { connectClient } from '../../client/connect.js';
import { isValidProfileName, loadConnectionProfiles, UnknownConnectionError } from '../../config/connections.js';
import { Databases } from '../../db/databases.js';
import { collectGarbage, type GarbageItem } from '../../gc/collect-garbage.js';
import { temporalRunIsOpen } from '../../../activities/run-status.js';
import { CliError } from '../cli-error.js';

function describe(item: GarbageItem, dryRun: boolean): string {
  if (item.kind === 'chunk-plan') {
    const run = `workflow ${item.workflowId} run ${item.runId}`;
    if (item.action === 'kept') return `kept the chunk plan of ${run} (running)`;
    return `${dryRun ? 'would remove' : 'removed'} the chunk plan (${item.chunks} chunks) and ledger of ${run} (no longer running)`;
  }
  const owner = item.workflowId ? `workflow ${item.workflowId} run ${item.runId}` : 'no recorded run';
  const how = item.leased ? 'lease' : 'comment';
  if (item.action === 'dropped') {
    return `${dryRun ? 'would drop' : 'dropped'} ${item.staging} and its ${how} (${owner}: no longer running)`;
  }
  if (item.action === 'kept') return `kept ${item.staging} (${owner} is running)`;
  return `left ${item.staging} alone (${owner}: not made by this pgferry version, drop it by hand if unused)`;
}

export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('drop staging tables, leases and chunk plans of copies that are no longer running')
    .requiredOption('--target <name>', 'target connection profile (PGFERRY_CONN_<NAME> must be set in this shell)')
    .option('--dry-run', 'list what would be dropped, drop nothing')
    .option('--json', 'print a JSON array of what was found on stdout')
    .action(async (flags: { target: string; dryRun?: boolean; json?: boolean }) => {
      if (!isValidProfileName(flags.target)) {
        throw new CliError(`--target: "${flags.target}" is not a profile name (letters, digits, _)`);
      }
      const databases = new Databases(loadConnectionProfiles());
      try {
        databases.profile(flags.target);
      } catch (error) {
        if (error instanceof UnknownConnectionError) {
          throw new CliError(
            `--target: gc reads the profile in this shell: set PGFERRY_CONN_${flags.target.toUpperCase()}`,
          );
        }
        throw error;
      }
      const connected = await connectClient();
      try {
        const items = await collectGarbage({
          databases,
          target: flags.target,
          runIsOpen: temporalRunIsOpen(() => connected.client),
          dryRun: flags.dryRun ?? false,
        });
        if (flags.json) console.log(JSON.stringify(items));
        else if (items.length === 0) console.log('nothing to collect');
        else for (const item of items) console.log(describe(item, flags.dryRun ?? false));
      } finally {
        await databases.end();
        await connected.close();
      }
    });
}
