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
import { makePlanChunks } from './plan-chunks.js';
import { makeHoldSnapshot } from './hold-snapshot.js';
import { makeCopyChunk } from './copy-chunk.js';
import { makeChunkGeneration } from './chunk-generation.js';

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
    planChunks: makePlanChunks(databases),
    holdSnapshot: makeHoldSnapshot(databases),
    copyChunk: makeCopyChunk(databases, psqlPath),
    ...makeChunkGeneration(databases),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export type { CreateStagingInput, CreateStagingResult } from './create-staging.js';
export type { ExportImportInput, ExportImportResult, ExportImportHeartbeat } from './export-import.js';
export type { VerifyCountsInput, VerifyCountsResult } from './verify-counts.js';
export type { PublishInput, PublishResult, DropStagingInput } from './publish.js';
export type { PlanChunksInput, PlanChunksResult } from './plan-chunks.js';
export type { CopyChunkInput, CopyChunkResult, CopyChunkHeartbeat } from './copy-chunk.js';
