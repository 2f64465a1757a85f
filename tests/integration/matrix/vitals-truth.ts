/**
 * Vital signs against ground truth, through a pg_monitor-only role (registered in matrix.ts SUITES):
 * - XID age: the test consumes a known number of transaction IDs (committed txid_current() calls);
 *   what pgpulse reports at each sample equals age(datfrozenxid) the test reads right after it,
 *   and the two reports differ by exactly that number.
 * - Replication slots: an inactive physical slot reserved by the test retains the WAL the test then
 *   generates; the reported bytes lie between pg_wal_lsn_diff read just before and just after the
 *   sample (WAL written by the server itself between them is at most one sample's worth).
 * Its objects are named vt_* apart from other suites; it leaves the server running, slot dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause, tableRows } from './frames';

const DB = 'vt_xid';
const SLOT = 'vt_slot';
const XIDS = 250;

interface Series {
  labels: Record<string, string>;
  values: Array<number | null>;
}

export function vitalsTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: vital signs against ground truth (pg_monitor-only role)`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;
    const started = Date.now();

    const series = async (metric: string, extra: Record<string, unknown> = {}): Promise<Series[]> => {
      const res = await sc.query({
        from: started - 1000,
        to: Date.now() + 1000,
        intervalMs: 1000,
        queries: [{ refId: 'A', metric, ...extra }],
      });
      const r = res.json.results.A;
      assert.equal(r.error, undefined, `${metric}: ${r.error}`);
      return (r.frames as any[]).map((f) => ({
        labels: f.schema.fields[1].labels ?? {},
        values: f.data.values[1] as Array<number | null>,
      }));
    };
    const present = (s: Series | undefined): number[] => (s?.values ?? []).filter((v): v is number => v !== null);

    const sample = async (): Promise<void> => {
      await sc.sampleNow();
      for (const id of ['wraparound', 'slots']) {
        const last = sc.sidecar.store.lastSample('default', id, false);
        assert.ok(last?.ok, `${id} sampled without an error: ${JSON.stringify(last)}`);
      }
    };

    before(async () => {
      pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'vt_monitor') THEN
          CREATE ROLE vt_monitor LOGIN PASSWORD 'vtpw' IN ROLE pg_monitor;
        END IF; END $$`);
      if ((await pg.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [DB])).length === 0) {
        // a new database from template0: no dead tuples, so autovacuum leaves its datfrozenxid alone
        await pg.query(`CREATE DATABASE ${DB} TEMPLATE template0`);
      }
      // in the database the sidecar connects to: the tables collector reads the connected database
      await pg.query('CREATE TABLE IF NOT EXISTS public.vt_old (id int)');
      sc = await startTestSidecar({ url: pg.urlFor('postgres', 'vt_monitor', 'vtpw') });
    });
    after(async () => {
      await sc?.destroy();
      await pg
        ?.query(
          `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
          [SLOT]
        )
        .catch(() => undefined);
      await pg?.query('DROP TABLE IF EXISTS public.vt_wal', [], DB).catch(() => undefined);
      await pg?.query('DROP TABLE IF EXISTS public.vt_old').catch(() => undefined);
    });

    it(`XID age equals age(datfrozenxid) before and after ${XIDS} committed transactions`, async () => {
      const truth = async () =>
        (
          await pg.query<{ age: number; frozen: string }>(
            `SELECT pg_catalog.age(datfrozenxid)::int AS age, datfrozenxid::text AS frozen FROM pg_catalog.pg_database WHERE datname = $1`,
            [DB]
          )
        )[0];
      await sample();
      const t0 = await truth();
      const c = new Client({ connectionString: pg.urlFor(DB) });
      await c.connect();
      try {
        // autocommit: each call is its own committed transaction with its own XID
        for (let i = 0; i < XIDS; i++) {
          await c.query('SELECT pg_catalog.txid_current()');
        }
      } finally {
        await c.end();
      }
      await pause(1100);
      await sample();
      const t1 = await truth();
      const tableAge = Number(
        (
          await pg.query<{ a: number }>(
            `SELECT pg_catalog.age(relfrozenxid)::int AS a FROM pg_catalog.pg_class WHERE oid = 'public.vt_old'::regclass`
          )
        )[0].a
      );
      assert.equal(t1.frozen, t0.frozen, 'datfrozenxid did not move during the test');
      assert.ok(t1.age - t0.age >= XIDS, `the test consumed ${XIDS} XIDs (age ${t0.age} → ${t1.age})`);

      const frames = await series('xid_age', { database: DB });
      const xid = frames.find((f) => f.labels.datname === DB && f.labels.kind === 'xid');
      const got = present(xid);
      assert.ok(got.length >= 2, `two samples of ${DB}: ${JSON.stringify(frames)}`);
      assert.equal(got[0], t0.age, 'first sample = age(datfrozenxid) read right after it');
      assert.equal(got[got.length - 1], t1.age, 'last sample = age(datfrozenxid) read right after it');
      assert.ok(
        frames.some((f) => f.labels.kind === 'multixact' && present(f).length > 0),
        'multixact age reported too'
      );

      const limit = present(
        (await series('wraparound_limit_ratio', { database: DB })).find((f) => f.labels.kind === 'xid')
      );
      assert.equal(limit[limit.length - 1], t1.age / 2 ** 31, 'share of 2^31');
      const freezeMax = Number(
        (await pg.query<{ s: string }>(`SELECT pg_catalog.current_setting('autovacuum_freeze_max_age') AS s`))[0].s
      );
      const freeze = present(
        (await series('wraparound_freeze_ratio', { database: DB })).find((f) => f.labels.kind === 'xid')
      );
      assert.equal(freeze[freeze.length - 1], t1.age / freezeMax, 'share of autovacuum_freeze_max_age');

      const oldest = tableRows(
        (
          await sc.query({
            from: started,
            to: Date.now() + 1000,
            queries: [{ refId: 'T', metric: 'table_stats', orderBy: 'xid_age' }],
          })
        ).json,
        'T'
      );
      const row = oldest.find((r) => r.table === 'vt_old');
      assert.ok(row, `table_stats lists vt_old: ${JSON.stringify(oldest)}`);
      assert.equal(row.xid_age, tableAge, 'table XID age = age(relfrozenxid) read right after the sample');
      assert.ok(tableAge >= XIDS, 'the table is older than the XIDs consumed after its creation');
      const ages = oldest.map((r) => r.xid_age as number);
      assert.deepEqual(
        ages,
        [...ages].sort((a, b) => b - a),
        'ordered by XID age, oldest first'
      );
    });

    it('an inactive physical slot retains the WAL the test generated', async () => {
      await pg.query(`SELECT pg_catalog.pg_create_physical_replication_slot($1, true)`, [SLOT]);
      const startLsn = (await pg.query<{ lsn: string }>(`SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn`))[0].lsn;
      await pg.query(
        `CREATE TABLE public.vt_wal AS SELECT g AS id, repeat('x', 200) AS pad FROM pg_catalog.generate_series(1, 20000) g`,
        [],
        DB
      );
      const generated = Number(
        (
          await pg.query<{ b: string }>(
            `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), $1::pg_lsn)::text AS b`,
            [startLsn]
          )
        )[0].b
      );
      assert.ok(generated > 1_000_000, `the test wrote ${generated} bytes of WAL`);

      const retained = async () =>
        Number(
          (
            await pg.query<{ b: string }>(
              `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::text AS b FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
              [SLOT]
            )
          )[0].b
        );
      await pause(1100);
      const lo = await retained();
      await sample();
      const hi = await retained();
      assert.ok(lo >= generated, `the slot keeps at least the generated WAL (${lo} ≥ ${generated})`);

      for (const metric of ['slot_retained_wal', 'inactive_slot_retained_wal']) {
        const got = present((await series(metric)).find((f) => f.labels.slot_name === SLOT));
        assert.ok(got.length > 0, `${metric}: ${SLOT} reported`);
        const last = got[got.length - 1];
        assert.ok(last >= lo && last <= hi, `${metric}: ${last} within [${lo}, ${hi}] read around the sample`);
      }

      const rows = tableRows(
        (
          await sc.query({
            from: started,
            to: Date.now() + 1000,
            queries: [{ refId: 'T', metric: 'replication_slots' }],
          })
        ).json,
        'T'
      );
      const row = rows.find((r) => r.slot === SLOT);
      assert.ok(row, `replication_slots lists ${SLOT}: ${JSON.stringify(rows)}`);
      assert.equal(row.type, 'physical');
      assert.equal(row.active, false);
      assert.equal(row.database, '');
      assert.ok(
        (row.retained_bytes as number) >= lo && (row.retained_bytes as number) <= hi,
        `table: ${row.retained_bytes} within [${lo}, ${hi}]`
      );
    });
  });
}
