/**
 * A replace publishes the same way whichever path it takes: swapping staging in fires no row
 * trigger, so moving rows must not fire the target's user triggers either. They are disabled
 * inside publish's transaction (which holds the target's ACCESS EXCLUSIVE lock, so no other
 * session writes the table meanwhile) and re-enabled, each in its own mode, before commit.
 * Internal triggers (foreign keys) stay on. Append and upsert never come here: their triggers fire.
 */
import type pg from 'pg';
import { log } from '@temporalio/activity';
import { quoteIdent, quoteTable, type TableRef } from '../src/shared/table-name.js';

const ENABLED_USER_TRIGGERS_SQL = `
SELECT tgname AS name, tgenabled AS mode FROM pg_trigger
 WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'D' ORDER BY tgname`;

const ENABLE_CLAUSE: Record<string, string> = { O: 'ENABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };

export interface SuspendedTriggers {
  /** How many triggers were disabled; 0 when there were none or the role may not. */
  count: number;
  /** Re-enables them as they were; call before commit. */
  restore(): Promise<void>;
}

/** Disables the table's enabled user triggers until `restore()`; a role that may not gets a warning. */
export async function suspendUserTriggers(client: pg.ClientBase, table: TableRef): Promise<SuspendedTriggers> {
  const target = quoteTable(table);
  const { rows } = await client.query<{ name: string; mode: string }>(ENABLED_USER_TRIGGERS_SQL, [target]);
  const none: SuspendedTriggers = { count: 0, restore: () => Promise.resolve() };
  if (rows.length === 0) return none;
  await client.query('SAVEPOINT pgferry_triggers');
  try {
    await client.query(
      `ALTER TABLE ${target} ${rows.map((row) => `DISABLE TRIGGER ${quoteIdent(row.name)}`).join(', ')}`,
    );
    await client.query('RELEASE SAVEPOINT pgferry_triggers');
  } catch (error) {
    // Only the table's owner may disable its triggers (42501).
    if ((error as { code?: string }).code !== '42501') throw error;
    await client.query('ROLLBACK TO SAVEPOINT pgferry_triggers');
    log.warn("replace fires the target's row triggers for every row: this role may not disable them", {
      table: target,
      triggers: rows.map((row) => row.name),
    });
    return none;
  }
  return {
    count: rows.length,
    async restore() {
      // Deferred trigger events queued on the table would make ALTER TABLE fail (55006): run them now.
      await client.query('SET CONSTRAINTS ALL IMMEDIATE');
      const clauses = rows.map((row) => `${ENABLE_CLAUSE[row.mode] ?? 'ENABLE'} TRIGGER ${quoteIdent(row.name)}`);
      await client.query(`ALTER TABLE ${target} ${clauses.join(', ')}`);
    },
  };
}
