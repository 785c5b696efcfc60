/**
 * `npm run build` step after tsc: bundles the compiled workflows into dist/workflow-bundle.js,
 * which a compiled worker loads instead of bundling at every start (see workflow-bundle.ts).
 */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { prebuiltBundlePath, workflowsPath } from './workflow-bundle.js';

const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietLogger() });
await writeFile(prebuiltBundlePath(), code);
console.error(`pgferry: wrote ${prebuiltBundlePath()} (${Math.round(code.length / 1024)} KiB)`);

function quietLogger() {
  const noop = () => {};
  return { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };
}
