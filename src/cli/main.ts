/**
 * The `pgferry` command line. People read stderr; programs read stdout (`--json`). Errors a
 * person can fix are one line and exit code 2; a copy that did not complete exits 1.
 */
import { Command, CommanderError } from 'commander';
import { registerCopyCommand } from './commands/copy.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerServerCommands } from './commands/servers.js';
import { registerScheduleCommand } from './commands/schedule.js';
import { registerWatermarkCommand } from './commands/watermark.js';
import { registerSetupCommand } from './commands/setup.js';
import { registerGcCommand } from './commands/gc.js';
import { CliError } from './cli-error.js';
import { CopyAlreadyRunningError } from '../client/start-copy.js';

const program = new Command('pgferry')
  .description('Durable PostgreSQL table copies on Temporal')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCopyCommand(program);
registerInspectCommands(program);
registerServerCommands(program);
registerScheduleCommand(program);
registerWatermarkCommand(program);
registerSetupCommand(program);
registerGcCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof CliError || error instanceof CopyAlreadyRunningError) {
    console.error(`pgferry: ${error.message}`);
    // A copy refused because another holds its target exits 1, like a TargetBusy run (DESIGN).
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  } else {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    console.error(`pgferry: ${error instanceof Error ? error.message : String(error)}${cause}`);
    process.exitCode = 1;
  }
}
