/**
 * The Neon API client against the fake v2 API on loopback: the documented response shape,
 * errors that name the fix, and the key never appearing in an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NeonApiClient, NeonApiError, parseEndpointResponse } from '../../../src/sidecar/neon/api-client';
import { startFakeNeonApi } from '../../support/neon-api';
import { freePort } from '../../support/pg';

test('reads current_state, suspend_timeout_seconds, CU limits and last_active; sends only GET with Bearer', async () => {
  const api = await startFakeNeonApi({ state: 'active' });
  try {
    api.suspendTimeoutSeconds = 600;
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const ep = await c.getEndpoint();
    assert.equal(ep.current_state, 'active');
    assert.equal(ep.id, api.endpointId);
    assert.equal(ep.project_id, api.projectId);
    assert.equal(ep.suspend_timeout_seconds, 600);
    assert.equal(ep.autoscaling_limit_min_cu, 0.25);
    assert.equal(ep.autoscaling_limit_max_cu, 1);
    assert.equal(ep.last_active, api.lastActive);
    api.state = 'idle';
    assert.equal((await c.getEndpoint()).current_state, 'idle');
    assert.deepEqual(
      api.requests.map((r) => [r.method, r.path, r.authorized]),
      [
        ['GET', `/api/v2/projects/${api.projectId}/endpoints/${api.endpointId}`, true],
        ['GET', `/api/v2/projects/${api.projectId}/endpoints/${api.endpointId}`, true],
      ]
    );
    assert.equal(api.nonGet(), 0);
  } finally {
    await api.close();
  }
});

test('wrong key → config error naming the fix, without the key', async () => {
  const api = await startFakeNeonApi();
  try {
    const wrong = 'napi_wrong_secret_value_123';
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: wrong,
    });
    const err = await c.getEndpoint().then(
      () => assert.fail('should fail'),
      (e: NeonApiError) => e
    );
    assert.ok(err instanceof NeonApiError);
    assert.equal(err.kind, 'config');
    assert.equal(err.status, 401);
    assert.match(err.message, /rejected the API key/);
    assert.match(err.message, /apiKeyEnv/);
    assert.ok(!err.message.includes(wrong));
  } finally {
    await api.close();
  }
});

test('unknown endpoint → 404 config error naming projectId/endpointId; missing key → config error', async () => {
  const api = await startFakeNeonApi();
  try {
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: 'ep-nope-1',
      apiKey: api.apiKey,
    });
    const err = (await c.getEndpoint().catch((e) => e)) as NeonApiError;
    assert.equal(err.kind, 'config');
    assert.equal(err.status, 404);
    assert.match(err.message, /neon\.projectId and neon\.endpointId/);
    const nokey = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: undefined,
    });
    const e2 = (await nokey.getEndpoint().catch((e) => e)) as NeonApiError;
    assert.equal(e2.kind, 'config');
    assert.match(e2.message, /no Neon API key/);
    assert.equal(api.requests.length, 1, 'without a key nothing is sent');
  } finally {
    await api.close();
  }
});

test('5xx and an unreachable API are transient errors', async () => {
  const api = await startFakeNeonApi();
  try {
    api.failWith = 503;
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const e1 = (await c.getEndpoint().catch((e) => e)) as NeonApiError;
    assert.equal(e1.kind, 'transient');
    assert.equal(e1.status, 503);
  } finally {
    await api.close();
  }
  const port = await freePort();
  const c2 = new NeonApiClient({
    apiUrl: `http://127.0.0.1:${port}/api/v2`,
    projectId: 'p',
    endpointId: 'ep-a',
    apiKey: 'k',
    timeoutMs: 2000,
  });
  const e2 = (await c2.getEndpoint().catch((e) => e)) as NeonApiError;
  assert.equal(e2.kind, 'transient');
  assert.match(e2.message, /unreachable/);
});

test('a malformed answer names the field', () => {
  assert.throws(() => parseEndpointResponse({}), /no "endpoint" object/);
  assert.throws(() => parseEndpointResponse({ endpoint: { current_state: 'suspended' } }), /current_state="suspended"/);
  assert.equal(parseEndpointResponse({ endpoint: { current_state: 'init' } }).suspend_timeout_seconds, 0);
});

test('429 with Retry-After carries the wait; without it the error is still transient', async () => {
  const api = await startFakeNeonApi();
  try {
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    api.failWith = 429;
    api.retryAfter = 42;
    const e1 = (await c.getEndpoint().catch((e) => e)) as NeonApiError;
    assert.equal(e1.kind, 'transient');
    assert.equal(e1.status, 429);
    assert.equal(e1.retryAfterSeconds, 42);
    api.retryAfter = null;
    const e2 = (await c.getEndpoint().catch((e) => e)) as NeonApiError;
    assert.equal(e2.kind, 'transient');
    assert.equal(e2.retryAfterSeconds, undefined);
  } finally {
    await api.close();
  }
});

test('operations and project usage: the documented fields, GET only', async () => {
  const api = await startFakeNeonApi();
  try {
    const t = '2026-11-30T10:00:00Z';
    api.operations = [
      {
        id: 'a07f8772-1877-4da9-a939-3a3ae62d1d8e',
        endpoint_id: api.endpointId,
        action: 'check_availability',
        status: 'finished',
        created_at: t,
        updated_at: t,
        total_duration_ms: 900,
      },
      {
        id: 'a07f8772-1877-4da9-a939-3a3ae62d1d8d',
        endpoint_id: api.endpointId,
        action: 'start_compute',
        status: 'finished',
        created_at: t,
        updated_at: t,
        total_duration_ms: 400,
      },
    ];
    api.usage.compute_time_seconds = 7200;
    api.usage.active_time_seconds = 28_800;
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const ops = await c.listOperations(1);
    assert.deepEqual(
      ops.map((o) => [o.id, o.action, o.status, o.endpoint_id, o.total_duration_ms]),
      [['a07f8772-1877-4da9-a939-3a3ae62d1d8e', 'check_availability', 'finished', api.endpointId, 900]]
    );
    const p = await c.getProject();
    assert.equal(p.compute_time_seconds, 7200);
    assert.equal(p.active_time_seconds, 28_800);
    assert.equal(p.consumption_period_start, api.usage.consumption_period_start);
    assert.equal(p.consumption_period_end, api.usage.consumption_period_end);
    assert.deepEqual(
      api.requests.map((r) => r.path),
      [`/api/v2/projects/${api.projectId}/operations`, `/api/v2/projects/${api.projectId}`]
    );
    assert.equal(api.nonGet(), 0);
  } finally {
    await api.close();
  }
});
