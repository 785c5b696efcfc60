/**
 * A source and a target cluster with the activities wired to them, shared by the tests of one
 * file (before/after hooks). Profiles: `source`, `target`, and `wrongpass` (the source with a
 * wrong password). Leases ask `openRuns` whether a run is still open.
 */
import { createPgClusters, type PgCluster } from '../../src/dev/pg-cluster.js';
import { loadConnectionProfiles, type ConnectionProfiles } from '../../src/config/connections.js';
import { Databases } from '../../src/db/databases.js';
import { findPsql } from '../../src/pipe/launcher.js';
import { createActivities, type Activities } from '../../activities/index.js';

export interface CopyWorld {
  source: PgCluster;
  target: PgCluster;
  sourceUrl: string;
  targetUrl: string;
  /** A password that is not the source's; `wrongpass` uses it. */
  wrongPassword: string;
  psqlPath: string;
  profiles: ConnectionProfiles;
  databases: Databases;
  activities: Activities;
  /**
   * Runs the activities' leases treat as open, as `<workflowId>/<runId>`; every other run is
   * closed (its lease stale). Tests add and remove runs to play a copy that is still running.
   */
  openRuns: Set<string>;
  close(): Promise<void>;
}

/** Finds psql or fails: a missing binary is a test failure, never a skip. */
export function requirePsql(): string {
  const psqlPath = findPsql();
  if (!psqlPath) throw new Error('psql is not on PATH: install postgresql-client');
  return psqlPath;
}

export async function createCopyWorld(): Promise<CopyWorld> {
  const psqlPath = requirePsql();
  const clusters = await createPgClusters(['source', 'target']);
  const [source, target] = clusters as [PgCluster, PgCluster];
  const wrongPassword = 'not-the-password-0123';
  const wrongUrl = source.url().replace(encodeURIComponent(source.password), wrongPassword);
  const profiles = loadConnectionProfiles({
    PGFERRY_CONN_SOURCE: source.url(),
    PGFERRY_CONN_TARGET: target.url(),
    PGFERRY_CONN_WRONGPASS: wrongUrl,
  });
  const databases = new Databases(profiles);
  const openRuns = new Set<string>();
  return {
    source,
    target,
    sourceUrl: source.url(),
    targetUrl: target.url(),
    wrongPassword,
    psqlPath,
    profiles,
    databases,
    activities: createActivities({
      databases,
      psqlPath,
      runIsOpen: (workflowId, runId) => Promise.resolve(openRuns.has(`${workflowId}/${runId}`)),
    }),
    openRuns,
    close: async () => {
      await databases.end().catch(() => undefined);
      await Promise.all([source.destroy(), target.destroy()]);
    },
  };
}
