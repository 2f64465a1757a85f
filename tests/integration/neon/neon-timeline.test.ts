/**
 * Scale-to-zero timeline and "what kept the compute awake", end to end: the real sidecar, a real
 * PostgreSQL 15 behind a connection-counting proxy, the fake Neon API. Ground truth: the states
 * the test gives the API, the client the test runs (its application_name, user, database), and
 * Neon's availability-check operation, during which nothing may connect.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi, neonSettings } from '../../support/neon-api';
import { startCountingProxy, type CountingProxy } from './tcp-proxy';
import { TIMELINE_STATES } from '../../../src/sidecar/neon/timeline';
import { gatesByTarget } from '../../../src/sidecar/neon/gate';
import { sleep, waitFor } from '../../support/wait';

let pg: TestPostgres;
let api: FakeNeonApi;
let proxy: CountingProxy;

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

test('timeline idle → active (a named client) → idle → Neon availability check; the active periods say who kept it awake', async () => {
  const s = await startTestSidecar({
    targets: [
      {
        name: 'neon',
        url: `postgres://postgres@127.0.0.1:${proxy.port}/app`,
        neon: neonSettings(api),
      },
    ],
    intervalMs: 250,
    sampling: true,
  });
  const other = new Client({ connectionString: pg.urlFor('app'), application_name: 'reporting-job' });
  const gate = gatesByTarget.get(s.sidecar.samplers.get('neon')!.target)!;
  // each state must reach the gate (it polls the API from the sampling loop, slower on a loaded machine)
  const answers = (state: 'idle' | 'active', since: number) => {
    const samples = s.sidecar.store.samples('neon', 'neon_api', since, Date.now() + 1).filter((x) => x.ok);
    const active =
      s.sidecar.store.matrix('neon', 'neon_api', ['active'], undefined, samples).find((x) => x.field === 'active')
        ?.values ?? [];
    return active.filter((v) => v === (state === 'active' ? 1 : 0)).length;
  };
  const seen = async (state: 'idle' | 'active', ms: number) => {
    await waitFor(`the gate sees ${state}`, () => gate.snapshot().state === state);
    const since = Date.now();
    await sleep(ms);
    // several stored answers of this state, spread over more than one timeline step
    await waitFor(`stored ${state} answers`, () => answers(state, since) >= 3);
  };
  try {
    const t0 = Date.now();
    await seen('idle', 1500);
    api.state = 'active';
    await other.connect();
    const busyUntil = Date.now() + 2000;
    while (Date.now() < busyUntil) {
      await other.query('SELECT pg_sleep(0.2)');
    }
    await other.end();
    await seen('active', 0);
    api.state = 'idle';
    await seen('idle', 1500);
    // Neon wakes it for an availability check: pgpulse must not connect
    const now = new Date().toISOString();
    api.operations = [
      {
        id: '5d3c2b1a-0e9f-4a8b-9c7d-6e5f4a3b2c1d',
        endpoint_id: api.endpointId,
        action: 'check_availability',
        status: 'running',
        created_at: now,
        updated_at: now,
        total_duration_ms: 0,
      },
      {
        id: '7e6d5c4b-3a2f-4e1d-8c0b-9a8f7e6d5c4b',
        endpoint_id: api.endpointId,
        action: 'start_compute',
        status: 'finished',
        created_at: now,
        updated_at: now,
        total_duration_ms: 350,
      },
    ];
    await sleep(300);
    const connects = proxy.connects;
    api.state = 'active';
    await seen('active', 1500);
    assert.equal(proxy.connects, connects, 'no connection during the availability-check wake');
    api.state = 'idle';
    await seen('idle', 800);

    const r = await s.query({
      from: t0,
      to: Date.now(),
      intervalMs: 250,
      queries: [
        { refId: 'A', metric: 'neon_compute_timeline', target: 'neon' },
        { refId: 'B', metric: 'neon_active_periods', target: 'neon' },
        { refId: 'C', metric: 'events', target: 'neon' },
      ],
    });
    const tl = (r.json.results.A.frames[0].data.values[1] as Array<number | null>).filter(
      (v): v is number => v !== null
    );
    // collapse runs: idle, active, idle, check, idle
    const runs = tl.filter((v, i) => i === 0 || v !== tl[i - 1]);
    assert.deepEqual(
      runs.filter((v) => v !== TIMELINE_STATES.pgpulseOnly),
      [
        TIMELINE_STATES.idle,
        TIMELINE_STATES.active,
        TIMELINE_STATES.idle,
        TIMELINE_STATES.neonCheck,
        TIMELINE_STATES.idle,
      ],
      `timeline runs ${runs}`
    );

    const t = r.json.results.B.frames[0];
    const names = t.schema.fields.map((f: { name: string }) => f.name);
    const col = (n: string) => t.data.values[names.indexOf(n)] as unknown[];
    assert.equal(col('start').length, 2, `two active periods: ${JSON.stringify(t.data.values)}`);
    assert.match(String(col('kept awake by')[0]), /reporting-job \(postgres@app\): \d+ active, 1 connected at most/);
    assert.doesNotMatch(String(col('kept awake by')[0]), /pgpulse/, "pgpulse's own sessions are not listed");
    assert.match(String(col('kept awake by')[1]), /^Neon availability check/);
    assert.ok(
      (col('end') as Array<number | null>).every((e) => e !== null),
      'both periods ended'
    );

    const ev = r.json.results.C.frames[0];
    const kinds = ev.data.values[ev.schema.fields.findIndex((f: { name: string }) => f.name === 'kind')] as string[];
    for (const k of ['neon_state', 'neon_check_availability', 'neon_start_compute']) {
      assert.ok(kinds.includes(k), `annotation ${k}: ${kinds}`);
    }
    assert.equal(api.nonGet(), 0);
  } finally {
    await other.end().catch(() => undefined);
    await s.destroy();
  }
});
