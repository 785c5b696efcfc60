/**
 * Where the worker's workflow code comes from. Compiled (`npm run build`, the production image),
 * the worker loads `dist/workflow-bundle.js`, written at build time with bundleWorkflowCode: no
 * webpack run at start, which costs seconds and about 100 MB of peak memory that an idle worker
 * then keeps. Under tsx (development, tests) it bundles the .ts sources at start, so an edit is
 * never hidden by a stale bundle.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The workflows entry, as .ts under tsx (tests, dev) or .js when compiled. */
export function workflowsPath(): string {
  const base = fileURLToPath(new URL('../../workflows/index', import.meta.url));
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

/** `dist/workflow-bundle.js` beside the compiled code. */
export function prebuiltBundlePath(): string {
  return fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
}

/**
 * The prebuilt bundle when this module runs compiled and the bundle exists; undefined in
 * development (the workflows are .ts sources next to this file's tree).
 */
export function prebuiltWorkflowBundle(): { codePath: string } | undefined {
  if (workflowsPath().endsWith('.ts')) return undefined;
  const codePath = prebuiltBundlePath();
  return existsSync(codePath) ? { codePath } : undefined;
}
