/**
 * The neon extension's objects with Neon's grants, read by a pg_monitor-only role.
 *
 * Stock PostgreSQL 15 has no `neon` extension, so the test builds its shape: a schema `neon`
 * owned by the superuser holding views and functions with the extension's names and columns
 * over tables the test controls. As on Neon, only neon_stat_file_cache and
 * approximate_working_set_size_seconds are granted to pg_monitor; neon_lfc_stats and
 * neon_perf_counters are not. The collector is told the schema (assumeExtension), because
 * pg_extension cannot list an extension that is not installed.
 * The functions are SECURITY DEFINER, standing in for the C functions that read shared memory.
 * Ground truth: the counters the test writes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi, neonSettings } from '../../support/neon-api';
import { withCollector } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { neonLfcCollector } from '../../../src/sidecar/neon/lfc-collector';
import { minCuFor } from '../../../src/sidecar/neon/sizing';
import { advisorRuntime } from '../../../src/sidecar/advisors/runtime';
import { sleep } from '../../support/wait';

let pg: TestPostgres;
let api: FakeNeonApi;
let s: TestSidecar;
const app = (sql: string, params: unknown[] = []) => pg.query(sql, params, 'app');

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  await pg.query('CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon');
  await app(`CREATE SCHEMA neon;
    CREATE TABLE neon.lfc_state (hits bigint, misses bigint, used bigint, writes bigint, used_pages bigint, ws5 int, ws15 int, ws60 int, cluster bigint);
    INSERT INTO neon.lfc_state VALUES (0, 0, 0, 0, 0, 0, 0, 0, 0);
    CREATE TABLE neon.perf (metric text, bucket_le float8, value float8);
    CREATE VIEW neon.neon_stat_file_cache AS
      SELECT misses AS file_cache_misses, hits AS file_cache_hits, used AS file_cache_used, writes AS file_cache_writes,
             CASE WHEN hits + misses = 0 THEN NULL ELSE round(hits::numeric * 100 / (hits + misses), 2) END AS file_cache_hit_ratio
      FROM neon.lfc_state;
    CREATE VIEW neon.neon_lfc_stats AS
      SELECT 'file_cache_used_pages'::text AS lfc_key, used_pages AS lfc_value FROM neon.lfc_state
      UNION ALL SELECT 'file_cache_chunk_size_pages', 128 FROM neon.lfc_state;
    CREATE VIEW neon.neon_perf_counters AS SELECT metric, bucket_le, value FROM neon.perf;
    CREATE FUNCTION neon.approximate_working_set_size_seconds(duration integer DEFAULT NULL) RETURNS integer LANGUAGE sql SECURITY DEFINER
      AS $$ SELECT CASE WHEN duration <= 300 THEN ws5 WHEN duration <= 900 THEN ws15 ELSE ws60 END FROM neon.lfc_state $$;
    CREATE FUNCTION neon.pg_cluster_size() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$ SELECT cluster FROM neon.lfc_state $$;
    REVOKE ALL ON ALL TABLES IN SCHEMA neon FROM PUBLIC;
    REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA neon FROM PUBLIC;
    GRANT USAGE ON SCHEMA neon TO PUBLIC;
    GRANT SELECT ON neon.neon_stat_file_cache TO pg_monitor;
    GRANT EXECUTE ON FUNCTION neon.approximate_working_set_size_seconds(integer) TO pg_monitor;
    GRANT EXECUTE ON FUNCTION neon.pg_cluster_size() TO PUBLIC;
    CREATE SCHEMA neon_utils;
    CREATE TABLE neon_utils.vm (cpus int);
    INSERT INTO neon_utils.vm VALUES (1);
    CREATE FUNCTION neon_utils.num_cpus() RETURNS integer LANGUAGE sql SECURITY DEFINER AS $$ SELECT cpus FROM neon_utils.vm $$;
    REVOKE ALL ON neon_utils.vm FROM PUBLIC;
    GRANT USAGE ON SCHEMA neon_utils TO PUBLIC`);
  await pg.query(
    "ALTER DATABASE app SET neon.file_cache_size_limit = '1536'; ALTER DATABASE app SET neon.max_cluster_size = '10240'"
  );
  api = await startFakeNeonApi({ state: 'active' });
  await pg.query(`ALTER DATABASE app SET neon.endpoint_id = '${api.endpointId}'`);
  s = await startTestSidecar({
    targets: [
      {
        name: 'neon',
        url: pg.urlFor('app', 'mon'),
        neon: neonSettings(api),
      },
    ],
    intervalMs: 250,
    sampling: false,
    extra: {
      features: withCollector(
        sidecarFeatures,
        neonLfcCollector({ assumeExtension: 'neon', assumeNeonUtils: 'neon_utils' })
      ),
    },
  });
});

after(async () => {
  await s?.destroy();
  await api?.close();
  await pg?.destroy();
});

async function setCounters(v: Record<string, number>, perf: Record<string, number> = {}) {
  await app(
    'UPDATE neon.lfc_state SET hits = $1, misses = $2, used = $3, writes = $4, used_pages = $5, ws5 = $6, ws15 = $7, ws60 = $8, cluster = $9',
    [v.hits, v.misses, v.used, v.writes, v.used_pages, v.ws5, v.ws15, v.ws60, v.cluster]
  );
  await app('DELETE FROM neon.perf');
  for (const [metric, value] of Object.entries(perf)) {
    await app('INSERT INTO neon.perf VALUES ($1, NULL, $2)', [metric, value]);
  }
  await app("INSERT INTO neon.perf VALUES ('getpage_wait_seconds_bucket', 0.001, 12345)"); // histogram rows are ignored
}

async function q(metric: string, t0: number) {
  const r = await s.query({
    from: t0 - 1000,
    to: Date.now() + 1000,
    intervalMs: 600_000,
    queries: [{ refId: 'A', metric, target: 'neon' }],
  });
  return r.json.results.A as {
    error?: string;
    frames: Array<{
      name: string;
      schema?: { name?: string; meta?: { notices?: Array<{ text: string }> } };
      meta?: { notices?: Array<{ text: string }> };
      data: { values: unknown[][] };
    }>;
  };
}

const nameOf = (f: { name?: string; schema?: { name?: string } }) => f.schema?.name ?? f.name;
const last = (frame: { data: { values: unknown[][] } }) =>
  ((frame.data?.values?.[1] ?? []) as Array<number | null>).filter((v): v is number => v !== null).at(-1);

test('pg_monitor-only role: LFC and working set work, the ungranted objects are named on the panels, nothing else is lost', async () => {
  const base = {
    hits: 1000,
    misses: 100,
    used: 3,
    writes: 5,
    used_pages: 300,
    ws5: 1000,
    ws15: 5000,
    ws60: 262_144,
    cluster: 50 * 1024 * 1024,
  };
  await setCounters(base, { getpage_wait_seconds_sum: 1, getpage_wait_seconds_count: 100 });
  const t0 = Date.now();
  await s.sampleNow('neon');
  await sleep(300);
  await setCounters(
    { ...base, hits: 1900, misses: 400, used: 7 },
    { getpage_wait_seconds_sum: 3, getpage_wait_seconds_count: 300 }
  );
  await s.sampleNow('neon');
  const sample = s.sidecar.store.lastSample('neon', 'neon', false);
  assert.ok(
    sample?.ok,
    `the neon collector succeeded despite the denied objects: ${JSON.stringify(s.sidecar.store.db.prepare('SELECT error FROM sample WHERE id = ?').get(sample?.id))}`
  );

  const hit = await q('neon_lfc_hit_ratio', t0);
  assert.equal(hit.error, undefined, hit.error);
  assert.ok(
    Math.abs((last(hit.frames[0]) as number) - 900 / (900 + 300)) < 1e-9,
    `lfc hit ratio ${JSON.stringify(hit.frames[0].data.values[1])}`
  );

  const used = await q('neon_lfc_used_bytes', t0);
  assert.equal(used.error, undefined);
  assert.equal(last(used.frames[0]), 7 * 128 * 8192, 'without neon_lfc_stats: chunks × chunk size');
  assert.match(
    JSON.stringify(used.frames[0].schema?.meta?.notices),
    /neon\.neon_lfc_stats is not readable by role mon/
  );

  const win = await q('neon_lfc_approximate_working_set_size_windows', t0);
  assert.equal(win.error, undefined, win.error);
  const byKind = Object.fromEntries(win.frames.map((f) => [nameOf(f), last(f)]));
  assert.deepEqual(byKind, { '5m': 1000 * 8192, '15m': 5000 * 8192, '1h': 262_144 * 8192 });

  const cu = await q('neon_min_cu_for_working_set', t0);
  assert.equal(last(cu.frames[0]), minCuFor(262_144 * 8192));
  assert.equal(minCuFor(262_144 * 8192), 1, '2 GiB needs 1 CU: 0.5 CU holds 1.5 GiB of cache, 1 CU 3 GiB');

  const limit = await q('neon_lfc_cache_size_limit', t0);
  assert.equal(last(limit.frames[0]), 1536 * 1024 * 1024);
  const size = await q('neon_db_total_size', t0);
  assert.deepEqual(Object.fromEntries(size.frames.map((f) => [nameOf(f), last(f)])), {
    neon_db_total_size: 50 * 1024 * 1024,
    neon_max_cluster_size: 10240 * 1024 * 1024,
  });

  const perf = await q('neon_getpage_wait_seconds_avg', t0);
  assert.match(perf.error ?? '', /neon\.neon_perf_counters is not readable by role mon.*neon_superuser/);

  // a neon_superuser grants it: storage latency appears, from the counters the test set
  await app('GRANT SELECT ON neon.neon_perf_counters TO mon');
  await setCounters(
    { ...base, hits: 2000, misses: 450 },
    { getpage_wait_seconds_sum: 4, getpage_wait_seconds_count: 400, pageserver_disconnects_total: 2 }
  );
  await s.sampleNow('neon');
  await sleep(1200); // the query below starts 1 s before t1: only the next sample falls in it
  const t1 = Date.now();
  await setCounters(
    { ...base, hits: 2100, misses: 500 },
    { getpage_wait_seconds_sum: 10, getpage_wait_seconds_count: 500, pageserver_disconnects_total: 5 }
  );
  await s.sampleNow('neon');
  // cold start: this compute's active period began with the first API answer, within 5 minutes
  const cold = await q('neon_resume_cold_start', t0 - 60_000);
  assert.equal(cold.error, undefined, cold.error);
  const cf = cold.frames[0] as unknown as {
    schema: { fields: Array<{ name: string }> };
    data: { values: unknown[][] };
  };
  const cc = (n: string) => cf.data.values[cf.schema.fields.findIndex((f) => f.name === n)] as Array<number | null>;
  assert.equal(cc('resumed').length, 1, 'one active period');
  // counters the test set: misses 100 → 400 → 450 → 500, hits 1000 → 1900 → 2000 → 2100
  assert.equal(cc('storage reads (LFC misses)')[0], 400);
  assert.ok(Math.abs((cc('LFC hit ratio')[0] as number) - 1100 / 1500) < 1e-9);
  const perf2 = await q('neon_getpage_wait_seconds_avg', t1);
  assert.equal(perf2.error, undefined, perf2.error);
  assert.ok(
    Math.abs((last(perf2.frames[0]) as number) - (10 - 4) / (500 - 400)) < 1e-9,
    `avg getpage wait ${last(perf2.frames[0])}`
  );
});

test('advisor: the 1 h working set needs more than the minimum compute size → "raise min CU", no ALTER SYSTEM', async () => {
  const rt = advisorRuntime(s.sidecar);
  assert.ok(rt, 'advisor runtime');
  const ev = await rt.evaluate('neon');
  const f = ev.findings.find((x) => x.rule === 'neon_min_cu');
  assert.ok(f, `finding: ${ev.findings.map((x) => x.rule)}`);
  // the test set the 1 h working set to 262 144 pages (2 GiB); the fake API's min CU is 0.25
  assert.equal(f.evidence.values.working_set_1h_bytes, 262_144 * 8192);
  assert.equal(f.evidence.values.needed_cu, minCuFor(262_144 * 8192));
  assert.equal(f.evidence.values.min_cu, 0.25);
  assert.match(f.fix.setting ?? '', /raise autoscaling_limit_min_cu to 1/);
  assert.doesNotMatch(JSON.stringify(ev.findings), /ALTER SYSTEM/);
});

test('autoscaling: num_cpus() against the API limits, time at max, max_connections', async () => {
  api.minCu = 0.25;
  api.maxCu = 2;
  await app('UPDATE neon_utils.vm SET cpus = 1');
  await sleep(300); // the gate asks the API at most every 200 ms, when a cycle asks it
  await s.sampleNow('neon'); // this cycle's gate check reads the new limits
  await sleep(20);
  await sleep(20);
  const t0 = Date.now();
  await s.sampleNow('neon');
  await app('UPDATE neon_utils.vm SET cpus = 2');
  await s.sampleNow('neon');
  const range = async (metric: string) => {
    const r = await s.query({
      from: t0,
      to: Date.now() + 1000,
      intervalMs: 600_000,
      queries: [{ refId: 'A', metric, target: 'neon' }],
    });
    return r.json.results.A as {
      error?: string;
      frames: Array<{ schema?: { name?: string }; name: string; data: { values: unknown[][] } }>;
    };
  };
  const a = await range('neon_autoscaling');
  assert.equal(a.error, undefined, a.error);
  assert.deepEqual(Object.fromEntries(a.frames.map((f) => [nameOf(f), last(f)])), {
    allocated: 2,
    min_cu: 0.25,
    max_cu: 2,
  });
  const atMax = await range('neon_time_at_max_cu');
  // other triggers (health) may add a cycle: the truth is the share of stored samples that read cpus = 2
  const stored = s.sidecar.store.samples('neon', 'neon', t0, Date.now() + 1);
  const cpus = s.sidecar.store
    .matrix('neon', 'neon', ['num_cpus'], undefined, stored)
    .find((x) => x.field === 'num_cpus')!.values;
  assert.ok(cpus.includes(1) && cpus.includes(2), `cpus read: ${cpus}`);
  assert.equal(last(atMax.frames[0]), cpus.filter((c) => c === 2).length / cpus.length, `cpus ${JSON.stringify(cpus)}`);
  // a primary: no replica lag series values (pg_is_in_recovery() is false here)
  const lag = await range('neon_replication_delay');
  assert.equal(lag.error, undefined, lag.error);
  assert.ok(
    lag.frames.every((f) => last(f) === undefined),
    `no lag values on a primary (not a zero lag): ${JSON.stringify(lag.frames)}`
  );
  const mc = await range('neon_max_connections');
  const truth = await pg.query<{ m: string }>("SELECT current_setting('max_connections') AS m");
  assert.equal(last(mc.frames[0]), Number(truth[0].m));
});

// last: a mismatch stops the gate for good (the fix is a config change and a restart)
test('the compute reporting another neon.endpoint_id stops sampling with an error naming both ids', async () => {
  await pg.query("ALTER DATABASE app SET neon.endpoint_id = 'ep-someone-else-1'");
  await sleep(1500); // Neon pools close idle connections after 1 s: the next session sees the new setting
  try {
    await s.sampleNow('neon');
    const bad = s.sidecar.store.lastSample('neon', 'neon_activity', false);
    assert.equal(bad?.ok, false);
    const r = await s.sidecar.samplers.get('neon')!.mayContact();
    assert.equal(r.allowed, false);
    assert.match(r.reason ?? '', /neon\.endpoint_id = ep-someone-else-1 but neon\.endpointId is ep-/);
  } finally {
    await pg.query(`ALTER DATABASE app SET neon.endpoint_id = '${api.endpointId}'`);
  }
});
