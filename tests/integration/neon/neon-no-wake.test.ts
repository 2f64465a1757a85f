/**
 * "No connection before a positive API answer, ever": the Neon API fails from its very first call
 * (HTTP 503, 429 with and without Retry-After, nothing listening) and nothing of pgpulse reaches
 * the compute — not the sampler, not `pgpulse doctor`, not advise/report run in-process, not an
 * action. Connections are counted at a loopback TCP proxy in front of a real PostgreSQL 15.
 * A positive control (API says active) shows the same paths do connect, so the test can fail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi } from '../../support/neon-api';
import { startCountingProxy, type CountingProxy } from './tcp-proxy';
import { diagnose } from '../../../src/sidecar/cli/doctor';
import { openClient, Progress } from '../../../src/sidecar/cli/support';
import { buildReport } from '../../../src/sidecar/cli/report';
import { actionRunners } from '../../../src/sidecar/actions';
import type { SidecarConfig, TargetConfig } from '../../../src/sidecar/config';
import { sleep } from '../../support/wait';

let pg: TestPostgres;
let api: FakeNeonApi;
let proxy: CountingProxy;
let dir: string;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  await pg.query('CREATE ROLE pgpulse_actions LOGIN; GRANT pg_signal_backend, pg_read_all_stats TO pgpulse_actions');
  proxy = await startCountingProxy(pg.port);
  api = await startFakeNeonApi({ state: 'active' });
  dir = mkdtempSync(join(tmpdir(), 'pgpulse-neon-nowake-'));
});

after(async () => {
  await proxy?.close();
  await api?.close();
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function target(apiUrl = api.apiUrl): TargetConfig {
  return {
    name: 'neon',
    url: `postgres://postgres@127.0.0.1:${proxy.port}/app`,
    intervalMs: 250,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    collectors: {},
    neon: {
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
      apiKeyResolved: api.apiKey,
      apiUrl,
      stateInterval: 5000,
    },
    actions: { enabled: true, url: `postgres://pgpulse_actions@127.0.0.1:${proxy.port}/app` },
  };
}

/** runs every pgpulse path that could connect; returns how many TCP connections reached PostgreSQL */
async function everyPath(t: TargetConfig): Promise<{ connects: number; doctor: string; action: string }> {
  const before = proxy.connects;
  // the sampler, running
  const s = await startTestSidecar({ targets: [t as TargetConfig & { url: string }], intervalMs: 250, sampling: true });
  let action = '';
  try {
    await sleep(1200);
    const out = await actionRunners(s.sidecar)
      .get('neon')!
      .run({ action: 'cancel', pid: 999_999, dryRun: false }, 'test');
    action = out.message;
  } finally {
    await s.destroy();
  }
  // pgpulse doctor
  const config: SidecarConfig = {
    token: 'x',
    dataDir: join(dir, `d-${Math.random().toString(36).slice(2)}`),
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    intervalMs: 250,
    retentionMs: 86_400_000,
    downsampleAfterMs: 86_400_000,
    downsampleStepMs: 300_000,
    logLevel: 'silent',
    targets: [t],
  };
  const [d] = await diagnose(config, undefined, new Progress());
  // pgpulse advise / report, in-process (no running sidecar to ask)
  const cfgPath = join(dir, `pgpulse-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    cfgPath,
    JSON.stringify({
      dataDir: join(dir, `a-${Math.random().toString(36).slice(2)}`),
      logLevel: 'silent',
      targets: [
        {
          name: 'neon',
          url: t.url,
          interval: 1000,
          neon: {
            projectId: t.neon!.projectId,
            endpointId: t.neon!.endpointId,
            apiKey: t.neon!.apiKey,
            apiUrl: t.neon!.apiUrl,
            stateInterval: '5s',
          },
        },
      ],
    })
  );
  const client = await openClient({
    progress: new Progress(),
    sample: true,
    waitMs: 300,
    env: { PGPULSE_CONFIG: cfgPath },
    noRemote: true,
  });
  try {
    await client.recommendations('neon', true);
    await buildReport(client, 'neon', 3_600_000, true);
  } finally {
    await client.close();
  }
  return { connects: proxy.connects - before, doctor: JSON.stringify(d.checks), action };
}

for (const mode of ['503', '429 with Retry-After', '429 without Retry-After', 'unreachable'] as const) {
  test(`API failing from the first call (${mode}): zero connections from sampler, doctor, advise, report and actions`, async () => {
    api.state = 'active';
    api.failWith = mode === '503' ? 503 : mode.startsWith('429') ? 429 : null;
    api.retryAfter = mode === '429 with Retry-After' ? 30 : null;
    const apiUrl = mode === 'unreachable' ? `http://127.0.0.1:${await freePort()}/api/v2` : api.apiUrl;
    try {
      const r = await everyPath(target(apiUrl));
      assert.equal(r.connects, 0, `no TCP connection reached the compute (${mode})`);
      assert.match(r.doctor, /not connecting: .*Neon API/);
      assert.match(r.action, /not connecting/);
    } finally {
      api.failWith = null;
      api.retryAfter = null;
    }
  });
}

test('endpoint idle: doctor, advise, report and actions do not connect; active: they do (positive control)', async () => {
  api.state = 'idle';
  const idle = await everyPath(target());
  assert.equal(idle.connects, 0);
  assert.match(idle.doctor, /Neon compute is idle/);
  api.state = 'active';
  const active = await everyPath(target());
  assert.ok(active.connects > 0, 'with the API saying active, the same paths connect');
  assert.match(active.action, /no backend with pid 999999/);
  assert.equal(api.nonGet(), 0);
});
