/**
 * The 1 s activity sampler (database load) obeys the Neon gate, counted at the socket: a real
 * PostgreSQL 15 behind a loopback TCP proxy, the fake Neon API, the real sidecar sampling.
 * - API says active: ticks run and buckets are written (positive control);
 * - API says idle: not one tick, and the pool's connection closes — nothing keeps the compute awake;
 * - only pgpulse uses the compute for quietMs: the gate backs off and the ticks stop with it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi } from '../../support/neon-api';
import { startCountingProxy, type CountingProxy } from './tcp-proxy';
import { activitySamplers } from '../../../src/sidecar/activity';
import { NeonApiClient } from '../../../src/sidecar/neon/api-client';
import { NeonGate, gatesByTarget } from '../../../src/sidecar/neon/gate';
import type { TargetConfig } from '../../../src/sidecar/config';

let pg: TestPostgres;
let api: FakeNeonApi;
let proxy: CountingProxy;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(50);
  }
}

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
    neon: { projectId: api.projectId, endpointId: api.endpointId, apiKey: api.apiKey, apiKeyResolved: api.apiKey, apiUrl: api.apiUrl, stateInterval: 200 },
    activity: { interval: '200ms' },
  };
}

async function sidecarWithQuiet(quietMs: number) {
  return startTestSidecar({
    targets: [neonTarget()],
    intervalMs: 1000,
    sampling: true,
    extra: {
      gateFor: (target) => new NeonGate({ target, quietMs, client: new NeonApiClient({ apiUrl: api.apiUrl, projectId: api.projectId, endpointId: api.endpointId, apiKey: api.apiKey }) }),
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
