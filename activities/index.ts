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
import { makeVerifyChunks } from './verify-chunks.js';
import { makePlanWindow } from './read-window.js';
import type { RunIsOpen } from './lease.js';
import { temporalRunIsOpen } from './run-status.js';
import { Context } from '@temporalio/activity';

export interface ActivityDependencies {
  databases: Databases;
  /** Absolute path of psql; undefined makes exportImport fail as PsqlNotFound. */
  psqlPath: string | undefined;
  /**
   * Whether a workflow run is still open, for leases; default: asks Temporal through the
   * running activity's client.
   */
  runIsOpen?: RunIsOpen;
}

export function createActivities({ databases, psqlPath, runIsOpen }: ActivityDependencies) {
  const { publish, dropStaging } = makePublish(databases);
  return {
    createStaging: makeCreateStaging(databases, runIsOpen ?? temporalRunIsOpen(() => Context.current().client)),
    exportImport: makeExportImport(databases, psqlPath),
    verifyCounts: makeVerifyCounts(databases),
    publish,
    dropStaging,
    planChunks: makePlanChunks(databases),
    holdSnapshot: makeHoldSnapshot(databases),
    copyChunk: makeCopyChunk(databases, psqlPath),
    verifyChunks: makeVerifyChunks(databases),
    ...makeChunkGeneration(databases),
    planWindow: makePlanWindow(databases),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export type { CreateStagingInput, CreateStagingResult } from './create-staging.js';
export type { ExportImportInput, ExportImportResult, ExportImportHeartbeat } from './export-import.js';
export type { VerifyCountsInput, VerifyCountsResult } from './verify-counts.js';
export type { PublishInput, PublishResult, DropStagingInput } from './publish.js';
export type { PlanChunksInput, PlanChunksResult } from './plan-chunks.js';
export type { CopyChunkInput, CopyChunkResult, CopyChunkHeartbeat } from './copy-chunk.js';
export type { VerifyChunksInput, ChunkMismatch } from './verify-chunks.js';
export type { PlanWindowInput } from './read-window.js';
export type { RunIsOpen } from './lease.js';
