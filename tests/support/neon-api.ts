/**
 * A fake Neon control-plane API on loopback, shaped like the documented v2 API
 * (https://console.neon.tech/api/v2, operationId getProjectEndpoint):
 *
 *   GET /api/v2/projects/{project_id}/endpoints/{endpoint_id}
 *   Authorization: Bearer <key>
 *   200 → {"endpoint": {host, id, project_id, branch_id, autoscaling_limit_min_cu,
 *          autoscaling_limit_max_cu, region_id, type, current_state, settings, pooler_enabled,
 *          pooler_mode, disabled, passwordless_access, last_active, creation_source, created_at,
 *          updated_at, proxy_host, suspend_timeout_seconds, provisioner}}
 *   GET /api/v2/projects/{project_id}/endpoints (listProjectEndpoints) → {"endpoints": [Endpoint]}
 *   GET /api/v2/projects/{project_id} (getProject) → {"project": {…, compute_time_seconds,
 *          active_time_seconds, cpu_used_sec, written_data_bytes, data_transfer_bytes,
 *          data_storage_bytes_hour, synthetic_storage_size, consumption_period_start,
 *          consumption_period_end, quota_reset_at, compute_last_active_at, …}}
 *   GET /api/v2/projects/{project_id}/operations?limit= (listProjectOperations) →
 *          {"operations": [{id, project_id, branch_id, endpoint_id, action, status, failures_count,
 *          created_at, updated_at, total_duration_ms}], "pagination": {"cursor": …}}
 *   GET /api/v2/consumption_history/v2/projects?project_ids=&from=&to=&granularity=&org_id=&metrics=
 *          (getConsumptionHistoryPerProjectV2, usage-based paid plans; from, to, granularity,
 *          org_id and metrics are required: 400 without one) →
 *          {"projects": [{project_id, periods: [{period_id (uuid), period_plan, period_start,
 *          period_end, consumption: [{timeframe_start, timeframe_end, metrics: [{metric_name,
 *          value}]}]}]}], "pagination": {"cursor": …}}, one period object per billing period and
 *          one timeframe per hour/day/month; 403 on plans without it; 404 when org_id is not the
 *          project's organization; 406 when the range is longer than the granularity allows
 *          (hourly 168 h, daily 60 days, monthly a year)
 *   401 / 404 → {"code": "", "message": "…"} (GeneralError); 429 with or without Retry-After
 *
 * Field names, types and required fields follow the published OpenAPI document;
 * tests/unit/neon/openapi-shapes.test.ts checks every answer of this fake against an excerpt of
 * it. Tests flip the state, count requests, and check that nothing but GET ever arrives.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type FakeState = 'init' | 'active' | 'idle';

export interface FakeNeonApi {
  /** base URL to put in neon.apiUrl, e.g. http://127.0.0.1:PORT/api/v2 */
  apiUrl: string;
  projectId: string;
  endpointId: string;
  apiKey: string;
  state: FakeState;
  lastActive: string;
  suspendTimeoutSeconds: number;
  /** autoscaling_limit_min_cu / max_cu of the endpoint */
  minCu: number;
  maxCu: number;
  /** answer every request with this HTTP status instead (e.g. 500, 503, 429) */
  failWith: number | null;
  /** Retry-After seconds sent with failWith = 429 (none when null) */
  retryAfter: number | null;
  /** the project's consumption fields, as getProject returns them */
  usage: {
    compute_time_seconds: number;
    active_time_seconds: number;
    cpu_used_sec: number;
    consumption_period_start: string;
    consumption_period_end: string;
  };
  /** the project's organization (org_id; null: a personal account's project without one) */
  orgId: string | null;
  /** getProject shows org_id (false: an answer without it, as for a personal account) */
  orgIdInProject: boolean;
  /** operations, newest first (ids are UUIDs, as the document says) */
  operations: Array<{
    id: string;
    endpoint_id: string;
    action: string;
    status: string;
    created_at: string;
    updated_at: string;
    total_duration_ms: number;
  }>;
  /** consumption v2 hourly compute_unit_seconds (null → 403, a plan without the consumption API) */
  consumptionHours: Array<{ start: string; computeUnitSeconds: number }> | null;
  /** other endpoints of the project (branch computes, read replicas) */
  otherEndpoints: Array<{ id: string; branch_id: string; type: 'read_write' | 'read_only'; current_state: FakeState }>;
  requests: Array<{ method: string; path: string; authorized: boolean; query: Record<string, string> }>;
  /** requests with a method other than GET (must stay 0: pgpulse never PATCHes) */
  nonGet(): number;
  close(): Promise<void>;
}

export async function startFakeNeonApi(
  opts: { projectId?: string; endpointId?: string; apiKey?: string; state?: FakeState } = {}
): Promise<FakeNeonApi> {
  const api = {
    apiUrl: '',
    projectId: opts.projectId ?? 'shiny-wind-028834',
    endpointId: opts.endpointId ?? 'ep-little-smoke-851426',
    apiKey: opts.apiKey ?? 'napi_test_' + Math.random().toString(36).slice(2),
    state: opts.state ?? 'idle',
    lastActive: new Date(Date.now() - 3_600_000).toISOString(),
    suspendTimeoutSeconds: 300,
    minCu: 0.25,
    maxCu: 1,
    failWith: null,
    retryAfter: null,
    usage: {
      compute_time_seconds: 0,
      active_time_seconds: 0,
      cpu_used_sec: 0,
      consumption_period_start: new Date(Date.now() - 10 * 86_400_000).toISOString(),
      consumption_period_end: new Date(Date.now() + 20 * 86_400_000).toISOString(),
    },
    orgId: 'org-spring-garden-12345678',
    orgIdInProject: true,
    operations: [],
    consumptionHours: null,
    otherEndpoints: [],
    requests: [],
    nonGet() {
      return this.requests.filter((r) => r.method !== 'GET').length;
    },
    close: async () => undefined,
  } as FakeNeonApi;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const authorized = req.headers.authorization === `Bearer ${api.apiKey}`;
    api.requests.push({
      method: req.method ?? '',
      path,
      authorized,
      query: Object.fromEntries(new URL(req.url ?? '/', 'http://fake').searchParams),
    });
    req.resume();
    if (api.failWith !== null) {
      if (api.failWith === 429) {
        res.writeHead(429, {
          'content-type': 'application/json',
          ...(api.retryAfter !== null ? { 'retry-after': String(api.retryAfter) } : {}),
        });
        return res.end(JSON.stringify({ code: '', message: 'too many requests' }));
      }
      return send(res, api.failWith, { code: '', message: 'service unavailable' });
    }
    if (!authorized) {
      return send(res, 401, { code: '', message: 'authentication required' });
    }
    if (req.method !== 'GET') {
      return send(res, 405, { code: '', message: 'method not allowed in this fake' });
    }
    const now = new Date().toISOString();
    const endpoint = (id: string, branch: string, type: string, state: FakeState) => ({
      host: `${id}.us-east-2.aws.neon.tech`,
      id,
      project_id: api.projectId,
      branch_id: branch,
      autoscaling_limit_min_cu: api.minCu,
      autoscaling_limit_max_cu: api.maxCu,
      region_id: 'aws-us-east-2',
      type,
      current_state: state,
      settings: { pg_settings: {} },
      pooler_enabled: false,
      pooler_mode: 'transaction',
      disabled: false,
      passwordless_access: true,
      last_active: api.lastActive,
      creation_source: 'console',
      created_at: '2022-11-23T17:42:25Z',
      updated_at: now,
      proxy_host: 'us-east-2.aws.neon.tech',
      suspend_timeout_seconds: api.suspendTimeoutSeconds,
      provisioner: 'k8s-neonvm',
    });
    const url = new URL(req.url ?? '/', 'http://fake');
    if (path === '/api/v2/consumption_history/v2/projects') {
      const missing = ['from', 'to', 'granularity', 'org_id', 'metrics'].filter((k) => !url.searchParams.get(k));
      if (missing.length) {
        return send(res, 400, { code: '', message: `missing required query parameter(s): ${missing.join(', ')}` });
      }
      const granularity = url.searchParams.get('granularity') as string;
      const unit = ({ hourly: 3_600_000, daily: 86_400_000, monthly: 0 } as Record<string, number>)[granularity];
      if (unit === undefined) {
        return send(res, 400, { code: '', message: 'granularity must be hourly, daily or monthly' });
      }
      if (!api.consumptionHours) {
        return send(res, 403, {
          code: '',
          message: 'project consumption history requires a Launch, Scale, Agent, Business, or Enterprise plan',
        });
      }
      if (url.searchParams.get('org_id') !== api.orgId) {
        return send(res, 404, { code: '', message: 'account is not a member of the organization' });
      }
      const ids = url.searchParams.getAll('project_ids').flatMap((v) => v.split(','));
      const round = (t: number) =>
        unit ? Math.floor(t / unit) * unit : Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth(), 1);
      const from = round(Date.parse(url.searchParams.get('from') ?? ''));
      const to = round(Date.parse(url.searchParams.get('to') ?? ''));
      const limit = { hourly: 168 * 3_600_000, daily: 60 * 86_400_000, monthly: 366 * 86_400_000 }[
        granularity as 'hourly'
      ];
      if (!Number.isFinite(from) || !Number.isFinite(to) || to < from || Date.now() - from > limit) {
        return send(res, 406, { code: '', message: `the from/to range is not valid for ${granularity} granularity` });
      }
      // one period object per billing period: the current one, and the one before it
      const cur = Date.parse(api.usage.consumption_period_start);
      const periods = [
        { period_id: '3f0c1a52-7d1e-4c55-9a1e-5b7a1c2d3e40', start: cur - 30 * 86_400_000, end: cur },
        {
          period_id: '8b2d4e61-0f3a-4b77-8c2d-6e9f0a1b2c3d',
          start: cur,
          end: Date.parse(api.usage.consumption_period_end),
        },
      ];
      const frames = (p: { start: number; end: number }) => {
        const sums = new Map<number, number>();
        for (const h of api.consumptionHours ?? []) {
          const t = Date.parse(h.start);
          if (t >= p.start && t < p.end && t >= from && t < to) {
            const k = Math.max(round(t), p.start);
            sums.set(k, (sums.get(k) ?? 0) + h.computeUnitSeconds);
          }
        }
        return [...sums.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([k, v]) => {
            const next = unit
              ? round(k) + unit
              : Date.UTC(new Date(k).getUTCFullYear(), new Date(k).getUTCMonth() + 1, 1);
            return {
              timeframe_start: new Date(k).toISOString(),
              timeframe_end: new Date(Math.min(next, p.end)).toISOString(),
              metrics: [{ metric_name: 'compute_unit_seconds', value: Math.round(v) }],
            };
          });
      };
      return send(res, 200, {
        projects: (ids.length ? ids : [api.projectId])
          .filter((id) => id === api.projectId)
          .map((id) => ({
            project_id: id,
            periods: periods
              .map((p) => ({
                period_id: p.period_id,
                period_plan: 'launch',
                period_start: new Date(p.start).toISOString(),
                period_end: new Date(p.end).toISOString(),
                consumption: frames(p),
              }))
              .filter((p) => p.consumption.length > 0),
          })),
        pagination: { cursor: api.projectId },
      });
    }
    const m = /^\/api\/v2\/projects\/([^/]+)(?:\/(endpoints|operations)(?:\/([^/]+))?)?$/.exec(path);
    if (!m || decodeURIComponent(m[1]) !== api.projectId) {
      return send(res, 404, { code: '', message: m ? 'project not found' : 'not found' });
    }
    if (!m[2]) {
      return send(res, 200, {
        project: {
          data_storage_bytes_hour: 0,
          data_transfer_bytes: 0,
          written_data_bytes: 0,
          ...api.usage,
          id: api.projectId,
          platform_id: 'aws',
          region_id: 'aws-us-east-2',
          name: 'shiny-wind',
          provisioner: 'k8s-neonvm',
          default_endpoint_settings: {
            autoscaling_limit_min_cu: 0.25,
            autoscaling_limit_max_cu: 1,
            suspend_timeout_seconds: 0,
          },
          pg_version: 15,
          proxy_host: 'us-east-2.aws.neon.tech',
          branch_logical_size_limit: 0,
          branch_logical_size_limit_bytes: 10_800_000_000,
          store_passwords: true,
          creation_source: 'console',
          history_retention_seconds: 86_400,
          created_at: '2022-11-23T17:42:25Z',
          updated_at: now,
          synthetic_storage_size: 0,
          quota_reset_at: api.usage.consumption_period_end,
          owner_id: api.orgId ?? 'user-quiet-river-123456',
          compute_last_active_at: api.lastActive,
          ...(api.orgId && api.orgIdInProject ? { org_id: api.orgId } : {}),
        },
      });
    }
    if (m[2] === 'operations' && !m[3]) {
      const limit = Number(url.searchParams.get('limit') ?? 10);
      return send(res, 200, {
        operations: api.operations
          .slice(0, limit)
          .map((o) => ({ ...o, project_id: api.projectId, branch_id: 'br-aged-salad-637688', failures_count: 0 })),
        pagination: { cursor: api.operations[Math.min(limit, api.operations.length) - 1]?.created_at ?? '' },
      });
    }
    if (m[2] === 'endpoints' && !m[3]) {
      return send(res, 200, {
        endpoints: [
          endpoint(api.endpointId, 'br-aged-salad-637688', 'read_write', api.state),
          ...api.otherEndpoints.map((e) => endpoint(e.id, e.branch_id, e.type, e.current_state)),
        ],
      });
    }
    if (m[2] !== 'endpoints' || decodeURIComponent(m[3] ?? '') !== api.endpointId) {
      return send(res, 404, { code: '', message: 'endpoint not found' });
    }
    send(res, 200, { endpoint: endpoint(api.endpointId, 'br-aged-salad-637688', 'read_write', api.state) });
  };

  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  api.apiUrl = `http://127.0.0.1:${port}/api/v2`;
  api.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}

/** a target's `neon` settings pointing at this fake, polled every 200 ms so tests see state changes quickly */
export function neonSettings(api: FakeNeonApi) {
  return {
    projectId: api.projectId,
    endpointId: api.endpointId,
    apiKey: api.apiKey,
    apiKeyResolved: api.apiKey,
    apiUrl: api.apiUrl,
    stateInterval: 200,
  };
}
