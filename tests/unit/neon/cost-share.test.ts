/**
 * pgpulse's own share of the compute cost with non-zero figures: the fake Neon API says the
 * endpoint is active at min CU 0.5 and the project used 7,200 compute seconds; the gate, on a
 * controlled clock, sees another client in the first cycle and only pgpulse afterwards. The
 * numbers the engine answers are checked exactly against that script:
 *
 *   pgpulse_only = Σ time only pgpulse was on the active compute × min CU
 *                = (15 s × 4 cycles before the 60 s quiet period ends) × 0.5 CU  → 60 s × 0.5 / 3600
 *
 * and across a sidecar restart (the gate's counter starts again at 0) the stored counter is
 * summed reset-aware: 60 s + 30 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeonApiClient } from '../../../src/sidecar/neon/api-client';
import { NeonGate } from '../../../src/sidecar/neon/gate';
import { NEON_ACTIVITY } from '../../../src/sidecar/neon/activity-collector';
import { Store } from '../../../src/sidecar/store/store';
import { Engine } from '../../../src/sidecar/engine/engine';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import type { TargetConfig } from '../../../src/sidecar/config';
import type { TargetContext } from '../../../src/sidecar/collectors/types';
import { startFakeNeonApi } from '../../support/neon-api';
import { assemble } from '../../../src/sidecar/feature';
import { neonFeature } from '../../../src/sidecar/neon';

const S = 1000;
const H = 3_600_000;
const DAY = 86_400_000;

test("pgpulse's share: exact CU-hours from the time only pgpulse used the compute × min CU, reset-aware across a restart", async () => {
  const api = await startFakeNeonApi({ state: 'active' });
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-neon-share-'));
  const store = new Store(join(dir, 'db.sqlite'));
  try {
    const t0 = Math.floor((Date.now() - 2 * H) / 1000) * 1000;
    const periodStart = t0 - DAY;
    const periodEnd = periodStart + 30 * DAY;
    api.minCu = 0.5;
    api.maxCu = 2;
    api.usage.compute_time_seconds = 7200;
    api.usage.active_time_seconds = 14_400;
    api.usage.consumption_period_start = new Date(periodStart).toISOString();
    api.usage.consumption_period_end = new Date(periodEnd).toISOString();
    api.consumptionHours = [{ start: new Date(periodStart + H).toISOString(), computeUnitSeconds: 1800 }];
    api.lastActive = new Date(t0).toISOString();

    let clock = t0;
    const target: TargetConfig = {
      name: 't',
      url: `postgres://x@127.0.0.1:1/app`,
      intervalMs: 15 * S,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 1000,
      collectors: {},
      neon: {
        projectId: api.projectId,
        endpointId: api.endpointId,
        apiUrl: api.apiUrl,
        apiKey: api.apiKey,
        stateInterval: 30 * S,
        usageInterval: 24 * H,
      },
    };
    const client = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const ctx = { target, store } as unknown as TargetContext;
    let serverNow = 9_000_000;
    const reading = (othersActive: number) => {
      serverNow += 15 * S;
      store.writeSample({
        target: 't',
        collector: NEON_ACTIVITY,
        ts: clock,
        ok: true,
        rows: [
          {
            key: {},
            values: {
              others_active: othersActive,
              others_connected: othersActive,
              others_last_idle_change_ms: null,
              sessions_user_dbs: 10,
              active_time_user_dbs_ms: 0,
              walsenders: 0,
              subscription_workers: 0,
              autovacuum_workers: 0,
              own_db_counted: 1,
              own_backend_start_ms: serverNow - H,
              server_now_ms: serverNow,
              pooled: 0,
            },
          },
        ],
      });
    };
    /** one sampler cycle at the current clock; returns whether it sampled */
    const cycle = async (gate: NeonGate, othersActive = 0) => {
      const r = await gate.allow(target);
      if (r.allowed) {
        reading(othersActive);
        gate.observe(target, ctx);
      }
      clock += 15 * S;
      return r.allowed;
    };

    const gate = new NeonGate({ target, client, now: () => clock, quietMs: 60 * S });
    gate.attach(store);
    assert.equal(await cycle(gate, 1), true, 't0: someone else is working');
    for (let i = 1; i <= 4; i++) {
      assert.equal(await cycle(gate), true, `t0+${15 * i}s: only pgpulse`);
    }
    assert.equal(await cycle(gate), false, 'after the 60 s quiet period pgpulse stays away');
    assert.equal(gate.snapshot().mode, 'backoff');
    clock = t0 + 120 * S;
    await gate.allow(target); // a state poll records the counter: 60 s only-pgpulse time

    // the sidecar restarts: a new gate, whose counter starts at 0 again; someone wakes the compute
    clock = t0 + 600 * S;
    api.lastActive = new Date(clock).toISOString();
    const gate2 = new NeonGate({ target, client, now: () => clock, quietMs: 60 * S });
    gate2.attach(store);
    assert.equal(await cycle(gate2, 1), true);
    assert.equal(await cycle(gate2), true);
    assert.equal(await cycle(gate2), true);
    clock = t0 + 700 * S;
    await gate2.allow(target); // records 30 s
    await gate2.allow(target);

    const r = new Engine(store, assemble([neonFeature])).run({
      query: { refId: 'A', metric: 'neon_compute_cost', target: 't' } as ResolvedQuery,
      range: { from: t0, to: t0 + 800 * S },
      intervalMs: 800 * S,
      targetIntervalMs: 15 * S,
    });
    assert.equal(r.error, undefined, r.error);
    const last = (kind: string) => {
      const f = r.frames.find((x) => x.name === kind);
      assert.ok(f, `${kind} series: ${r.frames.map((x) => x.name).join(',')}`);
      return (f.fields[1].values as Array<number | null>).filter((v): v is number => v !== null).at(-1);
    };
    assert.equal(last('pgpulse_only'), ((60 + 30) * S * 0.5) / H, 'pgpulse-only CU-hours: (60 s + 30 s) × 0.5 CU');
    assert.equal(last('used'), 2, 'project compute_time_seconds 7,200 / 3600');
    assert.equal(last('consumption_v2'), 0.5, 'compute_unit_seconds 1,800 / 3600');
    const usageTs = t0 + 600 * S; // the latest project answer: the restarted gate's first poll
    assert.equal(last('forecast'), (2 * (periodEnd - periodStart)) / (usageTs - periodStart));
    assert.equal(api.nonGet(), 0);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    await api.close();
  }
});
