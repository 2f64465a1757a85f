/**
 * Compute cost from the Neon API against the fake API's figures: CU-hours used this period
 * (project compute_time_seconds), consumption v2 compute_unit_seconds where the plan allows it,
 * the straight-line forecast to the period end, the configured allowance and the forecast ratio
 * the alert rule watches. The endpoint is idle throughout: reading consumption never connects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, neonSettings } from '../../support/neon-api';
import { freePort } from '../../support/pg';
import { NEON_USAGE } from '../../../src/sidecar/neon/gate';
import { sleep } from '../../support/wait';

const HOUR = 3_600_000;

/**
 * org: where consumption v2's required org_id comes from — the project's org_id (the API's own
 * answer), neon.orgId for a project whose answer has none, nowhere, or a wrong neon.orgId (404)
 */
async function run(opts: { consumption: boolean; org?: 'project' | 'config' | 'none' | 'wrong' }) {
  const org = opts.org ?? 'project';
  const api = await startFakeNeonApi({ state: 'idle' });
  const orgId = api.orgId as string;
  if (org === 'none') {
    api.orgId = null;
  }
  // the project's answer carries no org_id: only the configured one can be sent
  api.orgIdInProject = org !== 'config';
  const start = Math.floor((Date.now() - 10 * 86_400_000) / HOUR) * HOUR;
  const end = start + 30 * 86_400_000;
  api.usage.compute_time_seconds = 36_000; // 10 CU-hours
  api.usage.active_time_seconds = 72_000;
  api.usage.consumption_period_start = new Date(start).toISOString();
  api.usage.consumption_period_end = new Date(end).toISOString();
  api.consumptionHours = opts.consumption
    ? [
        { start: new Date(start + HOUR).toISOString(), computeUnitSeconds: 1800 },
        { start: new Date(start + 5 * HOUR).toISOString(), computeUnitSeconds: 5400 },
        { start: new Date(start - 5 * HOUR).toISOString(), computeUnitSeconds: 999_999 }, // before the period: not counted
      ]
    : null;
  const port = await freePort(); // nothing listens: any connection attempt would fail the sampler loudly
  const s = await startTestSidecar({
    targets: [
      {
        name: 'neon',
        url: `postgres://u@127.0.0.1:${port}/app`,
        neon: {
          ...neonSettings(api),
          computeAllowanceCuHours: 20,
          usageInterval: 600_000,
          ...(org === 'config' ? { orgId } : org === 'wrong' ? { orgId: 'org-not-the-owner-1' } : {}),
        },
      },
    ],
    intervalMs: 250,
    sampling: true,
  });
  try {
    const t0 = Date.now();
    for (let i = 0; i < 100 && s.sidecar.store.samples('neon', NEON_USAGE, 0, Date.now() + 1).length === 0; i++) {
      await sleep(50);
    }
    await sleep(600);
    const usage = s.sidecar.store.samples('neon', NEON_USAGE, 0, Date.now() + 1);
    assert.equal(
      usage.length,
      1,
      `read once per usageInterval, not per state poll: ${JSON.stringify(api.requests.slice(0, 4))}`
    );
    const ts = usage[0].ts;
    const r = await s.query({
      from: t0 - 1000,
      to: Date.now() + 1000,
      intervalMs: 600_000,
      queries: [
        { refId: 'A', metric: 'neon_compute_cost', target: 'neon' },
        { refId: 'B', metric: 'neon_compute_forecast_ratio', target: 'neon' },
      ],
    });
    const frames = r.json.results.A.frames as Array<{ schema: { name: string }; data: { values: unknown[][] } }>;
    const got = Object.fromEntries(
      frames.map((f) => [
        f.schema.name,
        (f.data.values[1] as Array<number | null>).filter((v): v is number => v !== null).at(-1),
      ])
    );
    const forecast = (10 * (end - start)) / (ts - start);
    assert.equal(got.used, 10);
    assert.equal(got.allowance, 20);
    assert.ok(Math.abs((got.forecast as number) - forecast) < 1e-9, `forecast ${got.forecast} vs ${forecast}`);
    assert.equal(got.pgpulse_only, 0, 'the compute stayed idle: pgpulse used none of it');
    const asked = api.requests.filter((x) => x.path.endsWith('/consumption_history/v2/projects'));
    const notices = frames
      .flatMap((f) => (f.schema as { meta?: { notices?: Array<{ text: string }> } }).meta?.notices ?? [])
      .map((n) => n.text)
      .join('\n');
    if (opts.consumption && (org === 'project' || org === 'config')) {
      assert.equal(got.consumption_v2, (1800 + 5400) / 3600);
      assert.equal(asked.length, 1, 'consumption v2 asked once');
      assert.equal(
        asked[0].query.org_id,
        orgId,
        `org_id from ${org === 'project' ? "the project's org_id" : 'neon.orgId'}`
      );
      assert.doesNotMatch(notices, /consumption_v2/);
    } else if (org === 'none') {
      assert.equal(got.consumption_v2, undefined);
      assert.equal(asked.length, 0, 'without an organization id consumption v2 is not asked (org_id is required)');
      assert.match(notices, /needs the organization id.*set neon\.orgId/);
    } else if (org === 'wrong') {
      assert.equal(got.consumption_v2, undefined);
      assert.equal(asked.length, 1, 'a 404 (not a member of that organization) is not asked again');
      assert.equal(asked[0].query.org_id, 'org-not-the-owner-1', 'neon.orgId wins over the project');
      assert.match(notices, /not a member of the organization.*set neon\.orgId/);
    } else {
      assert.equal(got.consumption_v2, undefined, 'no consumption series on a plan without the API');
      assert.match(notices, /plan has no consumption history v2/);
    }
    const ratio = (r.json.results.B.frames[0].data.values[1] as Array<number | null>)
      .filter((v): v is number => v !== null)
      .at(-1);
    assert.ok(Math.abs((ratio as number) - forecast / 20) < 1e-9);
    assert.ok((ratio as number) > 1, 'on course to exceed the allowance: the alert condition holds');
    assert.equal(api.nonGet(), 0);
    assert.equal(
      s.sidecar.store.samples('neon', 'server', 0, Date.now()).length,
      0,
      'the idle compute was never sampled'
    );
  } finally {
    await s.destroy();
    await api.close();
  }
}

test('cost with consumption v2 (paid plan): used, consumption, forecast, allowance, ratio from the API figures', () =>
  run({ consumption: true }));
test('cost without consumption v2 (403 on the Free plan): project figures only', () => run({ consumption: false }));
test('consumption v2 with neon.orgId for a project whose answer has no org_id', () =>
  run({ consumption: true, org: 'config' }));
test('consumption v2 without any organization id: not asked, project figures only', () =>
  run({ consumption: true, org: 'none' }));
test('consumption v2 with a wrong neon.orgId: 404 once, project figures only', () =>
  run({ consumption: true, org: 'wrong' }));

test('endpoints of the project from the API: read replicas and branch computes offered as targets, no connection', async () => {
  const api = await startFakeNeonApi({ state: 'idle' });
  api.otherEndpoints = [
    { id: 'ep-quiet-replica-123456', branch_id: 'br-aged-salad-637688', type: 'read_only', current_state: 'idle' },
    { id: 'ep-dev-branch-654321', branch_id: 'br-dev-000001', type: 'read_write', current_state: 'active' },
  ];
  const port = await freePort();
  const s = await startTestSidecar({
    targets: [
      {
        name: 'neon',
        url: `postgres://u@127.0.0.1:${port}/app`,
        neon: neonSettings(api),
      },
    ],
    intervalMs: 250,
  });
  try {
    const r = await s.get('/api/v1/resources/neon_endpoints?target=neon');
    assert.equal(r.status, 200, r.text);
    const eps = r.json.endpoints as Array<{
      endpointId: string;
      kind: string;
      monitored: boolean;
      suggestedTarget?: { neon: { endpointId: string }; urlEnv: string };
    }>;
    assert.deepEqual(
      eps.map((e) => [e.endpointId, e.kind, e.monitored]),
      [
        [api.endpointId, 'primary', true],
        ['ep-quiet-replica-123456', 'read replica', false],
        ['ep-dev-branch-654321', 'branch compute', false],
      ]
    );
    assert.equal(eps[1].suggestedTarget?.neon.endpointId, 'ep-quiet-replica-123456');
    assert.ok(!r.text.includes(api.apiKey), 'the API key never appears');
    assert.equal(api.nonGet(), 0);
  } finally {
    await s.destroy();
    await api.close();
  }
});
