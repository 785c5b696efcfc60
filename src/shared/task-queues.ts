/**
 * Task queues. Pipes (exportImport: a psql pair each) run on their own queue beside the main
 * one, polled by a worker that takes at most PGFERRY_MAX_PIPES of them at once; workflows and
 * the cheap catalog activities stay on the main queue, so a worker full of pipes still runs
 * them. Pure module (workflows use it).
 */

/** The queue exportImport is scheduled on, for workers of `taskQueue`. */
export function pipeTaskQueue(taskQueue: string): string {
  return `${taskQueue}-pipes`;
}
