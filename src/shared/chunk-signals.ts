/**
 * The signal by which the snapshot holder (activities/hold-snapshot.ts) hands its exported
 * snapshot to the copy it serves, while it keeps the snapshot's transaction open. Sandbox-safe.
 */
import { defineSignal } from '@temporalio/workflow';

export interface SnapshotReady {
  generation: number;
  snapshotId: string;
}

export const snapshotReadySignal = defineSignal<[SnapshotReady]>('snapshotReady');
