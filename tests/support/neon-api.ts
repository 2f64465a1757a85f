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
 *   401 / 404 → {"code": "", "message": "…"} (GeneralError)
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
  /** answer every request with this HTTP status instead (e.g. 500, 503) */
  failWith: number | null;
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
    failWith: null,
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
      return send(res, api.failWith, { code: '', message: 'service unavailable' });
    }
    const m = /^\/api\/v2\/projects\/([^/]+)\/endpoints\/([^/]+)$/.exec(path);
    if (!m) {
      return send(res, 404, { code: '', message: 'not found' });
    }
    if (!authorized) {
      return send(res, 401, { code: '', message: 'authentication required' });
    }
    if (req.method !== 'GET') {
      return send(res, 405, { code: '', message: 'method not allowed in this fake' });
    }
    if (decodeURIComponent(m[1]) !== api.projectId || decodeURIComponent(m[2]) !== api.endpointId) {
      return send(res, 404, { code: '', message: 'endpoint not found' });
    }
    const now = new Date().toISOString();
    send(res, 200, {
      endpoint: {
        host: `${api.endpointId}.us-east-2.aws.neon.tech`,
        id: api.endpointId,
        project_id: api.projectId,
        branch_id: 'br-aged-salad-637688',
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 1,
        region_id: 'aws-us-east-2',
        type: 'read_write',
        current_state: api.state,
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
      },
    });
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
