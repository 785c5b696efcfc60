/**
 * The target is the source's table and nothing else is touched (issue 13, items 1, 2, 4, 5, 6,
 * 11), against real clusters: createStaging, exportImport and publish run as the workflow runs
 * them. Referencing tables keep their rows through a replace, a created target keeps identity,
 * generated columns and collations and is created only by publish, sequences end past the copied
 * rows, and a replace fires no row trigger on either publish path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CreateStagingResult, PublishResult } from '../../activities/index.js';
import type { CopyMode } from '../../src/shared/copy-spec.js';
import { FailureType } from '../../src/shared/failure-types.js';
import type { TableRef } from '../../src/shared/table-name.js';
import { createActivities, type Activities } from '../../activities/index.js';
import { loadConnectionProfiles } from '../../src/config/connections.js';
import { Databases } from '../../src/db/databases.js';
import { createCopyWorld, type CopyWorld } from '../support/copy-world.js';
import { assertFailure } from '../support/failures.js';
import { query, tableDigest } from '../support/pg.js';
import { activityEnvironment, exportImport } from '../support/run-copy.js';

const table = (name: string): TableRef => ({ schema: 'public', table: name });

describe('the target is the source table, and nothing else changes', { timeout: 300_000 }, () => {
  let world: CopyWorld;
  let runs = 0;

  before(async () => {
    world = await createCopyWorld();
  });
  after(async () => {
    await world?.close();
  });

  const stage = (ref: TableRef, mode: CopyMode, activities = world.activities): Promise<CreateStagingResult> =>
    activityEnvironment({
      workflowExecution: { workflowId: `pgferry:target:fidelity-${++runs}`, runId: `run-${runs}` },
    }).run(activities.createStaging, {
      source: 'source',
      target: 'target',
      sourceTable: ref,
      targetTable: ref,
      mode,
    });

  /** createStaging, exportImport and publish, with createStaging's result passed on as the workflow does. */
  async function copy(
    ref: TableRef,
    mode: CopyMode = 'replace',
    activities: Activities = world.activities,
  ): Promise<PublishResult> {
    const staged = await stage(ref, mode, activities);
    const result = await exportImport(world, ref, staged);
    return activityEnvironment().run(activities.publish, {
      target: 'target',
      targetTable: ref,
      staging: staged.staging,
      columns: staged.columns,
      primaryKey: staged.primaryKey,
      mode,
      publishKey: `fidelity/${++runs}`,
      expectedRows: result.importedRows,
      ...(staged.createTarget ? { createTarget: staged.createTarget } : {}),
    });
  }

  const exists = async (ref: TableRef) =>
    (await query<{ found: boolean }>(world.targetUrl, 'SELECT to_regclass($1) IS NOT NULL AS found', [ref.table]))
      .rows[0]!.found;

  describe('a replaced table that other tables reference', () => {
    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE dim (id int PRIMARY KEY, name text);
         INSERT INTO dim SELECT g, 'new ' || g FROM generate_series(1, 100) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE dim (id int PRIMARY KEY, name text);
         INSERT INTO dim SELECT g, 'old ' || g FROM generate_series(1, 120) g;`,
      );
    });

    test('keeps every row of tables referencing it ON DELETE CASCADE and ON DELETE SET NULL', async () => {
      await query(
        world.targetUrl,
        `CREATE TABLE dim_cascade (n int, dim_id int REFERENCES dim ON DELETE CASCADE);
         CREATE TABLE dim_set_null (n int, dim_id int REFERENCES dim ON DELETE SET NULL);
         INSERT INTO dim_cascade SELECT g, 1 + g % 100 FROM generate_series(1, 500) g;
         INSERT INTO dim_set_null SELECT g, 1 + g % 100 FROM generate_series(1, 500) g;`,
      );
      try {
        const cascade = await tableDigest(world.targetUrl, table('dim_cascade'));
        const setNull = await tableDigest(world.targetUrl, table('dim_set_null'));
        const published = await copy(table('dim'));
        assert.equal(published.rows, 100);
        assert.deepEqual(
          await tableDigest(world.targetUrl, table('dim')),
          await tableDigest(world.sourceUrl, table('dim')),
        );
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim_cascade')), cascade);
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim_set_null')), setNull);
      } finally {
        await query(world.targetUrl, 'DROP TABLE dim_cascade, dim_set_null');
      }
    });

    test('succeeds under NO ACTION, deferrable and self-referencing keys when every referenced key is among the new rows', async () => {
      await query(world.sourceUrl, 'ALTER TABLE dim ADD parent int; UPDATE dim SET parent = id - 1 WHERE id > 1');
      await query(
        world.targetUrl,
        `ALTER TABLE dim ADD parent int REFERENCES dim;
         UPDATE dim SET parent = id + 1 WHERE id < 100;
         CREATE TABLE dim_fact (n int, dim_id int REFERENCES dim);
         CREATE TABLE dim_late (n int, dim_id int REFERENCES dim DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO dim_fact SELECT g, 1 + g % 100 FROM generate_series(1, 300) g;
         INSERT INTO dim_late SELECT g, 100 - g % 100 FROM generate_series(1, 300) g;`,
      );
      try {
        const fact = await tableDigest(world.targetUrl, table('dim_fact'));
        const late = await tableDigest(world.targetUrl, table('dim_late'));
        await copy(table('dim'));
        assert.deepEqual(
          await tableDigest(world.targetUrl, table('dim')),
          await tableDigest(world.sourceUrl, table('dim')),
        );
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim_fact')), fact);
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim_late')), late);
      } finally {
        await query(world.targetUrl, 'DROP TABLE dim_fact, dim_late; ALTER TABLE dim DROP parent');
        await query(world.sourceUrl, 'ALTER TABLE dim DROP parent');
      }
    });

    test('fails before anything changes, naming the key and how many referenced keys the new rows lack', async () => {
      await query(
        world.targetUrl,
        `INSERT INTO dim VALUES (500, 'only on the target'), (501, 'only on the target');
         CREATE TABLE dim_orders (n int, dim_id int CONSTRAINT dim_orders_dim_fk REFERENCES dim ON DELETE CASCADE);
         INSERT INTO dim_orders SELECT g, CASE WHEN g <= 2 THEN 499 + g ELSE g END FROM generate_series(1, 50) g;`,
      );
      try {
        const dim = await tableDigest(world.targetUrl, table('dim'));
        const orders = await tableDigest(world.targetUrl, table('dim_orders'));
        const failure = await assertFailure(copy(table('dim')), FailureType.DataRejected, true);
        assert.match(failure.message, /dim_orders_dim_fk/);
        assert.match(failure.message, /dim_orders \(dim_id\)/);
        assert.match(failure.message, /\b2 distinct keys/);
        assert.doesNotMatch(failure.message, /\b50[01]\b/, 'key values stay out of the failure (and history)');
        assert.deepEqual(failure.details?.[0], {
          sqlState: '23503',
          constraint: 'dim_orders_dim_fk',
          table: 'dim_orders',
          columns: ['dim_id'],
          missingKeys: 2,
        });
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim')), dim);
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim_orders')), orders);
      } finally {
        await query(world.targetUrl, 'DROP TABLE dim_orders');
      }
    });
  });

  describe('a replaced table that other tables reference, edge cases', () => {
    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE dim2 (id int PRIMARY KEY, name text);
         INSERT INTO dim2 SELECT g, 'new ' || g FROM generate_series(1, 100) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE dim2 (id int PRIMARY KEY, name text UNIQUE);
         INSERT INTO dim2 SELECT g, 'new ' || g FROM generate_series(1, 100) g;`,
      );
    });

    test('a NOT VALID key whose old rows reference nothing does not block the replace', async () => {
      await query(
        world.targetUrl,
        `CREATE TABLE dim2_legacy (dim_id int);
         INSERT INTO dim2_legacy SELECT g FROM generate_series(95, 105) g;
         ALTER TABLE dim2_legacy ADD FOREIGN KEY (dim_id) REFERENCES dim2 ON DELETE CASCADE NOT VALID;`,
      );
      try {
        const legacy = await tableDigest(world.targetUrl, table('dim2_legacy'));
        await copy(table('dim2'));
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim2_legacy')), legacy);
      } finally {
        await query(world.targetUrl, 'DROP TABLE dim2_legacy');
      }
    });

    test('new rows that repeat a referenced key fail as DataRejected, nothing changed', async () => {
      await query(
        world.targetUrl,
        `CREATE TABLE dim2_by_name (name text REFERENCES dim2 (name));
         INSERT INTO dim2_by_name VALUES ('new 1'), ('new 3');`,
      );
      await query(world.sourceUrl, "UPDATE dim2 SET name = 'new 1' WHERE id = 2");
      try {
        const before = await tableDigest(world.targetUrl, table('dim2'));
        const failure = await assertFailure(copy(table('dim2')), FailureType.DataRejected, true);
        assert.match(failure.message, /repeat a value of \(name\)/);
        assert.deepEqual(await tableDigest(world.targetUrl, table('dim2')), before);
      } finally {
        await query(world.targetUrl, 'DROP TABLE dim2_by_name');
        await query(world.sourceUrl, "UPDATE dim2 SET name = 'new 2' WHERE id = 2");
      }
    });
  });

  describe('a target that does not exist', () => {
    test('is not created when the copy fails after createStaging (the source table dropped mid-copy)', async () => {
      await query(world.sourceUrl, 'CREATE TABLE vanishing AS SELECT g AS id FROM generate_series(1, 10) g');
      const staged = await stage(table('vanishing'), 'replace');
      assert.equal(await exists(table('vanishing')), false, 'createStaging leaves the target alone');
      await query(world.sourceUrl, 'DROP TABLE vanishing');
      await assert.rejects(exportImport(world, table('vanishing'), staged), /vanishing|42P01/);
      await activityEnvironment().run(world.activities.dropStaging, { target: 'target', staging: staged.staging });
      assert.equal(await exists(table('vanishing')), false);
    });

    test('keeps identity and generated columns and collations, and takes an INSERT without the id afterwards', async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE made (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            seq bigint GENERATED BY DEFAULT AS IDENTITY,
                            code text COLLATE "C" NOT NULL, label varchar(20) COLLATE "POSIX",
                            twice int GENERATED ALWAYS AS (id * 2) STORED);
         INSERT INTO made (code, label) SELECT 'c' || g, 'l' || g FROM generate_series(1, 200) g;
         DELETE FROM made WHERE id <= 50;`,
      );
      const definitionSql = `SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull, attidentity,
                                    attgenerated, pg_get_expr(adbin, adrelid) AS expr, collname
                               FROM pg_attribute a LEFT JOIN pg_attrdef d ON adrelid = attrelid AND adnum = attnum
                               LEFT JOIN pg_collation c ON c.oid = attcollation
                              WHERE attrelid = 'made'::regclass AND attnum > 0 ORDER BY attnum`;
      const stagingNames = "SELECT relname FROM pg_class WHERE relname LIKE 'pgferry_stg%' ORDER BY 1";
      const stagingBefore = (await query(world.targetUrl, stagingNames)).rows;
      const published = await copy(table('made'));
      assert.equal(published.swapped, true, 'staging, loaded once, became the target');
      const sequences = await query(
        world.targetUrl,
        "SELECT pg_get_serial_sequence('made', 'id') AS id, pg_get_serial_sequence('made', 'seq') AS seq",
      );
      assert.deepEqual(sequences.rows, [{ id: 'public.made_id_seq', seq: 'public.made_seq_seq' }]);
      assert.deepEqual(
        (await query(world.targetUrl, stagingNames)).rows,
        stagingBefore,
        'no staging-named relation left',
      );
      assert.deepEqual(
        (await query(world.targetUrl, definitionSql)).rows,
        (await query(world.sourceUrl, definitionSql)).rows,
      );
      const rowsSql = 'SELECT * FROM made ORDER BY id';
      assert.deepEqual((await query(world.targetUrl, rowsSql)).rows, (await query(world.sourceUrl, rowsSql)).rows);
      const next = await query<{ id: number; seq: string; twice: number }>(
        world.targetUrl,
        "INSERT INTO made (code) VALUES ('new') RETURNING id, seq, twice",
      );
      assert.ok(next.rows[0]!.id > 200, 'the identity sequence is past the copied ids');
      assert.ok(Number(next.rows[0]!.seq) > 200, 'the BY DEFAULT identity too');
      assert.equal(next.rows[0]!.twice, next.rows[0]!.id * 2);
    });
  });

  describe('identity, serial and generated columns of an existing target', () => {
    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE ids (id int PRIMARY KEY, name text);
         INSERT INTO ids SELECT g, 'n' || g FROM generate_series(1, 300) g;`,
      );
    });

    const generated = 'tag text GENERATED ALWAYS AS (upper(name)) STORED';
    for (const [kind, columns] of [
      ['an ALWAYS identity', `id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, ${generated}`],
      ['a BY DEFAULT identity', `id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text, ${generated}`],
      ['a serial', `id serial PRIMARY KEY, name text, ${generated}`],
      ['a serial table that replace swaps', 'id serial PRIMARY KEY, name text'],
    ] as const) {
      for (const mode of ['replace', 'append'] as const) {
        test(`${mode} into ${kind} keeps the copied ids, and the next INSERT without an id succeeds`, async () => {
          await query(world.targetUrl, `CREATE TABLE ids (${columns})`);
          try {
            const published = await copy(table('ids'), mode);
            if (kind.includes('swaps')) assert.equal(published.swapped, mode === 'replace');
            const copied = await query(world.targetUrl, 'SELECT id, name FROM ids ORDER BY id');
            assert.deepEqual(copied.rows, (await query(world.sourceUrl, 'SELECT id, name FROM ids ORDER BY id')).rows);
            if (columns.includes(generated)) {
              const tags = await query(world.targetUrl, 'SELECT 1 FROM ids WHERE tag IS DISTINCT FROM upper(name)');
              assert.equal(tags.rowCount, 0, 'the target computes its generated column');
            }
            const next = await query<{ id: number }>(
              world.targetUrl,
              "INSERT INTO ids (name) VALUES ('x') RETURNING id",
            );
            assert.equal(next.rows[0]!.id, 301);
          } finally {
            await query(world.targetUrl, 'DROP TABLE ids');
          }
        });
      }
    }
  });

  test('upsert into a target whose non-key column is an ALWAYS identity is refused before anything changes', async () => {
    await query(
      world.sourceUrl,
      `CREATE TABLE tickets (code text PRIMARY KEY, seq int NOT NULL);
       INSERT INTO tickets SELECT 'c' || g, g FROM generate_series(1, 50) g;`,
    );
    await query(
      world.targetUrl,
      `CREATE TABLE tickets (code text PRIMARY KEY, seq int GENERATED ALWAYS AS IDENTITY);
       INSERT INTO tickets (code) VALUES ('c1'), ('old');`,
    );
    try {
      const stagings = "SELECT relname FROM pg_class WHERE relname LIKE 'pgferry\\_stg\\_%' ORDER BY 1";
      const stagedBefore = (await query(world.targetUrl, stagings)).rows;
      const before = await tableDigest(world.targetUrl, table('tickets'));
      const failure = await assertFailure(stage(table('tickets'), 'upsert'), FailureType.InvalidCopySpec, true);
      assert.match(failure.message, /upsert cannot update seq of public\.tickets: GENERATED ALWAYS AS IDENTITY/);
      assert.match(failure.message, /SET GENERATED BY DEFAULT\) or copy with --mode replace/);
      assert.deepEqual(await tableDigest(world.targetUrl, table('tickets')), before);
      assert.deepEqual((await query(world.targetUrl, stagings)).rows, stagedBefore, 'no staging table was created');
    } finally {
      await query(world.targetUrl, 'DROP TABLE tickets');
      await query(world.sourceUrl, 'DROP TABLE tickets');
    }
  });

  describe('row triggers', () => {
    before(async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE audited (id int PRIMARY KEY, v text);
         INSERT INTO audited SELECT g, 'v' || g FROM generate_series(1, 400) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE audited (id int PRIMARY KEY, v text);
         INSERT INTO audited SELECT g, 'old' FROM generate_series(1, 10) g;
         CREATE TABLE audit_log (op text, id int);
         CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO audit_log VALUES (TG_OP, coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
         CREATE TRIGGER audited_rows AFTER INSERT OR UPDATE OR DELETE ON audited FOR EACH ROW EXECUTE FUNCTION audit();
         CREATE TRIGGER audited_always AFTER INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit();
         ALTER TABLE audited ENABLE ALWAYS TRIGGER audited_always;
         CREATE TRIGGER audited_off AFTER INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit();
         ALTER TABLE audited DISABLE TRIGGER audited_off;`,
      );
    });

    const triggerModes = async () =>
      (
        await query<{ tgname: string; tgenabled: string }>(
          world.targetUrl,
          "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audited'::regclass ORDER BY tgname",
        )
      ).rows;
    const audited = async () =>
      (await query<{ n: number }>(world.targetUrl, 'SELECT count(*)::int AS n FROM audit_log')).rows[0]!.n;

    test('replace fires none of the target row triggers, as a swap fires none, and leaves each as it was', async () => {
      const modes = await triggerModes();
      await query(world.targetUrl, 'TRUNCATE audit_log');
      const published = await copy(table('audited'));
      assert.equal(published.swapped, false, 'a trigger rules out a swap: rows moved');
      assert.equal(await audited(), 0);
      assert.deepEqual(
        await tableDigest(world.targetUrl, table('audited')),
        await tableDigest(world.sourceUrl, table('audited')),
      );
      assert.deepEqual(await triggerModes(), modes);
    });

    test('replace fires none of the row triggers of a partitioned target, on any partition', async () => {
      await query(
        world.sourceUrl,
        `CREATE TABLE parted (id int PRIMARY KEY, v text);
         INSERT INTO parted SELECT g, 'v' || g FROM generate_series(1, 300) g;`,
      );
      await query(
        world.targetUrl,
        `CREATE TABLE parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
         CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (150);
         CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (150) TO (MAXVALUE);
         INSERT INTO parted SELECT g, 'old' FROM generate_series(1, 10) g;
         CREATE TRIGGER parted_rows AFTER INSERT OR DELETE ON parted FOR EACH ROW EXECUTE FUNCTION audit();
         TRUNCATE audit_log;`,
      );
      await copy(table('parted'));
      assert.equal(await audited(), 0);
      assert.deepEqual(
        await tableDigest(world.targetUrl, table('parted')),
        await tableDigest(world.sourceUrl, table('parted')),
      );
      const enabled = await query(
        world.targetUrl,
        "SELECT 1 FROM pg_trigger WHERE tgname = 'parted_rows' AND tgenabled = 'O'",
      );
      assert.equal(enabled.rowCount, 3, 'enabled again on the table and both partitions');
    });

    test('replace by a role that does not own the target moves the rows with its triggers firing', async () => {
      const password = 'loader-pw-0123';
      await query(
        world.targetUrl,
        `CREATE ROLE loader LOGIN PASSWORD '${password}';
         CREATE SCHEMA IF NOT EXISTS pgferry;
         CREATE TABLE IF NOT EXISTS pgferry.publications (publish_key text PRIMARY KEY, target_table text NOT NULL,
           mode text NOT NULL, rows bigint NOT NULL, published_at timestamptz NOT NULL DEFAULT now());
         GRANT CREATE ON DATABASE postgres TO loader;
         GRANT USAGE, CREATE ON SCHEMA pgferry, public TO loader;
         -- bookkeeping made by earlier copies in this world (as postgres) is the administrator's
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgferry TO loader;
         CREATE TABLE loaded (id serial PRIMARY KEY, v text);
         CREATE TRIGGER loaded_rows AFTER INSERT ON loaded FOR EACH ROW EXECUTE FUNCTION audit();
         GRANT SELECT, INSERT, DELETE, TRUNCATE ON loaded TO loader;
         GRANT INSERT ON audit_log TO loader;
         TRUNCATE audit_log;`,
      );
      await query(
        world.sourceUrl,
        `CREATE TABLE loaded (id int PRIMARY KEY, v text);
         INSERT INTO loaded SELECT g, 'v' || g FROM generate_series(1, 250) g;`,
      );
      const url = new URL(world.targetUrl);
      url.username = 'loader';
      url.password = password;
      const databases = new Databases(
        loadConnectionProfiles({ PGFERRY_CONN_SOURCE: world.sourceUrl, PGFERRY_CONN_TARGET: url.toString() }),
      );
      try {
        const published = await copy(
          table('loaded'),
          'replace',
          createActivities({ databases, psqlPath: world.psqlPath }),
        );
        assert.equal(published.rows, 250);
        assert.equal(await audited(), 250, 'only the owner may disable triggers: the README says so');
        const enabled = await query(
          world.targetUrl,
          "SELECT 1 FROM pg_trigger WHERE tgname = 'loaded_rows' AND tgenabled = 'O'",
        );
        assert.equal(enabled.rowCount, 1);
        assert.deepEqual(
          await tableDigest(world.targetUrl, table('loaded')),
          await tableDigest(world.sourceUrl, table('loaded')),
        );
      } finally {
        await databases.end();
      }
    });

    test('append fires the target row triggers once per copied row', async () => {
      await query(world.targetUrl, 'TRUNCATE audited, audit_log');
      await copy(table('audited'), 'append');
      // audited_rows and audited_always fire; audited_off stays off.
      assert.equal(await audited(), 800);
    });
  });
});
