/** `pgferry setup`: prepare the namespace (search attributes) and check that workers poll. */
import type { Command } from 'commander';
import { connectClient } from '../../client/connect.js';
import { NamespaceNotFoundError, setupNamespace } from '../../client/namespace-setup.js';
import { CliError } from '../cli-error.js';

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description(
      "register pgferry's search attributes on the namespace (idempotent) and check the task queue's workers",
    )
    .option('--json', 'print one JSON object on stdout')
    .action(async (flags: { json?: boolean }) => {
      const connected = await connectClient();
      try {
        const { namespace, taskQueue } = connected.settings;
        const result = await setupNamespace(connected.client, namespace, taskQueue).catch((error: unknown) => {
          throw error instanceof NamespaceNotFoundError ? new CliError(error.message, 1) : error;
        });
        if (flags.json) {
          console.log(JSON.stringify(result));
          return;
        }
        console.log(`namespace ${namespace}: exists`);
        for (const name of result.registered) console.log(`search attribute ${name} (Keyword): registered`);
        for (const name of result.present) console.log(`search attribute ${name} (Keyword): already registered`);
        console.log(
          result.workflowPollers > 0
            ? `task queue ${taskQueue}: ${result.workflowPollers} worker(s) polling`
            : `task queue ${taskQueue}: no worker is polling (start \`pgferry worker\` with PGFERRY_TASK_QUEUE=${taskQueue})`,
        );
        if (result.registered.length === 0) console.log('nothing changed');
      } finally {
        await connected.close();
      }
    });
}
