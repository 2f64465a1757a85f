/**
 * Relation sizes: the tables/indexes collectors report relpages × block_size every run and the
 * exact pg_relation_size / pg_total_relation_size read again only when relpages or relfilenode
 * moved, or for every relation every EXACT_SIZE_REFRESH runs. Ground truth is the database's
 * own figures, read as the pg_monitor role the collectors run as.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, type PoolClient } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { collectorSpecs, EXACT_SIZE_REFRESH } from '../../../src/model/catalog/collectors';
import { sqlCollector } from '../../../src/sidecar/collectors/sql-collector';
import type { TargetContext, CollectorResult } from '../../../src/sidecar/collectors/types';

const spec = (id: string) => collectorSpecs.find((s) => s.id === id)!;

export function sizesTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: relation sizes, estimated every run and exact at a slower cadence`, () => {
    let mon: Client;
    let ctx: TargetContext;
    const tables = sqlCollector(spec('tables'));
    const database = sqlCollector(spec('database'));
    const indexes = sqlCollector(spec('indexes'));
    before(async () => {
      const pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sz_monitor') THEN
          CREATE ROLE sz_monitor LOGIN PASSWORD 'szpw' IN ROLE pg_monitor;
        END IF; END $$`);
      await pg.query('DROP TABLE IF EXISTS public.sz_t');
      // no autovacuum/autoanalyze moving relpages behind the test's back
      await pg.query('CREATE TABLE public.sz_t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)');
      await pg.query("INSERT INTO public.sz_t SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");
      await pg.query('VACUUM public.sz_t');
      await pg.query('ANALYZE public.sz_t'); // ANALYZE alone sets the indexes' relpages too
      mon = new Client({ connectionString: pg.urlFor('postgres', 'sz_monitor', 'szpw') });
      await mon.connect();
      const v = await mon.query<{ v: number }>("SELECT pg_catalog.current_setting('server_version_num')::int AS v");
      ctx = {
        target: { name: 'sz' },
        serverVersionNum: v.rows[0].v,
        extensions: new Map(),
        extensionSchemas: new Map(),
      } as unknown as TargetContext;
    });
    after(async () => {
      await mon?.end();
      await getPg().query('DROP TABLE IF EXISTS public.sz_t');
    });

    const row = (res: CollectorResult, relname: string, indexrelname?: string) => {
      const r = res.rows.find(
        (x) => x.key.relname === relname && (indexrelname === undefined || x.key.indexrelname === indexrelname)
      );
      assert.ok(r, `${relname} ${indexrelname ?? ''} sampled`);
      return r.values;
    };
    const truth = async () =>
      (
        await mon.query<{ total: string; heap: string; idx: string; est: number; vis: number; idx_est: number }>(
          `SELECT pg_catalog.pg_total_relation_size('public.sz_t') AS total, pg_catalog.pg_relation_size('public.sz_t') AS heap,
                  pg_catalog.pg_relation_size('public.sz_t_pkey') AS idx,
                  (SELECT relpages::float8 * pg_catalog.current_setting('block_size')::float8 FROM pg_catalog.pg_class WHERE oid = 'public.sz_t'::pg_catalog.regclass) AS est,
                  (SELECT relallvisible::float8 * pg_catalog.current_setting('block_size')::float8 FROM pg_catalog.pg_class WHERE oid = 'public.sz_t'::pg_catalog.regclass) AS vis,
                  (SELECT relpages::float8 * pg_catalog.current_setting('block_size')::float8 FROM pg_catalog.pg_class WHERE oid = 'public.sz_t_pkey'::pg_catalog.regclass) AS idx_est`
        )
      ).rows[0];
    const run = async () => ({
      t: row(await tables.collect(mon as unknown as PoolClient, ctx), 'sz_t'),
      i: row(await indexes.collect(mon as unknown as PoolClient, ctx), 'sz_t', 'sz_t_pkey'),
    });

    it('the estimate is relpages × block_size and the exact size is pg_relation_size after the slow cadence', async () => {
      const first = await run();
      let t = await truth();
      assert.ok(Number(t.heap) > 0 && t.est > 0, 'the table has pages');
      assert.equal(first.t.heap_pages_bytes, t.est);
      assert.equal(first.t.all_visible_bytes, t.vis);
      assert.equal(first.i.index_pages_bytes, t.idx_est);
      assert.equal(first.t.size_bytes, Number(t.total));
      assert.equal(first.t.heap_bytes, Number(t.heap));
      assert.equal(first.i.size_bytes, Number(t.idx));

      // grows on disk without a VACUUM/ANALYZE: relpages (and so the estimate) stays, the exact figure is kept until the refresh
      await getPg().query("INSERT INTO public.sz_t SELECT g, repeat('y', 200) FROM generate_series(2001, 6000) g");
      t = await truth();
      assert.ok(Number(t.heap) > first.t.heap_bytes!, 'the heap grew on disk');
      for (let n = 2; n <= EXACT_SIZE_REFRESH; n++) {
        const r = await run();
        assert.equal(r.t.heap_pages_bytes, t.est, `run ${n}: estimate from relpages`);
        assert.equal(r.t.heap_bytes, first.t.heap_bytes, `run ${n}: the last exact figure until the refresh`);
        assert.equal(r.i.size_bytes, first.i.size_bytes, `run ${n}: the last exact index figure until the refresh`);
      }
      const refreshed = await run();
      assert.equal(refreshed.t.size_bytes, Number(t.total));
      assert.equal(refreshed.t.heap_bytes, Number(t.heap));
      assert.equal(refreshed.i.size_bytes, Number(t.idx));
    });

    it('pg_database_size is read on the first run and every EXACT_SIZE_REFRESH runs, the last figure in between', async () => {
      const dbSize = async () =>
        Number(
          (await mon.query<{ b: string }>('SELECT pg_catalog.pg_database_size(current_database()) AS b')).rows[0].b
        );
      const size = async () =>
        (await database.collect(mon as unknown as PoolClient, ctx)).rows.find((r) => r.key.datname === 'postgres')!
          .values.size_bytes;
      // bracketed by the truth read just before and after: nothing else writes meanwhile, so both are usually the same
      let lo = await dbSize();
      const first = await size();
      let hi = await dbSize();
      assert.ok(first !== null && first >= lo && first <= hi, `first run ${first} within [${lo}, ${hi}]`);
      await getPg().query("INSERT INTO public.sz_t SELECT g, repeat('w', 500) FROM generate_series(100001, 104000) g");
      assert.ok((await dbSize()) > first, 'the database grew on disk');
      for (let n = 2; n <= EXACT_SIZE_REFRESH; n++) {
        assert.equal(await size(), first, `run ${n}: the last exact figure until the refresh`);
      }
      lo = await dbSize();
      const refreshed = await size();
      hi = await dbSize();
      assert.ok(
        refreshed !== null && refreshed > first && refreshed >= lo && refreshed <= hi,
        `refreshed ${refreshed} within [${lo}, ${hi}]`
      );
    });

    it("index block counters are pg_statio_user_indexes' own figures", async () => {
      // PG14's statistics collector reports the inserts' block counts a moment after they commit
      const touched = async () =>
        Number(
          (
            await mon.query<{ n: string }>(
              "SELECT (idx_blks_read + idx_blks_hit)::text AS n FROM pg_catalog.pg_statio_user_indexes WHERE schemaname = 'public' AND indexrelname = 'sz_t_pkey'"
            )
          ).rows[0]?.n ?? 0
        ) > 0;
      for (let i = 0; i < 100 && !(await touched()); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      // one transaction: the statistics snapshot is the same for the collector and the truth
      await mon.query('BEGIN');
      try {
        const r = row(await indexes.collect(mon as unknown as PoolClient, ctx), 'sz_t', 'sz_t_pkey');
        const t = (
          await mon.query<{ idx_blks_read: string; idx_blks_hit: string }>(
            "SELECT idx_blks_read, idx_blks_hit FROM pg_catalog.pg_statio_user_indexes WHERE schemaname = 'public' AND indexrelname = 'sz_t_pkey'"
          )
        ).rows[0];
        assert.ok(Number(t.idx_blks_read) + Number(t.idx_blks_hit) > 0, 'the inserts touched the index');
        assert.equal(r.idx_blks_read, Number(t.idx_blks_read));
        assert.equal(r.idx_blks_hit, Number(t.idx_blks_hit));
      } finally {
        await mon.query('COMMIT');
      }
    });

    it('a VACUUM that moves relpages makes the next run read the exact size again', async () => {
      await run(); // a fresh cache cycle starts at most here
      await getPg().query("INSERT INTO public.sz_t SELECT g, repeat('z', 200) FROM generate_series(6001, 9000) g");
      await getPg().query('VACUUM public.sz_t');
      await getPg().query('ANALYZE public.sz_t');
      const t = await truth();
      const r = await run();
      assert.equal(r.t.heap_pages_bytes, t.est);
      assert.equal(r.t.heap_pages_bytes, Number(t.heap), 'after VACUUM relpages is the heap size');
      assert.equal(r.t.heap_bytes, Number(t.heap));
      assert.equal(r.t.size_bytes, Number(t.total));
      assert.equal(r.i.size_bytes, Number(t.idx));
      assert.equal(r.i.index_pages_bytes, Number(t.idx));
    });
  });
}
