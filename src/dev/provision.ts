/**
 * Finds or builds the `temporal` CLI ahead of the tests (`npx tsx src/dev/provision.ts`), so the
 * one-off ~3 minute Go build happens in its own visible CI step rather than inside a test timeout.
 * Prints the executable's path on stdout, or `cached-download` when the SDK will download it.
 */
import { locateTemporalCli } from './temporal-cli.js';

const executable = await locateTemporalCli({ onProgress: (message) => console.error(message) });
console.log(executable.type === 'existing-path' ? executable.path : executable.type);
