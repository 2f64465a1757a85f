/**
 * The 1 s activity sampler (database load) obeys the Neon gate, counted at the socket: a real
 * PostgreSQL 15 behind a loopback TCP proxy, the fake Neon API, the real sidecar sampling.
 * - API says active: ticks run and buckets are written (positive control);
 * - API says idle: not one tick, and the pool's connection closes — nothing keeps the compute awake;
 * - only pgpulse uses the compute for quietMs: the gate backs off and the ticks stop with it;
 * - the vCPU reference is neon_utils.num_cpus() (a stand-in function here), read once per bucket,
 *   following a change, over the configured activity.vcpus.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi, neonSettings } from '../../support/neon-api';
import { startCountingProxy, type CountingProxy } from './tcp-proxy';
import { activityFeatureWith, activitySamplers } from '../../../src/sidecar/activity';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { NeonApiClient } from '../../../src/sidecar/neon/api-client';
import { NeonGate, gatesByTarget } from '../../../src/sidecar/neon/gate';
import type { TargetConfig } from '../../../src/sidecar/config';
import { sleep, waitFor } from '../../support/wait';

let pg: TestPostgres;
let api: FakeNeonApi;
let proxy: CountingProxy;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  proxy = await startCountingProxy(pg.port);
  api = await startFakeNeonApi({ state: 'active' });
});

after(async () => {
  await proxy?.close();
  await api?.close();
  await pg?.destroy();
});

function neonTarget(): TargetConfig & { name: string; url: string } {
  return {
    name: 'neon',
    url: `postgres://postgres@127.0.0.1:${proxy.port}/app`,
    intervalMs: 1000,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    collectors: {},
    neon: neonSettings(api),
    activity: { interval: '200ms' },
  };
}

async function sidecarWithQuiet(quietMs: number) {
  return startTestSidecar({
    targets: [neonTarget()],
    intervalMs: 1000,
    sampling: true,
    extra: {
      gateFor: (target) =>
        new NeonGate({
          target,
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
}

test('active: ticks run; idle: not one tick and no connection left open', async () => {
  api.state = 'active';
  api.lastActive = new Date().toISOString();
  const s = await sidecarWithQuiet(600_000);
  try {
    const act = activitySamplers.get(s.sidecar)!.get('neon')!;
    await waitFor('activity ticks and a bucket', () => act.stats.ticks >= 3 && act.stats.buckets >= 1);
    assert.equal(act.stats.failed, 0, act.stats.lastError);

    api.state = 'idle';
    const main = s.sidecar.samplers.get('neon')!;
    await waitFor('the main sampler to stay away', () => main.status.paused !== undefined);
    const ticks = act.stats.ticks;
    // the pool closes its idle connection after 1 s on Neon targets: then nothing is open
    await waitFor('no open connection to the compute', () => proxy.open === 0);
    const connects = proxy.connects;
    await sleep(2000);
    assert.equal(act.stats.ticks, ticks, 'no tick while the compute is idle');
    assert.equal(proxy.connects, connects, 'no connection while the compute is idle');
    assert.equal(proxy.open, 0);
    assert.equal(api.nonGet(), 0);
  } finally {
    await s.destroy();
  }
});

test('back-off: once only pgpulse used the compute for quietMs, the ticks stop with the main sampler', async () => {
  api.state = 'active';
  api.lastActive = new Date(Date.now() - 600_000).toISOString();
  const s = await sidecarWithQuiet(2500);
  try {
    const act = activitySamplers.get(s.sidecar)!.get('neon')!;
    const gate = gatesByTarget.get(s.sidecar.samplers.get('neon')!.target)!;
    await waitFor('activity ticks', () => act.stats.ticks >= 3);
    await waitFor('the gate to back off', () => gate.snapshot().backoffSince !== undefined, 30_000);
    // a tick already under way when observe() started the back-off may finish; none starts after it
    await sleep(300);
    const ticks = act.stats.ticks;
    await sleep(2000);
    assert.equal(act.stats.ticks, ticks, 'no tick during the back-off');
    assert.equal(gate.snapshot().mode, 'backoff');
  } finally {
    await s.destroy();
  }
});

test('vCPUs: neon_utils.num_cpus() of the compute, read once per bucket, over the configured activity.vcpus', async () => {
  const app = async (sql: string) => pg.query(sql, [], 'app');
  await app(`CREATE SCHEMA IF NOT EXISTS neon_utils;
    CREATE TABLE IF NOT EXISTS neon_utils.vm (cpus int);
    DELETE FROM neon_utils.vm; INSERT INTO neon_utils.vm VALUES (2);
    CREATE OR REPLACE FUNCTION neon_utils.num_cpus() RETURNS integer LANGUAGE sql AS $$ SELECT cpus FROM neon_utils.vm $$`);
  api.state = 'active';
  api.lastActive = new Date().toISOString();
  const features = sidecarFeatures.map((f) =>
    f.name === 'activity' ? activityFeatureWith({ assumeNeonUtils: 'neon_utils' }) : f
  );
  const s = await startTestSidecar({
    targets: [{ ...neonTarget(), activity: { vcpus: 16 } }],
    intervalMs: 1000,
    sampling: false,
    extra: { features },
  });
  try {
    const act = activitySamplers.get(s.sidecar)!.get('neon')!;
    await s.sampleNow('neon');
    const t0 = Date.now();
    const bucket = async () => {
      act.flush(Date.now());
      await act.tick();
      await act.tick();
      act.flush(Date.now() + 1);
    };
    await bucket();
    await app('UPDATE neon_utils.vm SET cpus = 4');
    await sleep(5);
    await bucket();
    assert.equal(act.stats.failed, 0, act.stats.lastError);
    const r = await s.query({
      from: t0,
      to: Date.now() + 10,
      intervalMs: 1000,
      maxDataPoints: 1,
      queries: [{ refId: 'A', metric: 'db_load_vcpus', target: 'neon' }],
    });
    const stored = s.sidecar.store.matrix(
      'neon',
      'load_ticks',
      ['vcpus'],
      undefined,
      s.sidecar.store.samples('neon', 'load_ticks', t0, Date.now() + 10)
    )[0].values;
    assert.deepEqual(stored, [2, 4], 'one reading per bucket, following the compute');
    assert.equal(r.json.results.A.error, undefined);
  } finally {
    await s.destroy();
    await app('DROP SCHEMA neon_utils CASCADE');
  }
});
