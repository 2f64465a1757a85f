/**
 * Neon awareness end to end: the real sidecar, a real PostgreSQL 15 standing in for the Neon
 * compute (reached through a connection-counting TCP proxy), and the fake Neon v2 API.
 *
 * What is real: PostgreSQL, the sidecar, its store/engine/HTTP API, the TCP connections counted.
 * What is stood in: the Neon control plane (tests/support/neon-api.ts) and, in the LFC test, the
 * neon extension's objects (a view and a function with the same names and columns over a table
 * the test controls, plus the collector's assumeExtension override because stock PostgreSQL has
 * no `neon` extension to list in pg_extension).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi, neonSettings } from '../../support/neon-api';
import { startCountingProxy, type CountingProxy } from './tcp-proxy';
import { withCollector } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { NeonApiClient } from '../../../src/sidecar/neon/api-client';
import { NeonGate, gatesByTarget } from '../../../src/sidecar/neon/gate';
import { neonLfcCollector } from '../../../src/sidecar/neon/lfc-collector';
import type { TargetConfig } from '../../../src/sidecar/config';
import { sleep, waitFor } from '../../support/wait';

let pg: TestPostgres;
let api: FakeNeonApi;
let proxy: CountingProxy;

function neonTarget(extra: Partial<TargetConfig> = {}): TargetConfig & { name: string; url: string } {
  return {
    name: 'neon',
    url: `postgres://postgres@127.0.0.1:${proxy.port}/app`,
    intervalMs: 250,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    collectors: {},
    neon: neonSettings(api),
    ...extra,
  };
}

async function series(
  s: TestSidecar,
  metric: string,
  fromMs: number,
  extra: Record<string, unknown> = {}
): Promise<Array<number | null>> {
  const r = await s.query({
    from: fromMs,
    to: Date.now(),
    intervalMs: 1000,
    queries: [{ refId: 'A', metric, target: 'neon', ...extra }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const res = r.json.results.A;
  assert.equal(res.error, undefined, res.error);
  const frame = res.frames[0];
  return frame ? (frame.data.values[1] as Array<number | null>) : [];
}

async function appBackends(): Promise<number> {
  const rows = await pg.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app' AND backend_type = 'client backend'"
  );
  return rows[0].n;
}

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  proxy = await startCountingProxy(pg.port);
  api = await startFakeNeonApi({ state: 'idle' });
});

after(async () => {
  await proxy?.close();
  await api?.close();
  await pg?.destroy();
});

test('endpoint idle: zero connections to the compute, staleness stays 0, health does not connect', async () => {
  api.state = 'idle';
  const before = proxy.connects;
  const s = await startTestSidecar({ targets: [neonTarget()], intervalMs: 250, sampling: true });
  try {
    const t0 = Date.now();
    await sleep(3000);
    assert.equal(proxy.connects - before, 0, 'no TCP connection reached PostgreSQL');
    assert.equal(await appBackends(), 0);
    const markers = s.sidecar.store.awayByDesign('neon', t0, Date.now());
    assert.ok(markers.length >= 5, `idle-by-design markers written (${markers.length})`);
    assert.equal(s.sidecar.store.samples('neon', 'server', 0, Date.now()).length, 0, 'nothing sampled');

    const stale = (await series(s, 'sampler_staleness', t0 + 1000)).filter((v): v is number => v !== null);
    assert.ok(stale.length >= 1);
    // the stale alert needs minutes; here it is at most a sampling interval or two
    assert.ok(Math.max(...stale) <= 1.5, `staleness while idle: ${stale.join(',')}`);
    assert.deepEqual(s.sidecar.store.events('neon', 0, Date.now(), ['target_down']), [], 'no "target down" while idle');

    const h = await s.get('/api/v1/health?target=neon');
    assert.match(JSON.stringify(h.json), /Neon compute is idle/);
    assert.equal(proxy.connects - before, 0, '"Save & test" did not wake the compute either');

    const state = (await series(s, 'neon_compute_state', t0)).filter((v) => v !== null);
    assert.ok(state.length > 0 && state.every((v) => v === 0), `compute state 0 while idle: ${state}`);
    assert.equal(api.nonGet(), 0, 'the Neon API only ever got GETs');
  } finally {
    await s.destroy();
  }
});

test('endpoint becomes active: sampling resumes; compute state goes 0 → 1', async () => {
  api.state = 'idle';
  const s = await startTestSidecar({ targets: [neonTarget()], intervalMs: 250, sampling: true });
  try {
    const t0 = Date.now();
    await sleep(1200);
    assert.equal(s.sidecar.store.samples('neon', 'server', 0, Date.now()).length, 0);
    const before = proxy.connects;
    api.state = 'active';
    await waitFor('a server sample', () => s.sidecar.store.samples('neon', 'server', 0, Date.now()).some((x) => x.ok));
    assert.ok(proxy.connects > before, 'connected once the API said active');
    const state = (await series(s, 'neon_compute_state', t0)).filter((v) => v !== null);
    assert.equal(state[0], 0);
    assert.equal(state[state.length - 1], 1);
    assert.equal(api.nonGet(), 0);
  } finally {
    await s.destroy();
  }
});

test('quiet: another client keeps pgpulse sampling; once only pgpulse is left it backs off until the compute is woken by someone else', async () => {
  api.state = 'active';
  api.lastActive = new Date(Date.now() - 600_000).toISOString();
  const quietMs = 1500;
  const s = await startTestSidecar({
    targets: [neonTarget()],
    intervalMs: 250,
    sampling: true,
    extra: {
      gateFor: (t) =>
        new NeonGate({
          target: t,
          quietMs,
          client: new NeonApiClient({
            apiUrl: api.apiUrl,
            projectId: api.projectId,
            endpointId: api.endpointId,
            apiKey: api.apiKey,
          }),
        }),
    },
  });
  const target = s.sidecar.samplers.get('neon')!.target;
  const gate = gatesByTarget.get(target)!;
  const other = new Client({ connectionString: pg.urlFor('app'), application_name: 'someone-else' });
  await other.connect();
  try {
    // someone else works for 3 × quietMs: pgpulse keeps sampling
    const until = Date.now() + 3 * quietMs;
    while (Date.now() < until) {
      await other.query('SELECT pg_sleep(0.02)');
      await sleep(150);
      assert.notEqual(gate.snapshot().mode, 'backoff', 'no back-off while another client is busy');
    }
    await other.end();

    await waitFor('back-off', () => gate.snapshot().mode === 'backoff', 10_000);
    // the pool closes its idle connection within a second
    await waitFor('pgpulse connections closed', () => proxy.open === 0, 5000);
    const connects = proxy.connects;
    const tQuiet = Date.now();
    await sleep(2500);
    assert.equal(proxy.connects, connects, 'no connection while backing off');
    assert.equal(await appBackends(), 0, 'nothing of ours is left on the compute');
    const stale = (await series(s, 'sampler_staleness', tQuiet)).filter((v): v is number => v !== null);
    assert.ok(Math.max(...stale) <= 1.5, `staleness while backing off: ${stale.join(',')}`);

    // the compute suspends, then another client wakes it: pgpulse samples again
    api.state = 'idle';
    await waitFor('gate sees idle', () => gate.snapshot().mode === 'idle', 5000);
    api.state = 'active';
    await waitFor('sampling again', () => proxy.connects > connects, 5000);
    assert.equal(gate.snapshot().mode, 'sampling');
    assert.equal(api.nonGet(), 0);
  } finally {
    await other.end().catch(() => undefined);
    await s.destroy();
  }
});

test('wrong API key: no connection, health names the fix without the key', async () => {
  api.state = 'active';
  const before = proxy.connects;
  const wrong = 'napi_definitely_wrong_key_42';
  const t = neonTarget();
  t.neon = { ...t.neon!, apiKey: wrong, apiKeyResolved: wrong };
  const s = await startTestSidecar({ targets: [t], intervalMs: 250, sampling: true });
  try {
    await sleep(1500);
    assert.equal(proxy.connects - before, 0);
    const h = await s.get('/api/v1/health?target=neon');
    const text = JSON.stringify(h.json);
    assert.match(text, /rejected the API key/);
    assert.ok(!text.includes(wrong), 'the key never shows up in health');
    assert.equal(
      s.sidecar.store.awayByDesign('neon', 0, Date.now()).length,
      0,
      'no idle marker: the stale alert may fire'
    );
  } finally {
    await s.destroy();
  }
});

test('LFC collector over a neon-compatible stand-in: hit ratio, effective ratio, used bytes and working set', async () => {
  const app = async (sql: string, params: unknown[] = []) => pg.query(sql, params, 'app');
  await app(
    'CREATE TABLE lfc_state (hits bigint, misses bigint, used bigint, writes bigint, used_pages bigint, ws_pages int)'
  );
  await app('INSERT INTO lfc_state VALUES (0, 0, 0, 0, 0, 0)');
  await app(`CREATE VIEW neon_stat_file_cache AS
               SELECT misses AS file_cache_misses, hits AS file_cache_hits, used AS file_cache_used, writes AS file_cache_writes,
                      CASE WHEN hits + misses = 0 THEN NULL ELSE round(hits::numeric * 100 / (hits + misses), 2) END AS file_cache_hit_ratio
               FROM lfc_state`);
  await app(`CREATE VIEW neon_lfc_stats AS
               SELECT 'file_cache_used_pages'::text AS lfc_key, used_pages AS lfc_value FROM lfc_state
               UNION ALL SELECT 'file_cache_chunk_size_pages', 128 FROM lfc_state`);
  await app(
    'CREATE FUNCTION approximate_working_set_size_seconds(duration integer default null) RETURNS integer LANGUAGE sql AS $$ SELECT ws_pages FROM public.lfc_state $$'
  );
  await app('CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 20000) g');
  api.state = 'active';
  const features = withCollector(sidecarFeatures, neonLfcCollector({ assumeExtension: true }));
  const s = await startTestSidecar({ targets: [neonTarget()], intervalMs: 250, sampling: false, extra: { features } });
  const blocks = async () => {
    const r = await pg.query<{ n: string }>('SELECT sum(blks_hit + blks_read)::text AS n FROM pg_stat_database');
    return Number(r[0].n);
  };
  const cycle = async () => {
    await s.sampleNow('neon');
    await sleep(1600); // the sampler's connection closes (neon pools drop idle ones after 1 s), flushing its statistics
  };
  try {
    const t0 = Date.now();
    const steps = [
      { hits: 1000, misses: 100, used: 3, writes: 50, used_pages: 300, ws_pages: 1200 },
      { hits: 1900, misses: 200, used: 4, writes: 60, used_pages: 420, ws_pages: 1500 },
      { hits: 2500, misses: 600, used: 5, writes: 70, used_pages: 512, ws_pages: 1700 },
    ];
    const den: number[] = [];
    for (const st of steps) {
      await app('UPDATE lfc_state SET hits = $1, misses = $2, used = $3, writes = $4, used_pages = $5, ws_pages = $6', [
        st.hits,
        st.misses,
        st.used,
        st.writes,
        st.used_pages,
        st.ws_pages,
      ]);
      await app('SELECT count(*) FROM big'); // thousands of block reads between samples
      await cycle();
      den.push(await blocks());
    }
    const one = async (metric: string) => {
      // up to now: the last cycle may have run after the earlier queries
      const r = await s.query({
        from: t0 - 1000,
        to: Date.now() + 1000,
        intervalMs: 600_000,
        queries: [{ refId: 'A', metric, target: 'neon' }],
      });
      const res = r.json.results.A;
      assert.equal(res.error, undefined, res.error);
      return (res.frames[0].data.values[1] as Array<number | null>).filter((v): v is number => v !== null);
    };
    // ground truth from the counters the test set
    const dh = steps[2].hits - steps[0].hits;
    const dm = steps[2].misses - steps[0].misses;
    const lfc = await one('neon_lfc_hit_ratio');
    assert.equal(lfc.length, 1);
    assert.ok(Math.abs(lfc[0] - dh / (dh + dm)) < 1e-9, `lfc hit ratio ${lfc[0]} vs ${dh / (dh + dm)}`);

    const eff = await one('neon_effective_hit_ratio');
    const truth = 1 - dm / (den[2] - den[0]);
    // the test reads pg_stat_database just after each cycle, the collector a few statements earlier
    assert.ok(Math.abs(eff[0] - truth) < 0.02, `effective ratio ${eff[0]} vs ${truth}`);

    const used = await one('neon_lfc_used_bytes');
    assert.equal(used[used.length - 1], 512 * 8192);
    const ws = await one('neon_working_set_bytes');
    assert.equal(ws[ws.length - 1], 1700 * 8192);

    // without neon_lfc_stats (older extension versions): chunks × 1 MB
    await app('DROP VIEW neon_lfc_stats');
    await cycle();
    const used2 = await one('neon_lfc_used_bytes');
    assert.equal(used2[used2.length - 1], 5 * 128 * 8192);
  } finally {
    await s.destroy();
  }
});
