/**
 * The Neon gate's rules with a controllable clock and endpoint answers, writing to a real store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeonApiError, type NeonEndpoint, type NeonOperation } from '../../../src/sidecar/neon/api-client';
import { NeonGate, BLIND_INTERVAL_MS } from '../../../src/sidecar/neon/gate';
import { NEON_ACTIVITY, endpointMismatchListeners } from '../../../src/sidecar/neon/activity-collector';
import { Store } from '../../../src/sidecar/store/store';
import type { TargetConfig } from '../../../src/sidecar/config';
import type { TargetContext } from '../../../src/sidecar/collectors/types';

const STATE_MS = 30_000;

function setup(opts: { suspend?: number; quietMs?: number; url?: string; pooled?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-neon-gate-'));
  const store = new Store(join(dir, 'db.sqlite'));
  let clock = Date.UTC(2026, 0, 1, 12, 0, 0);
  const answer: { ep: NeonEndpoint | null; err: NeonApiError | null; calls: number; ops: NeonOperation[] } = {
    ep: {
      id: 'ep-x',
      project_id: 'p',
      branch_id: 'br',
      host: 'h',
      current_state: 'idle',
      last_active: new Date(clock - 3_600_000).toISOString(),
      suspend_timeout_seconds: opts.suspend ?? 300,
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 1,
    },
    err: null,
    calls: 0,
    ops: [],
  };
  const target: TargetConfig = {
    name: 't',
    url: opts.url ?? 'postgres://x@127.0.0.1:1/app',
    intervalMs: 15_000,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 1000,
    collectors: {},
    neon: {
      projectId: 'p',
      endpointId: 'ep-x',
      apiUrl: 'http://127.0.0.1:1/api/v2',
      stateInterval: STATE_MS,
      pooled: opts.pooled,
    },
  };
  const gate = new NeonGate({
    target,
    now: () => clock,
    quietMs: opts.quietMs ?? 60_000,
    client: {
      async getEndpoint() {
        answer.calls++;
        if (answer.err) {
          throw answer.err;
        }
        return { ...(answer.ep as NeonEndpoint) };
      },
      async listOperations() {
        return answer.ops.map((o) => ({ ...o }));
      },
    },
  });
  gate.attach(store);
  const ctx = { target, store } as unknown as TargetContext;
  let sessions = 100;
  /** what the neon_activity collector would have stored this cycle */
  let serverNow = 5_000_000;
  const activity = (v: {
    othersActive?: number;
    lastIdleChangeAgoMs?: number | null;
    newSessions?: number;
    own?: number;
    /** own connects that opened no server session (PgBouncer reused one) */
    ownPooled?: number;
    walsenders?: number;
    subscriptions?: number;
    autovacuum?: number;
  }) => {
    for (let i = 0; i < (v.own ?? 0) + (v.ownPooled ?? 0); i++) {
      gate.noteOwnConnect();
    }
    sessions += (v.newSessions ?? 0) + (v.own ?? 0);
    serverNow += 15_000;
    store.writeSample({
      target: 't',
      collector: NEON_ACTIVITY,
      ts: clock,
      ok: true,
      rows: [
        {
          key: {},
          values: {
            others_active: v.othersActive ?? 0,
            others_connected: v.othersActive ?? 0,
            others_last_idle_change_ms: v.lastIdleChangeAgoMs == null ? null : serverNow - v.lastIdleChangeAgoMs,
            sessions_user_dbs: sessions,
            active_time_user_dbs_ms: 0,
            walsenders: v.walsenders ?? 0,
            subscription_workers: v.subscriptions ?? 0,
            autovacuum_workers: v.autovacuum ?? 0,
            own_db_counted: 1,
            // a new server session for us started just now; a reused pooled one long ago
            own_backend_start_ms: v.own ? serverNow - 5 : serverNow - 3_600_000,
            server_now_ms: serverNow, // server clock unrelated to ours: only differences matter
          },
        },
      ],
    });
  };
  return {
    gate,
    store,
    answer,
    target,
    ctx,
    activity,
    advance: (ms: number) => {
      clock += ms;
    },
    now: () => clock,
    markers: () => store.awayByDesign('t', 0, clock).length,
    close: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** one sampler cycle: ask, and when allowed, store activity and tell the gate */
async function cycle(s: ReturnType<typeof setup>, act: Parameters<ReturnType<typeof setup>['activity']>[0] = {}) {
  const r = await s.gate.allow(s.target);
  if (r.allowed) {
    s.activity({ own: 1, ...act });
    s.gate.observe(s.target, s.ctx);
  }
  s.advance(15_000);
  return r;
}

test('idle and init: never allowed, one idle-by-design marker per cycle, API asked once per stateInterval', async () => {
  const s = setup();
  try {
    for (const state of ['idle', 'init'] as const) {
      s.answer.ep!.current_state = state;
      s.advance(STATE_MS);
      const r = await s.gate.allow(s.target);
      assert.equal(r.allowed, false);
      assert.equal((r as { byDesign?: boolean }).byDesign, true, 'idle is by design, not a failure');
      assert.match(r.reason ?? '', new RegExp(`Neon compute is ${state}`));
    }
    assert.equal(s.markers(), 2);
    const calls = s.answer.calls;
    await s.gate.allow(s.target); // same instant: cached answer
    assert.equal(s.answer.calls, calls);
    assert.equal(s.markers(), 3);
  } finally {
    s.close();
  }
});

test('active with other clients: keeps sampling, never backs off', async () => {
  const s = setup();
  try {
    s.answer.ep!.current_state = 'active';
    for (let i = 0; i < 20; i++) {
      // alternate the three signals: a non-idle backend, a recent idle state change, a short session
      const act = i % 3 === 0 ? { othersActive: 1 } : i % 3 === 1 ? { lastIdleChangeAgoMs: 5_000 } : { newSessions: 1 };
      const r = await cycle(s, act);
      assert.equal(r.allowed, true, `cycle ${i}`);
    }
    assert.equal(s.gate.snapshot().mode, 'sampling');
  } finally {
    s.close();
  }
});

test('only pgpulse for quietMs → back off (markers, no connection) until the compute went idle and was woken', async () => {
  const s = setup({ quietMs: 60_000 });
  try {
    s.answer.ep!.current_state = 'active';
    const allowed: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      allowed.push((await cycle(s, { lastIdleChangeAgoMs: 3_600_000 })).allowed);
    }
    // first cycle starts the quiet clock at t0; the cycle at t0+60 s observes 60 s of quiet and backs off
    assert.deepEqual(allowed, [true, true, true, true, true, false, false, false]);
    assert.equal(s.gate.snapshot().mode, 'backoff');
    const markersBefore = s.markers();
    assert.equal(markersBefore, 3, 'a marker for each skipped cycle keeps staleness at 0');
    // the compute suspends; later someone else wakes it
    s.answer.ep!.current_state = 'idle';
    s.advance(STATE_MS);
    assert.equal((await s.gate.allow(s.target)).allowed, false);
    s.answer.ep!.current_state = 'active';
    s.advance(STATE_MS);
    assert.equal((await s.gate.allow(s.target)).allowed, true);
    assert.equal(s.gate.snapshot().mode, 'sampling');
  } finally {
    s.close();
  }
});

test('back-off ends when last_active moves past its start, or after suspend_timeout + grace', async () => {
  const s = setup({ quietMs: 30_000, suspend: 300 });
  try {
    s.answer.ep!.current_state = 'active';
    while ((await cycle(s)).allowed) {
      /* sample until quiet */
    }
    const since = s.gate.snapshot().backoffSince!;
    // another client used the compute: the API's last_active moves forward
    s.answer.ep!.last_active = new Date(since + 60_000).toISOString();
    s.advance(STATE_MS);
    assert.equal((await s.gate.allow(s.target)).allowed, true);

    // quiet again; this time the compute stays active (something keeps it awake)
    s.answer.ep!.last_active = new Date(s.now() - 10_000).toISOString();
    while ((await cycle(s)).allowed) {
      /* sample until quiet */
    }
    const since2 = s.gate.snapshot().backoffSince!;
    let resumedAt = 0;
    for (let i = 0; i < 100 && !resumedAt; i++) {
      s.advance(15_000);
      if ((await s.gate.allow(s.target)).allowed) {
        resumedAt = s.now();
      }
    }
    const waited = resumedAt - since2;
    assert.ok(waited > 300_000, `waited past the suspend timeout (${waited} ms)`);
    assert.ok(waited <= 300_000 + 60_000 + 15_000 + STATE_MS, `but not much longer (${waited} ms)`);
  } finally {
    s.close();
  }
});

test('suspend_timeout_seconds = -1 (never suspends): no back-off', async () => {
  const s = setup({ suspend: -1, quietMs: 15_000 });
  try {
    s.answer.ep!.current_state = 'active';
    for (let i = 0; i < 10; i++) {
      assert.equal((await cycle(s)).allowed, true);
    }
  } finally {
    s.close();
  }
});

test('wrong key: not allowed, the reason names the fix, no idle marker (the stale alert should fire)', async () => {
  const s = setup();
  try {
    s.answer.err = new NeonApiError('Neon API rejected the API key (HTTP 401): …', 'config', 401);
    for (let i = 0; i < 5; i++) {
      const r = await cycle(s);
      assert.equal(r.allowed, false);
      assert.notEqual((r as { byDesign?: boolean }).byDesign, true, 'a wrong key is a failure');
      assert.match(r.reason ?? '', /rejected the API key/);
    }
    assert.equal(s.markers(), 0);
    assert.equal(s.gate.snapshot().mode, 'api-config-error');
  } finally {
    s.close();
  }
});

test('API unreachable: last state kept for 2 × stateInterval, then at most one blind cycle per 15 min', async () => {
  const s = setup();
  try {
    s.answer.ep!.current_state = 'active';
    assert.equal((await s.gate.allow(s.target)).allowed, true);
    s.answer.err = new NeonApiError('Neon API unreachable', 'transient');
    s.advance(STATE_MS);
    assert.equal((await s.gate.allow(s.target)).allowed, true, 'within 2 × stateInterval the last answer holds');
    const lastAnswer = s.now() - STATE_MS;
    const allowedAt: number[] = [];
    for (let i = 0; i < 240; i++) {
      s.advance(15_000);
      if ((await s.gate.allow(s.target)).allowed && s.now() - lastAnswer > 2 * STATE_MS) {
        allowedAt.push(s.now());
      }
    }
    assert.ok(allowedAt.length >= 3 && allowedAt.length <= 5, `blind cycles in an hour: ${allowedAt.length}`);
    for (let i = 1; i < allowedAt.length; i++) {
      assert.ok(allowedAt[i] - allowedAt[i - 1] >= BLIND_INTERVAL_MS);
    }
    assert.equal(s.gate.snapshot().mode, 'api-unavailable');
  } finally {
    s.close();
  }
});

test('API failing from the very first call (network, 429, 5xx): no connection at all, not even a blind one', async () => {
  for (const err of [
    new NeonApiError('Neon API unreachable at … (ECONNREFUSED)', 'transient'),
    new NeonApiError('Neon API rate limit reached (HTTP 429)', 'transient', 429, 60),
    new NeonApiError('Neon API rate limit reached (HTTP 429)', 'transient', 429),
    new NeonApiError('Neon API error HTTP 503', 'transient', 503),
  ]) {
    const s = setup();
    try {
      s.answer.err = err;
      for (let i = 0; i < 240; i++) {
        const r = await cycle(s);
        assert.equal(r.allowed, false, `${err.message}: cycle ${i} must not connect`);
        assert.notEqual((r as { byDesign?: boolean }).byDesign, true);
        assert.match(
          r.reason ?? '',
          /does not connect until the Neon API says the compute is active \(no answer yet\)/
        );
      }
      assert.equal(s.gate.snapshot().mode, 'api-unavailable');
      // Retry-After is honoured: at most one call per Retry-After (60 s) or stateInterval
      assert.ok(
        s.answer.calls <= 3600 / (err.retryAfterSeconds ?? STATE_MS / 1000) + 1,
        `API calls in an hour: ${s.answer.calls}`
      );
    } finally {
      s.close();
    }
  }
});

test('API down after an answer that said idle: no blind cycle (it would wake the compute)', async () => {
  const s = setup();
  try {
    s.answer.ep!.current_state = 'idle';
    assert.equal((await cycle(s)).allowed, false);
    s.answer.err = new NeonApiError('Neon API error HTTP 500', 'transient', 500);
    for (let i = 0; i < 240; i++) {
      assert.equal((await cycle(s)).allowed, false, `cycle ${i}`);
    }
    assert.match((await s.gate.allow(s.target)).reason ?? '', /it last said idle/);
  } finally {
    s.close();
  }
});

test('walsenders and subscription workers keep pgpulse sampling; autovacuum alone does not', async () => {
  for (const [act, backsOff] of [
    [{ walsenders: 1 }, false],
    [{ subscriptions: 1 }, false],
    [{ autovacuum: 2 }, true],
  ] as const) {
    const s = setup({ quietMs: 60_000 });
    try {
      s.answer.ep!.current_state = 'active';
      let denied = 0;
      for (let i = 0; i < 12; i++) {
        if (!(await cycle(s, act)).allowed) {
          denied++;
        }
      }
      assert.equal(denied > 0, backsOff, `${JSON.stringify(act)}: backed off ${denied} times`);
    } finally {
      s.close();
    }
  }
});

test('last_active moved by autovacuum: one probe cycle, then straight back to back-off; a real client keeps sampling', async () => {
  for (const [act, staysSampling] of [
    [{ autovacuum: 1 }, false],
    [{ newSessions: 1 }, true],
  ] as const) {
    const s = setup({ quietMs: 30_000 });
    try {
      s.answer.ep!.current_state = 'active';
      while ((await cycle(s)).allowed) {
        /* sample until quiet */
      }
      const since = s.gate.snapshot().backoffSince!;
      s.answer.ep!.last_active = new Date(since + 60_000).toISOString();
      s.advance(STATE_MS);
      assert.equal((await cycle(s, act)).allowed, true, 'the probe cycle runs');
      const next = await cycle(s);
      assert.equal(next.allowed, staysSampling, `${JSON.stringify(act)} after the probe`);
      if (!staysSampling) {
        assert.equal(s.gate.snapshot().mode, 'backoff');
      }
    } finally {
      s.close();
    }
  }
});

test("Neon's availability-check wake (operations API) is not prolonged: no connection while it lasts", async () => {
  const s = setup();
  try {
    s.answer.ep!.current_state = 'idle';
    assert.equal((await cycle(s)).allowed, false);
    const t = new Date(s.now()).toISOString();
    s.answer.ops = [
      {
        id: 'op-check',
        endpoint_id: 'ep-x',
        action: 'check_availability',
        status: 'running',
        created_at: t,
        updated_at: t,
      },
      {
        id: 'op-start',
        endpoint_id: 'ep-x',
        action: 'start_compute',
        status: 'finished',
        created_at: t,
        updated_at: t,
      },
      {
        id: 'op-other',
        endpoint_id: 'ep-other',
        action: 'check_availability',
        status: 'running',
        created_at: t,
        updated_at: t,
      },
    ];
    s.answer.ep!.current_state = 'active';
    s.advance(STATE_MS);
    for (let i = 0; i < 8; i++) {
      const r = await cycle(s);
      assert.equal(r.allowed, false, `cycle ${i}`);
      assert.equal((r as { byDesign?: boolean }).byDesign, true);
      assert.match(r.reason ?? '', /availability check/);
    }
    assert.equal(s.gate.snapshot().mode, 'neon-check');
    const kinds = s.store
      .events('t', 0, s.now())
      .map((e) => e.kind)
      .filter((k) => k !== 'neon_state')
      .sort();
    assert.deepEqual(
      kinds,
      ['neon_check_availability', 'neon_start_compute'],
      'operations of this endpoint become annotations, once each'
    );
    // it suspends again; later a user wakes it (no check operation): sampling resumes
    s.answer.ep!.current_state = 'idle';
    s.advance(STATE_MS);
    assert.equal((await cycle(s)).allowed, false);
    s.advance(600_000);
    s.answer.ops = [
      {
        id: 'op-start2',
        endpoint_id: 'ep-x',
        action: 'start_compute',
        status: 'finished',
        created_at: new Date(s.now()).toISOString(),
        updated_at: new Date(s.now()).toISOString(),
      },
    ];
    s.answer.ep!.current_state = 'active';
    s.advance(STATE_MS);
    assert.equal((await cycle(s)).allowed, true);
  } finally {
    s.close();
  }
});

test('URL naming another endpoint, or the compute reporting another neon.endpoint_id: nothing connects, the error names both', async () => {
  const s = setup({ url: 'postgres://u@ep-other-123456.us-east-2.aws.neon.tech/app' });
  try {
    s.answer.ep!.current_state = 'active';
    const r = await cycle(s);
    assert.equal(r.allowed, false);
    assert.match(r.reason ?? '', /URL points at Neon endpoint ep-other-123456 but neon.endpointId is ep-x/);
    assert.equal(s.answer.calls <= 1, true);
  } finally {
    s.close();
  }
  const ok = setup({ url: 'postgres://u@ep-x-pooler.us-east-2.aws.neon.tech/app' });
  try {
    assert.equal(ok.gate.pooled, true, 'the -pooler host is detected');
    ok.answer.ep!.current_state = 'active';
    assert.equal((await cycle(ok)).allowed, true);
    endpointMismatchListeners.get(ok.target)!(
      'the compute reports neon.endpoint_id = ep-y but neon.endpointId is ep-x'
    );
    const r = await cycle(ok);
    assert.equal(r.allowed, false);
    assert.match(r.reason ?? '', /neon.endpoint_id = ep-y/);
  } finally {
    ok.close();
  }
});

test('behind the pooler, own client connects that open no server session do not hide another client', async () => {
  const s = setup({ pooled: true, quietMs: 60_000 });
  try {
    s.answer.ep!.current_state = 'active';
    await cycle(s, { own: 1 });
    // from now on PgBouncer reuses its server connection for pgpulse; another client opens one session per cycle
    for (let i = 0; i < 12; i++) {
      assert.equal((await cycle(s, { own: 0, ownPooled: 1, newSessions: 1 })).allowed, true, `cycle ${i}`);
    }
    // and with nobody else, pgpulse still backs off
    let denied = 0;
    for (let i = 0; i < 12; i++) {
      if (!(await cycle(s, { own: 0, ownPooled: 1 })).allowed) {
        denied++;
      }
    }
    assert.ok(denied > 0);
  } finally {
    s.close();
  }
});

test('mayRideAlong (the 1 s activity sampler): only while sampling an active compute, off the moment a back-off starts and during API outages', async () => {
  const s = setup({ quietMs: 60_000 });
  try {
    assert.equal(s.gate.mayRideAlong(s.target), false, 'before the first API answer');
    s.answer.ep!.current_state = 'idle';
    await s.gate.allow(s.target);
    assert.equal(s.gate.mayRideAlong(s.target), false, 'idle compute');
    s.answer.ep!.current_state = 'active';
    s.advance(STATE_MS);
    const seen: boolean[] = [];
    for (let i = 0; i < 10 && s.gate.snapshot().backoffSince === undefined; i++) {
      const r = await s.gate.allow(s.target);
      assert.equal(r.allowed, true);
      s.activity({ own: 1, lastIdleChangeAgoMs: 3_600_000 });
      seen.push(s.gate.mayRideAlong(s.target));
      s.gate.observe(s.target, s.ctx);
      s.advance(15_000);
    }
    assert.ok(seen.length >= 2 && seen.every(Boolean), `rides along every allowed cycle: ${JSON.stringify(seen)}`);
    // observe() started the back-off after the last cycle: no tick even before the next allow() says so
    assert.equal(s.gate.snapshot().mode, 'sampling');
    assert.equal(s.gate.mayRideAlong(s.target), false, 'back-off started');
    assert.equal((await s.gate.allow(s.target)).allowed, false);
    assert.equal(s.gate.mayRideAlong(s.target), false);
  } finally {
    s.close();
  }
});

test('mayRideAlong: a blind cycle during an API outage does not let the activity sampler tick', async () => {
  const s = setup();
  try {
    s.answer.ep!.current_state = 'active';
    assert.equal((await s.gate.allow(s.target)).allowed, true);
    assert.equal(s.gate.mayRideAlong(s.target), true);
    s.answer.err = new NeonApiError('HTTP 503 from the Neon API', 'transient');
    s.advance(BLIND_INTERVAL_MS + 1);
    const r = await s.gate.allow(s.target);
    assert.equal(r.allowed, true, `the blind cycle: ${r.reason}`);
    assert.equal(s.gate.mayRideAlong(s.target), false);
  } finally {
    s.close();
  }
});
