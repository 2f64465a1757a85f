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
 *   GET /api/v2/consumption_history/v2/projects?from=&to=&granularity= (paid plans) →
 *          {"projects": [{project_id, periods: [{period_id, period_plan, period_start, period_end,
 *          consumption: [{timeframe_start, timeframe_end, metrics: [{metric_name, value}]}]}]}],
 *          "pagination": {"cursor": …}}; 403 on plans without it
 *   401 / 404 → {"code": "", "message": "…"} (GeneralError); 429 with or without Retry-After
 *
 * Field names and the example values follow the public OpenAPI document. Tests flip the state,
 * count requests, and check that nothing but GET ever arrives.
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
  usage: { compute_time_seconds: number; active_time_seconds: number; cpu_used_sec: number; consumption_period_start: string; consumption_period_end: string };
  /** operations, newest first */
  operations: Array<{ id: string; endpoint_id: string; action: string; status: string; created_at: string; updated_at: string; total_duration_ms: number }>;
  /** consumption v2 hourly compute_unit_seconds (null → 403, a plan without the consumption API) */
  consumptionHours: Array<{ start: string; computeUnitSeconds: number }> | null;
  /** other endpoints of the project (branch computes, read replicas) */
  otherEndpoints: Array<{ id: string; branch_id: string; type: 'read_write' | 'read_only'; current_state: FakeState }>;
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** requests with a method other than GET (must stay 0: pgpulse never PATCHes) */
  nonGet(): number;
  close(): Promise<void>;
}

export async function startFakeNeonApi(opts: { projectId?: string; endpointId?: string; apiKey?: string; state?: FakeState } = {}): Promise<FakeNeonApi> {
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
    api.requests.push({ method: req.method ?? '', path, authorized });
    req.resume();
    if (api.failWith !== null) {
      if (api.failWith === 429) {
        res.writeHead(429, { 'content-type': 'application/json', ...(api.retryAfter !== null ? { 'retry-after': String(api.retryAfter) } : {}) });
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
      if (!api.consumptionHours) {
        return send(res, 403, { code: '', message: 'consumption history is available on paid plans only' });
      }
      const from = Date.parse(url.searchParams.get('from') ?? '');
      const to = Date.parse(url.searchParams.get('to') ?? '');
      const hours = api.consumptionHours.filter((h) => (!Number.isFinite(from) || Date.parse(h.start) >= from) && (!Number.isFinite(to) || Date.parse(h.start) < to));
      return send(res, 200, {
        projects: [
          {
            project_id: api.projectId,
            periods: [
              {
                period_id: 'per-1',
                period_plan: 'launch',
                period_start: api.usage.consumption_period_start,
                period_end: api.usage.consumption_period_end,
                consumption: hours.map((h) => ({
                  timeframe_start: h.start,
                  timeframe_end: new Date(Date.parse(h.start) + 3_600_000).toISOString(),
                  metrics: [
                    { metric_name: 'compute_unit_seconds', value: h.computeUnitSeconds },
                    { metric_name: 'root_branch_bytes_month', value: 0 },
                  ],
                })),
              },
            ],
          },
        ],
        pagination: { cursor: '' },
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
          default_endpoint_settings: { autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 1, suspend_timeout_seconds: 0 },
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
          owner_id: 'owner',
          compute_last_active_at: api.lastActive,
        },
      });
    }
    if (m[2] === 'operations' && !m[3]) {
      const limit = Number(url.searchParams.get('limit') ?? 10);
      return send(res, 200, {
        operations: api.operations.slice(0, limit).map((o) => ({ ...o, project_id: api.projectId, branch_id: 'br-aged-salad-637688', failures_count: 0 })),
        pagination: { cursor: api.operations[Math.min(limit, api.operations.length) - 1]?.created_at ?? '' },
      });
    }
    if (m[2] === 'endpoints' && !m[3]) {
      return send(res, 200, {
        endpoints: [endpoint(api.endpointId, 'br-aged-salad-637688', 'read_write', api.state), ...api.otherEndpoints.map((e) => endpoint(e.id, e.branch_id, e.type, e.current_state))],
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
