/**
 * The activities, as a factory over their dependencies (samples-typescript's
 * dependency-injection pattern): the worker passes real pools and the psql it found; tests
 * pass their own. Workflows import only the `Activities` type from here.
 */
import type { Databases } from '../src/db/databases.js';
import { makeCreateStaging } from './create-staging.js';
import { makeExportImport } from './export-import.js';
import { makeVerifyCounts } from './verify-counts.js';
import { makePublish } from './publish.js';
import { makePlanWindow } from './read-window.js';

export interface ActivityDependencies {
  databases: Databases;
  /** Absolute path of psql; undefined makes exportImport fail as PsqlNotFound. */
  psqlPath: string | undefined;
}

export function createActivities({ databases, psqlPath }: ActivityDependencies) {
  const { publish, dropStaging } = makePublish(databases);
  return {
    createStaging: makeCreateStaging(databases),
    exportImport: makeExportImport(databases, psqlPath),
    verifyCounts: makeVerifyCounts(databases),
    publish,
    dropStaging,
    planWindow: makePlanWindow(databases),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export type { CreateStagingInput, CreateStagingResult } from './create-staging.js';
export type { ExportImportInput, ExportImportResult, ExportImportHeartbeat } from './export-import.js';
export type { VerifyCountsInput, VerifyCountsResult } from './verify-counts.js';
export type { PublishInput, PublishResult, DropStagingInput } from './publish.js';
export type { PlanWindowInput } from './read-window.js';
