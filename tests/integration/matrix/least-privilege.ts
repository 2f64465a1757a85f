/**
 * A role with only pg_monitor (CREATE ROLE … LOGIN IN ROLE pg_monitor): every core collector's
 * SQL runs on this major without an error, and the panels built on them answer; the target
 * capabilities probe (targets/capabilities) says what the catalog says, and sees an extension
 * created or dropped at the next cycle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { collectorSpecs } from '../../../src/model/catalog/collectors';
import { Client } from 'pg';
import {
  KNOWN_EXTENSIONS,
  preloadList,
  probeCapabilities,
  type TargetCapabilities,
} from '../../../src/sidecar/targets/capabilities';
import { inReadOnlyTx } from '../../../src/sidecar/targets/connection';
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

    /** the catalog's answer, read as the superuser without the probe's SQL */
    async function groundTruth() {
      const pg = getPg();
      const [v] = await pg.query<{ v: string; vn: string; libs: string; tio: string; tc: string; sysid: string }>(
        `SELECT (SELECT setting FROM pg_settings WHERE name = 'server_version') AS v,
                (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
                (SELECT setting FROM pg_settings WHERE name = 'server_version_num') AS vn,
                (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS libs,
                (SELECT setting FROM pg_settings WHERE name = 'track_io_timing') AS tio,
                (SELECT setting FROM pg_settings WHERE name = 'track_counts') AS tc`
      );
      const ext = await pg.query<{ extname: string; extversion: string; nspname: string }>(
        'SELECT e.extname, e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace'
      );
      // every role lp_monitor belongs to, directly or through another, from pg_auth_members
      const member = await pg.query<{ rolname: string }>(
        `WITH RECURSIVE m(oid) AS (
           SELECT oid FROM pg_roles WHERE rolname = 'lp_monitor'
           UNION SELECT a.roleid FROM pg_auth_members a JOIN m ON a.member = m.oid)
         SELECT r.rolname FROM m JOIN pg_roles r ON r.oid = m.oid`
      );
      const avail = await pg.query<{ name: string }>('SELECT name FROM pg_available_extensions WHERE name = ANY ($1)', [
        [...KNOWN_EXTENSIONS],
      ]);
      return {
        v,
        ext: new Map(ext.map((e) => [e.extname, { version: e.extversion, schema: e.nspname }])),
        member: new Set(member.map((r) => r.rolname)),
        available: new Set(avail.map((a) => a.name)),
      };
    }

    const probed = (): TargetCapabilities => {
      const caps = sc.sidecar.samplers.get('default')!.context()?.capabilities;
      assert.ok(caps, 'the sampler probed the target');
      return caps;
    };

    it('the capabilities probe of a pg_monitor-only role matches the catalog', async () => {
      const truth = await groundTruth();
      const caps = probed();
      assert.equal(caps.serverVersion, truth.v.v);
      assert.equal(caps.serverVersionNum, Number(truth.v.vn));
      assert.equal(Math.floor(caps.serverVersionNum / 10000), server.major);
      assert.equal(caps.database, 'postgres');
      assert.equal(caps.inRecovery, false);
      assert.deepEqual(caps.role, {
        name: 'lp_monitor',
        superuser: false,
        pgMonitor: truth.member.has('pg_monitor'),
        pgReadAllStats: truth.member.has('pg_read_all_stats'),
        pgSignalBackend: truth.member.has('pg_signal_backend'),
      });
      // pg_monitor includes pg_read_all_stats, and nothing here grants pg_signal_backend
      assert.equal(caps.role.pgMonitor && caps.role.pgReadAllStats && !caps.role.pgSignalBackend, true);
      assert.deepEqual(new Map(caps.extensions), truth.ext);
      assert.deepEqual(new Set(caps.available), truth.available);
      assert.ok(caps.available.has('pg_stat_statements'));
      // pg_monitor includes pg_read_all_settings: the superuser-only setting is readable
      assert.deepEqual(caps.sharedPreloadLibraries, preloadList(truth.v.libs));
      assert.equal(caps.settings.trackIoTiming, truth.v.tio === 'on');
      assert.equal(caps.settings.trackCounts, truth.v.tc === 'on');
      assert.deepEqual(caps.neon, { endpointId: null, detected: false });
      assert.equal(caps.server.systemIdentifier, truth.v.sysid);
      const port = new URL(getPg().urlFor('postgres', 'lp_monitor', 'lppw')).port;
      assert.equal(caps.server.port === null ? null : String(caps.server.port), port ? port : null);
      // health probes afresh on its own connection and answers from the same probe
      const health = await sc.sidecar.service.health('default');
      assert.equal(health.details.serverVersion, truth.v.v);
      assert.equal(health.details.extensions.pg_stat_statements?.version, truth.ext.get('pg_stat_statements')?.version);
    });

    it('a role without any monitoring grant gets an answer too: what it may not see is null, not an error', async () => {
      const pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lp_bare') THEN
          CREATE ROLE lp_bare LOGIN PASSWORD 'lpbare';
        END IF; END $$`);
      const [may] = await pg.query<{ sysid: boolean; settings: boolean }>(
        `SELECT has_function_privilege('lp_bare', 'pg_catalog.pg_control_system()', 'EXECUTE') AS sysid,
                pg_has_role('lp_bare', 'pg_read_all_settings', 'USAGE') AS settings`
      );
      const c = new Client({ connectionString: pg.urlFor('postgres', 'lp_bare', 'lpbare') });
      await c.connect();
      try {
        const caps = await inReadOnlyTx(c, 5000, () => probeCapabilities(c));
        const truth = await groundTruth();
        assert.deepEqual(caps.role, {
          name: 'lp_bare',
          superuser: false,
          pgMonitor: false,
          pgReadAllStats: false,
          pgSignalBackend: false,
        });
        assert.equal(may.settings, false);
        assert.equal(caps.sharedPreloadLibraries, null, 'shared_preload_libraries is superuser-only');
        assert.equal(caps.server.systemIdentifier, may.sysid ? truth.v.sysid : null);
        assert.deepEqual(new Map(caps.extensions), truth.ext);
        assert.equal(caps.serverVersionNum, Number(truth.v.vn));
      } finally {
        await c.end();
      }
    });

    it('an extension created or dropped is seen at the next cycle, in its schema', async () => {
      const pg = getPg();
      await pg.query('CREATE SCHEMA lp_caps; CREATE EXTENSION seg SCHEMA lp_caps');
      try {
        await sc.sampleNow();
        const truth = await groundTruth();
        assert.deepEqual(probed().extensions.get('seg'), truth.ext.get('seg'));
        assert.equal(probed().extensions.get('seg')?.schema, 'lp_caps');
        assert.equal(sc.sidecar.samplers.get('default')!.context()?.extensionSchemas.get('seg'), 'lp_caps');
        assert.equal(sc.sidecar.samplers.get('default')!.status.extensions.seg, truth.ext.get('seg')?.version);
      } finally {
        await pg.query('DROP EXTENSION IF EXISTS seg; DROP SCHEMA IF EXISTS lp_caps');
      }
      await sc.sampleNow();
      assert.equal(probed().extensions.has('seg'), false);
      assert.deepEqual(new Map(probed().extensions), (await groundTruth()).ext);
    });
  });
}
