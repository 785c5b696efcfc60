/**
 * `pgferry.watermarks` on the target: where each incremental copy's last published window ended,
 * as the text PostgreSQL prints for the cursor column's own type. Publish advances it in its own
 * transaction (so a failed or cancelled run leaves it, and a retried publish, a no-op through
 * pgferry.publications, advances it once); `pgferry watermark` reads and moves it by hand.
 * Values are compared and normalised in SQL, cast to the cursor type (a closed list, so the type
 * name is the only SQL text not passed as a parameter).
 */
import type pg from 'pg';
import { ensureBookkeeping } from './bookkeeping.js';
import { CURSOR_TYPES, type CursorType, type WatermarkAdvance, type WatermarkKey } from '../shared/incremental.js';

/** Raised when publish finds the watermark moved since the run planned its window. */
export class WatermarkMovedError extends Error {
  override name = 'WatermarkMovedError';
}

/** One stored watermark, as `pgferry watermark show` lists it. */
export interface WatermarkRow extends WatermarkKey {
  type: CursorType;
  watermark: string;
  publishKey: string | null;
  updatedAt: string;
}

/**
 * Creates the schema and table when the catalog says they are missing, with pgferry's other
 * bookkeeping (bookkeeping.ts, which names the missing grant when it cannot). Run outside a
 * transaction.
 */
export async function ensureWatermarkTable(client: pg.ClientBase): Promise<void> {
  await ensureBookkeeping(client);
}

async function tableExists(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    "SELECT to_regclass('pgferry.watermarks') IS NOT NULL AS found",
  );
  return rows[0]?.found ?? false;
}

const KEY_WHERE = 'target_table = $1 AND source_profile = $2 AND source_table = $3 AND cursor_column = $4';
const keyParams = (key: WatermarkKey) => [key.targetTable, key.sourceProfile, key.sourceTable, key.column];

function cursorType(value: string): CursorType {
  if (!(CURSOR_TYPES as readonly string[]).includes(value)) throw new Error(`unknown cursor type ${value}`);
  return value as CursorType;
}

interface RawRow {
  target_table: string;
  source_profile: string;
  source_table: string;
  cursor_column: string;
  cursor_type: string;
  watermark: string;
  publish_key: string | null;
  updated_at: string;
}

const SELECT_ROWS = `SELECT target_table, source_profile, source_table, cursor_column, cursor_type, watermark,
  publish_key, updated_at::text AS updated_at FROM pgferry.watermarks`;

function toRow(raw: RawRow): WatermarkRow {
  return {
    targetTable: raw.target_table,
    sourceProfile: raw.source_profile,
    sourceTable: raw.source_table,
    column: raw.cursor_column,
    type: cursorType(raw.cursor_type),
    watermark: raw.watermark,
    publishKey: raw.publish_key,
    updatedAt: raw.updated_at,
  };
}

/** The stored watermark of one key; undefined when none (or no table yet). */
export async function readWatermark(client: pg.ClientBase, key: WatermarkKey): Promise<WatermarkRow | undefined> {
  if (!(await tableExists(client))) return undefined;
  const { rows } = await client.query<RawRow>(`${SELECT_ROWS} WHERE ${KEY_WHERE}`, keyParams(key));
  return rows[0] && toRow(rows[0]);
}

/** Every watermark of a target table, optionally narrowed by source, source table and column. */
export async function listWatermarks(
  client: pg.ClientBase,
  filter: Partial<WatermarkKey> & { targetTable: string },
): Promise<WatermarkRow[]> {
  if (!(await tableExists(client))) return [];
  const { rows } = await client.query<RawRow>(
    `${SELECT_ROWS} WHERE target_table = $1 AND ($2::text IS NULL OR source_profile = $2)
       AND ($3::text IS NULL OR source_table = $3) AND ($4::text IS NULL OR cursor_column = $4)
     ORDER BY source_profile, source_table, cursor_column`,
    [filter.targetTable, filter.sourceProfile ?? null, filter.sourceTable ?? null, filter.column ?? null],
  );
  return rows.map(toRow);
}

/**
 * Advances the watermark to `high` (never backwards: a lookback window's maximum can lie below
 * it), only from the value the run planned with. Call inside publish's transaction.
 * @throws WatermarkMovedError when another run or a person moved it since.
 */
export async function advanceWatermark(
  client: pg.ClientBase,
  advance: WatermarkAdvance,
  publishKey: string,
): Promise<void> {
  const type = cursorType(advance.type);
  const params = [...keyParams(advance.key), type, advance.high, publishKey];
  const result =
    advance.previous === null
      ? await client.query(
          `INSERT INTO pgferry.watermarks
             (target_table, source_profile, source_table, cursor_column, cursor_type, watermark, publish_key)
           VALUES ($1, $2, $3, $4, $5, $6::${type}::text, $7) ON CONFLICT DO NOTHING`,
          params,
        )
      : await client.query(
          `UPDATE pgferry.watermarks
              SET watermark = greatest($6::${type}, watermark::${type})::text, cursor_type = $5,
                  publish_key = $7, updated_at = now()
            WHERE ${KEY_WHERE} AND watermark::${type} = $8::${type}`,
          [...params, advance.previous],
        );
  if (result.rowCount !== 1) {
    throw new WatermarkMovedError(
      `the watermark of ${advance.key.targetTable} by ${advance.key.column} moved since this run read it ` +
        `(${advance.previous ?? 'none'}): another copy or \`pgferry watermark\` changed it; nothing published`,
    );
  }
}

/**
 * Sets a watermark by hand, normalised through the type's own input and output (an invalid
 * value fails with PostgreSQL's 22xxx error). Returns the stored text.
 */
export async function setWatermark(
  client: pg.ClientBase,
  key: WatermarkKey,
  type: CursorType,
  value: string,
): Promise<string> {
  await ensureWatermarkTable(client);
  const { rows } = await client.query<{ watermark: string }>(
    `INSERT INTO pgferry.watermarks
       (target_table, source_profile, source_table, cursor_column, cursor_type, watermark, publish_key)
     VALUES ($1, $2, $3, $4, $5, $6::${cursorType(type)}::text, NULL)
     ON CONFLICT (target_table, source_profile, source_table, cursor_column) DO UPDATE
       SET watermark = EXCLUDED.watermark, cursor_type = EXCLUDED.cursor_type, publish_key = NULL, updated_at = now()
     RETURNING watermark`,
    [...keyParams(key), type, value],
  );
  return rows[0]!.watermark;
}

/** Forgets a watermark: the next run copies everything (or from --since). Returns whether one existed. */
export async function resetWatermark(client: pg.ClientBase, key: WatermarkKey): Promise<boolean> {
  if (!(await tableExists(client))) return false;
  const result = await client.query(`DELETE FROM pgferry.watermarks WHERE ${KEY_WHERE}`, keyParams(key));
  return (result.rowCount ?? 0) > 0;
}
