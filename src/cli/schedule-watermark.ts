/**
 * `schedule describe`'s watermark line: the copy the schedule starts (its action's input) and,
 * when it is incremental and this shell has the target's profile, the stored watermark.
 */
import type { Client } from '@temporalio/client';
import type { CopyTableInput } from '../shared/copy-spec.js';
import { formatTable } from '../shared/table-name.js';
import { readWatermark } from '../db/watermarks.js';
import { Databases } from '../db/databases.js';
import { loadConnectionProfiles } from '../config/connections.js';

/** `watermark` in `schedule describe --json`. */
export interface ScheduleWatermark {
  column: string;
  /** The stored watermark; null when none yet; undefined when this shell cannot read the target. */
  watermark?: string | null;
  /** Why the watermark is not shown. */
  note?: string;
}

/** The incremental state of a schedule's copy; undefined for a full copy. */
export async function scheduleWatermark(
  client: Client,
  scheduleId: string,
  env = process.env,
): Promise<ScheduleWatermark | undefined> {
  const { action } = await client.schedule.getHandle(scheduleId).describe();
  const input = (action.args as unknown[] | undefined)?.[0] as CopyTableInput | undefined;
  const incremental = input?.incremental;
  if (!input || !incremental) return undefined;
  const profiles = loadConnectionProfiles(env);
  if (!profiles.has(input.target)) {
    return { column: incremental.column, note: `set PGFERRY_CONN_${input.target.toUpperCase()} to read it` };
  }
  const databases = new Databases(profiles);
  try {
    const stored = await databases.withClient(input.target, (pg) =>
      readWatermark(pg, {
        targetTable: formatTable(input.targetTable ?? input.table),
        sourceProfile: input.source,
        sourceTable: formatTable(input.table),
        column: incremental.column,
      }),
    );
    return { column: incremental.column, watermark: stored?.watermark ?? null };
  } catch (error) {
    return {
      column: incremental.column,
      note: `cannot read it: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    await databases.end();
  }
}

/** `  watermark updated_at: 2026-12-02 10:00:00+00`. */
export function watermarkLine(state: ScheduleWatermark): string {
  const value =
    state.note ?? (state.watermark === null ? 'none yet (the next run copies everything)' : state.watermark);
  return `  watermark ${state.column}: ${value}`;
}
