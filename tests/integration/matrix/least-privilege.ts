/**
 * A role with only pg_monitor (CREATE ROLE … LOGIN IN ROLE pg_monitor): every core collector's
 * SQL runs on this major without an error, and the panels built on them answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { collectorSpecs } from '../../../src/model/catalog/collectors';
import { pause } from './frames';

export function leastPrivilegeSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: a pg_monitor-only role`, () => {
    let sc: TestSidecar;
    before(async () => {
      const pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lp_monitor') THEN
          CREATE ROLE lp_monitor LOGIN PASSWORD 'lppw' IN ROLE pg_monitor;
          CREATE TABLE public.lp_t (id int PRIMARY KEY, v int);
          INSERT INTO public.lp_t SELECT g, g FROM generate_series(1, 500) g;
        END IF; END $$`);
      sc = await startTestSidecar({ url: pg.urlFor('postgres', 'lp_monitor', 'lppw') });
      await sc.sampleNow();
      await pg.query('SELECT count(*) FROM public.lp_t WHERE id < $1', [50]);
      await pause(1100);
      await sc.sampleNow();
    });
    after(async () => {
      await sc?.destroy();
    });

    it('every catalog collector is available and has no failed sample', () => {
      const status = sc.sidecar.samplers.get('default')!.status;
      for (const spec of collectorSpecs) {
        const needs = Math.min(...spec.variants.map((v) => v.minVersion));
        if (needs > (status.serverVersionNum ?? 0)) {
          // pg_stat_io is PostgreSQL 16+: on older majors the collector says which version it needs
          assert.equal(
            status.unavailable[spec.id],
            `needs PostgreSQL ${Math.floor(needs / 10000)} or newer (this server is PostgreSQL ${server.major})`
          );
          continue;
        }
        assert.equal(status.unavailable[spec.id], undefined, `${spec.id}: ${status.unavailable[spec.id]}`);
        assert.ok(sc.sidecar.store.lastSample('default', spec.id, false), `${spec.id} sampled`);
      }
      const errs = sc.sidecar.store.db.prepare('SELECT collector, error FROM sample WHERE ok = 0').all() as Array<{
        collector: string;
        error: string;
      }>;
      const core = new Set(collectorSpecs.map((s) => s.id as string));
      assert.deepEqual(
        errs.filter((e) => core.has(e.collector)),
        [],
        'no failed core sample'
      );
    });

    it('the panels on those collectors answer without an error', async () => {
      const metrics = [
        'tps',
        'cache_hit_ratio',
        'top_queries',
        'checkpoints',
        'table_stats',
        'index_usage',
        'connections',
        'database_size',
      ];
      const res = (
        await sc.query({
          from: Date.now() - 60_000,
          to: Date.now() + 1000,
          queries: metrics.map((m, i) => ({ refId: `R${i}`, metric: m })),
        })
      ).json;
      metrics.forEach((m, i) =>
        assert.equal(res.results[`R${i}`].error, undefined, `${m}: ${res.results[`R${i}`].error}`)
      );
      const top = res.results[`R${metrics.indexOf('top_queries')}`].frames[0];
      assert.ok(top.data.values[0].length > 0, 'top_queries lists the workload');
    });
  });
}
