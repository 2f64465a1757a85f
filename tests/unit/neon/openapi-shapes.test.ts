/**
 * The fake Neon API (tests/support/neon-api.ts) and the client (src/sidecar/neon/api-client.ts)
 * against the excerpt of Neon's published v2 OpenAPI document in neon-openapi-excerpt.ts: every
 * answer the fake serves has the document's required fields, types, formats and enums and nothing
 * the document does not list; the client sends every required query parameter and nothing else,
 * reads only documented fields, and treats 403/404/406/429/5xx as the document describes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NeonApiClient, NeonApiError, parseRetryAfter } from '../../../src/sidecar/neon/api-client';
import { startFakeNeonApi, type FakeNeonApi } from '../../support/neon-api';
import {
  Endpoint,
  GeneralError,
  Operation,
  Project,
  consumptionV2Metrics,
  granularityLimitMs,
  operations,
  violations,
} from './neon-openapi-excerpt';

const DAY = 86_400_000;

async function documentedApi(): Promise<FakeNeonApi> {
  const api = await startFakeNeonApi({ state: 'active' });
  // the billing period started at noon 29 days ago: its first day holds 12 hours of the previous one
  const periodStart = Math.floor((Date.now() - 29 * DAY) / DAY) * DAY + DAY / 2;
  api.usage.consumption_period_start = new Date(periodStart).toISOString();
  api.usage.consumption_period_end = new Date(periodStart + 31 * DAY).toISOString();
  const t = new Date(Date.now() - 60_000).toISOString();
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
      status: 'running',
      created_at: t,
      updated_at: t,
      total_duration_ms: 0,
    },
  ];
  api.otherEndpoints = [
    { id: 'ep-autumn-art-123456', branch_id: 'br-wild-rain-654321', type: 'read_only', current_state: 'idle' },
  ];
  api.consumptionHours = [
    { start: new Date(periodStart - 6 * 3_600_000).toISOString(), computeUnitSeconds: 5000 }, // the previous period
    { start: new Date(Date.now() - 3 * DAY).toISOString(), computeUnitSeconds: 3600 },
    { start: new Date(Date.now() - 2 * 3_600_000).toISOString(), computeUnitSeconds: 900 },
  ];
  return api;
}

async function get(
  api: FakeNeonApi,
  path: string,
  key = api.apiKey
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const r = await fetch(`${api.apiUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: r.status, body: await r.json(), headers: r.headers };
}

function operationFor(path: string) {
  const op = operations.find((o) => o.path.test(path));
  assert.ok(op, `${path} is an operation of the document`);
  return op;
}

test('every answer of the fake API conforms to the document: required fields, types, formats, enums, nothing undocumented', async () => {
  const api = await documentedApi();
  try {
    const p = `/projects/${api.projectId}`;
    const now = Date.now();
    const q = new URLSearchParams({
      project_ids: api.projectId,
      from: new Date(Math.floor((now - 29 * DAY) / DAY) * DAY).toISOString(),
      to: new Date(now + DAY).toISOString(),
      granularity: 'daily',
      org_id: api.orgId!,
      metrics: 'compute_unit_seconds',
    });
    for (const path of [
      `${p}/endpoints/${api.endpointId}`,
      `${p}/endpoints`,
      p,
      `${p}/operations?limit=10`,
      `/consumption_history/v2/projects?${q}`,
    ]) {
      const r = await get(api, path);
      assert.equal(r.status, 200, path);
      const op = operationFor(path.split('?')[0]);
      assert.deepEqual(violations(r.body, op.ok), [], `${op.operationId}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    // the answers are not empty: the checks above looked at real fields
    const cons = (await get(api, `/consumption_history/v2/projects?${q}`)).body as {
      projects: Array<{ periods: Array<{ consumption: unknown[] }> }>;
    };
    assert.equal(cons.projects[0].periods.length, 2, 'one period object per billing period');
    assert.equal(((await get(api, `${p}/operations`)).body as { operations: unknown[] }).operations.length, 2);
    assert.equal(((await get(api, `${p}/endpoints`)).body as { endpoints: unknown[] }).endpoints.length, 2);

    // errors: GeneralError bodies, the statuses the document lists
    const errors: Array<[string, number, Promise<{ status: number; body: unknown }>]> = [
      ['wrong key', 401, get(api, p, 'napi_wrong')],
      ['unknown endpoint', 404, get(api, `${p}/endpoints/ep-does-not-exist-1`)],
      [
        'consumption v2 without org_id',
        400,
        get(api, `/consumption_history/v2/projects?${new URLSearchParams([...q].filter(([k]) => k !== 'org_id'))}`),
      ],
      [
        'consumption v2, another organization',
        404,
        get(
          api,
          `/consumption_history/v2/projects?${new URLSearchParams({ ...Object.fromEntries(q), org_id: 'org-other-1' })}`
        ),
      ],
      [
        'consumption v2, hourly over more than 168 hours',
        406,
        get(
          api,
          `/consumption_history/v2/projects?${new URLSearchParams({ ...Object.fromEntries(q), granularity: 'hourly' })}`
        ),
      ],
    ];
    for (const [what, status, pending] of errors) {
      const r = await pending;
      assert.equal(r.status, status, what);
      assert.deepEqual(violations(r.body, GeneralError), [], what);
    }
    api.consumptionHours = null;
    const plan = await get(api, `/consumption_history/v2/projects?${q}`);
    assert.equal(plan.status, 403, 'a plan without consumption history');
    assert.ok(operationFor('/consumption_history/v2/projects').errors.includes(403));
    assert.deepEqual(violations(plan.body, GeneralError), []);
    for (const [status, retryAfter] of [
      [429, 30],
      [429, null],
      [500, null],
      [503, null],
    ] as const) {
      api.failWith = status;
      api.retryAfter = retryAfter;
      const r = await get(api, p);
      assert.equal(r.status, status);
      assert.equal(r.headers.get('retry-after'), retryAfter === null ? null : String(retryAfter));
      assert.deepEqual(violations(r.body, GeneralError), [], `HTTP ${status}`);
    }
    api.failWith = null;
    api.retryAfter = null;
    // the excerpt's checker itself catches what it should (so the checks above can fail)
    assert.match(
      violations({ endpoint: { id: 'x' } }, operations[0].ok).join('\n'),
      /required property current_state is missing/
    );
    assert.match(violations({ id: 'op-1' }, Operation).join('\n'), /not a UUID/);
    assert.match(
      violations(
        { ...((await get(api, p)).body as { project: object }).project, owner: 'x', extra_field: 1 },
        Project
      ).join('\n'),
      /extra_field is not in the document/
    );
  } finally {
    await api.close();
  }
});

test('the client sends every required parameter and nothing undocumented, and reads only documented fields', async () => {
  const api = await documentedApi();
  try {
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const ep = await c.getEndpoint();
    const eps = await c.listEndpoints();
    const ops = await c.listOperations(10);
    const project = await c.getProject();
    const periodStart = new Date(api.usage.consumption_period_start);
    const cus = await c.computeUnitSeconds(periodStart, new Date(), project.org_id!);
    // the hour 6 h before the billing period began is asked for (same day) but belongs to the previous period
    assert.equal(cus, 3600 + 900);
    assert.equal(project.org_id, api.orgId, "the project's organization is read");
    for (const k of Object.keys(ep)) {
      assert.ok(k in Endpoint.properties, `client reads endpoint.${k}, which the document has`);
    }
    for (const k of Object.keys(eps[0]).filter((k) => k !== 'type')) {
      assert.ok(k in Endpoint.properties, `endpoints[].${k}`);
    }
    assert.ok('type' in Endpoint.properties);
    for (const k of Object.keys(ops[0])) {
      assert.ok(k in Operation.properties, `operation.${k}`);
    }
    for (const k of Object.keys(project)) {
      assert.ok(k in Project.properties, `project.${k}`);
    }
    for (const r of api.requests) {
      const op = operationFor(r.path.replace(/^\/api\/v2/, ''));
      for (const k of op.requiredQuery) {
        assert.ok(r.query[k], `${op.operationId}: required parameter ${k} sent`);
      }
      for (const k of Object.keys(r.query)) {
        assert.ok(op.query.includes(k), `${op.operationId}: parameter ${k} is in the document`);
      }
      assert.equal(r.method, 'GET');
    }
    const cq = api.requests.find((r) => r.path.endsWith('/consumption_history/v2/projects'))!.query;
    assert.ok(cq.granularity in granularityLimitMs);
    assert.ok(
      Date.now() - Date.parse(cq.from) <= granularityLimitMs[cq.granularity as keyof typeof granularityLimitMs],
      'the range fits the granularity (no 406)'
    );
    assert.ok(cq.metrics.split(',').every((m) => (consumptionV2Metrics as readonly string[]).includes(m)));
    assert.match(cq.org_id, /^[a-z0-9-]{1,60}$/);
    assert.equal(cq.project_ids, api.projectId);
  } finally {
    await api.close();
  }
});

test('consumption v2 errors as the document describes them: 403 plan, 404 organization (names neon.orgId), 429/5xx transient with Retry-After', async () => {
  const api = await documentedApi();
  try {
    const c = new NeonApiClient({
      apiUrl: api.apiUrl,
      projectId: api.projectId,
      endpointId: api.endpointId,
      apiKey: api.apiKey,
    });
    const start = new Date(api.usage.consumption_period_start);
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail('should fail'),
        (e: NeonApiError) => e
      );
    const wrongOrg = await fail(c.computeUnitSeconds(start, new Date(), 'org-not-this-one-1'));
    assert.equal(wrongOrg.status, 404);
    assert.equal(wrongOrg.kind, 'config');
    assert.match(wrongOrg.message, /not a member of organization org-not-this-one-1.*neon\.orgId/);
    api.consumptionHours = null;
    const plan = await fail(c.computeUnitSeconds(start, new Date(), api.orgId!));
    assert.equal(plan.status, 403);
    assert.equal(plan.kind, 'config');
    assert.match(plan.message, /Launch, Scale/);
    api.failWith = 429;
    api.retryAfter = 42;
    const limited = await fail(c.getEndpoint());
    assert.deepEqual([limited.kind, limited.status, limited.retryAfterSeconds], ['transient', 429, 42]);
    api.retryAfter = null;
    const limitedBare = await fail(c.getEndpoint());
    assert.deepEqual(
      [limitedBare.kind, limitedBare.status, limitedBare.retryAfterSeconds],
      ['transient', 429, undefined]
    );
    for (const status of [500, 502, 503]) {
      api.failWith = status;
      const e = await fail(c.getProject());
      assert.deepEqual([e.kind, e.status], ['transient', status]);
    }
  } finally {
    await api.close();
  }
  // Retry-After is delay-seconds or an HTTP-date (RFC 9110)
  const now = Date.parse('2026-11-30T12:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 12:01:30 GMT', now), 90);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now), undefined, 'a date in the past says nothing');
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
