/**
 * A read-only client for the Neon API v2 calls pgpulse needs:
 * - GET /projects/{project_id}/endpoints/{endpoint_id} (getProjectEndpoint): the compute state;
 * - GET /projects/{project_id}/operations (listProjectOperations): start_compute, suspend_compute,
 *   check_availability — which wakes were Neon's own;
 * - GET /projects/{project_id} (getProject): compute_time_seconds, active_time_seconds and the
 *   consumption period, on every plan, and org_id;
 * - GET /projects/{project_id}/endpoints (listProjectEndpoints): branch computes, read replicas;
 * - GET /consumption_history/v2/projects (getConsumptionHistoryPerProjectV2): compute_unit_seconds
 *   on usage-based paid plans; org_id is a required parameter.
 * Field names, required parameters and the error statuses follow Neon's published OpenAPI
 * document (v2; tests/unit/neon/neon-openapi-excerpt.ts cites the version checked).
 * Asking the control plane never connects to, and so never wakes, the compute.
 * There is deliberately no method that PATCHes or POSTs anything.
 */
import { redact } from '../auth';

export type EndpointState = 'init' | 'active' | 'idle';

/** The fields of the API's Endpoint object pgpulse reads (the response carries many more). */
export interface NeonEndpoint {
  id: string;
  project_id: string;
  branch_id: string;
  host: string;
  current_state: EndpointState;
  pending_state?: EndpointState;
  last_active?: string;
  suspend_timeout_seconds: number;
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
}

/**
 * config: the key, ids or URL are wrong (retrying will not help); transient: network, timeout,
 * 5xx or rate limiting (retry later).
 */
export type NeonApiErrorKind = 'config' | 'transient';

export class NeonApiError extends Error {
  override name = 'NeonApiError';
  constructor(
    message: string,
    readonly kind: NeonApiErrorKind,
    readonly status?: number,
    /** seconds the API asked us to wait (429 Retry-After) */
    readonly retryAfterSeconds?: number
  ) {
    super(message);
  }
}

export interface NeonApiOptions {
  apiUrl: string;
  projectId: string;
  endpointId: string;
  apiKey: string | undefined;
  /** the organization (org-…) owning the project, for consumption history v2 */
  orgId?: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

const STATES: readonly string[] = ['init', 'active', 'idle'];

/** The fields of the API's Operation object pgpulse reads. */
export interface NeonOperation {
  id: string;
  endpoint_id?: string;
  /** e.g. start_compute, suspend_compute, check_availability, apply_config */
  action: string;
  /** scheduling | running | finished | failed | error | cancelling | cancelled | skipped */
  status: string;
  created_at: string;
  updated_at: string;
  total_duration_ms?: number;
}

/** The consumption fields of the API's Project object (present on every plan). */
export interface NeonProjectUsage {
  id: string;
  compute_time_seconds: number;
  active_time_seconds: number;
  cpu_used_sec: number;
  written_data_bytes: number;
  data_transfer_bytes: number;
  synthetic_storage_size: number | null;
  consumption_period_start: string;
  consumption_period_end: string;
  /** the organization that owns the project (absent for a personal account's project) */
  org_id?: string;
}

/**
 * Retry-After (RFC 9110): delay-seconds or an HTTP-date; the OpenAPI document does not promise
 * either, so both are read and anything else is "none".
 */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) {
    return undefined;
  }
  if (/^\s*\d+\s*$/.test(v)) {
    const s = Number(v);
    return s > 0 ? s : undefined;
  }
  const at = Date.parse(v);
  return Number.isFinite(at) && at > now ? Math.ceil((at - now) / 1000) : undefined;
}

export function parseOperationsResponse(body: unknown): NeonOperation[] {
  const ops = (body as { operations?: unknown } | null)?.operations;
  if (!Array.isArray(ops)) {
    throw new NeonApiError(
      'Neon API answer has no "operations" array: is neon.apiUrl pointing at https://console.neon.tech/api/v2?',
      'config'
    );
  }
  return ops
    .filter(
      (o): o is Record<string, unknown> =>
        !!o && typeof o === 'object' && typeof (o as { action?: unknown }).action === 'string'
    )
    .map((o) => ({
      id: String(o.id ?? ''),
      endpoint_id: typeof o.endpoint_id === 'string' ? o.endpoint_id : undefined,
      action: String(o.action),
      status: String(o.status ?? ''),
      created_at: String(o.created_at ?? ''),
      updated_at: String(o.updated_at ?? ''),
      total_duration_ms: typeof o.total_duration_ms === 'number' ? o.total_duration_ms : undefined,
    }));
}

export function parseProjectResponse(body: unknown): NeonProjectUsage {
  const p = (body as { project?: unknown } | null)?.project as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') {
    throw new NeonApiError(
      'Neon API answer has no "project" object: is neon.apiUrl pointing at https://console.neon.tech/api/v2?',
      'config'
    );
  }
  for (const f of [
    'compute_time_seconds',
    'active_time_seconds',
    'consumption_period_start',
    'consumption_period_end',
  ]) {
    if (p[f] === undefined || p[f] === null) {
      throw new NeonApiError(
        `Neon API answer has no project.${f}: pgpulse cannot compute the compute cost without it`,
        'config'
      );
    }
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    id: String(p.id ?? ''),
    compute_time_seconds: num(p.compute_time_seconds),
    active_time_seconds: num(p.active_time_seconds),
    cpu_used_sec: num(p.cpu_used_sec),
    written_data_bytes: num(p.written_data_bytes),
    data_transfer_bytes: num(p.data_transfer_bytes),
    synthetic_storage_size: typeof p.synthetic_storage_size === 'number' ? p.synthetic_storage_size : null,
    consumption_period_start: String(p.consumption_period_start),
    consumption_period_end: String(p.consumption_period_end),
    org_id: typeof p.org_id === 'string' && p.org_id ? p.org_id : undefined,
  };
}

/** Validates the shape we rely on; names the field that is off so a proxy or mock is easy to fix. */
export function parseEndpointResponse(body: unknown): NeonEndpoint {
  const ep = (body as { endpoint?: unknown } | null)?.endpoint as Record<string, unknown> | undefined;
  if (!ep || typeof ep !== 'object') {
    throw new NeonApiError(
      'Neon API answer has no "endpoint" object: is neon.apiUrl pointing at https://console.neon.tech/api/v2?',
      'config'
    );
  }
  if (typeof ep.current_state !== 'string' || !STATES.includes(ep.current_state)) {
    throw new NeonApiError(
      `Neon API answer has endpoint.current_state=${JSON.stringify(ep.current_state)}, expected "init", "active" or "idle"`,
      'config'
    );
  }
  const num = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
  return {
    id: String(ep.id ?? ''),
    project_id: String(ep.project_id ?? ''),
    branch_id: String(ep.branch_id ?? ''),
    host: String(ep.host ?? ''),
    current_state: ep.current_state as EndpointState,
    pending_state:
      typeof ep.pending_state === 'string' && STATES.includes(ep.pending_state)
        ? (ep.pending_state as EndpointState)
        : undefined,
    last_active: typeof ep.last_active === 'string' ? ep.last_active : undefined,
    // 0 means "the default", which is 300 s (5 minutes) per the API reference
    suspend_timeout_seconds: num(ep.suspend_timeout_seconds, 0),
    autoscaling_limit_min_cu: num(ep.autoscaling_limit_min_cu, 0),
    autoscaling_limit_max_cu: num(ep.autoscaling_limit_max_cu, 0),
  };
}

export class NeonApiClient {
  private readonly url: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: NeonApiOptions) {
    const base = opts.apiUrl.replace(/\/+$/, '');
    this.url = `${base}/projects/${encodeURIComponent(opts.projectId)}/endpoints/${encodeURIComponent(opts.endpointId)}`;
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  /** where we ask (no secret in it) */
  get endpointUrl(): string {
    return this.url;
  }

  async getEndpoint(): Promise<NeonEndpoint> {
    return parseEndpointResponse(await this.get(this.url, 'endpoint'));
  }

  /** every endpoint of the project (branch computes, read replicas), as the API lists them */
  async listEndpoints(): Promise<Array<NeonEndpoint & { type: string }>> {
    const body = await this.get(`${this.projectUrl}/endpoints`, 'project');
    const eps = (body as { endpoints?: unknown })?.endpoints;
    if (!Array.isArray(eps)) {
      throw new NeonApiError(
        'Neon API answer has no "endpoints" array: is neon.apiUrl pointing at https://console.neon.tech/api/v2?',
        'config'
      );
    }
    return eps.map((e) => ({
      ...parseEndpointResponse({ endpoint: e }),
      type: String((e as { type?: unknown }).type ?? ''),
    }));
  }

  /** the project's most recent operations (newest first, as the API lists them) */
  async listOperations(limit = 20): Promise<NeonOperation[]> {
    return parseOperationsResponse(
      await this.get(`${this.projectUrl}/operations?limit=${Math.max(1, Math.min(1000, Math.floor(limit)))}`, 'project')
    );
  }

  async getProject(): Promise<NeonProjectUsage> {
    return parseProjectResponse(await this.get(this.projectUrl, 'project'));
  }

  /**
   * compute_unit_seconds of this project in the billing period that started at periodStart, up
   * to now (consumption history v2). Daily granularity: hourly answers only the last 168 hours and
   * a billing period is longer (406); `to` is rounded down to the granularity, so it is the next
   * midnight to include today. Only timeframes of billing periods that started at or after
   * periodStart count (the first day may hold the end of the previous period).
   * Throws NeonApiError: 403 (plan without the API), 404 (the key's account is not a member of
   * the organization), 406 (range), or transient errors.
   */
  async computeUnitSeconds(periodStart: Date, now: Date, orgId: string): Promise<number> {
    const base = this.opts.apiUrl.replace(/\/+$/, '');
    const day = (t: number, up = false) =>
      new Date((up ? Math.ceil : Math.floor)(t / 86_400_000) * 86_400_000).toISOString();
    const from = day(periodStart.getTime());
    const to = day(now.getTime() + 1, true);
    const q = new URLSearchParams({
      project_ids: this.opts.projectId,
      from,
      to,
      granularity: 'daily',
      org_id: orgId,
      metrics: 'compute_unit_seconds',
    });
    let body: unknown;
    try {
      body = await this.get(`${base}/consumption_history/v2/projects?${q}`, 'project');
    } catch (e) {
      if (e instanceof NeonApiError && e.status === 403) {
        throw new NeonApiError(
          `Neon consumption history v2 is not available for this account (HTTP 403): it needs a Launch, Scale, Agent, Business or Enterprise plan; pgpulse uses the project's compute_time_seconds`,
          'config',
          403
        );
      }
      if (e instanceof NeonApiError && e.status === 404) {
        throw new NeonApiError(
          `Neon API: the API key's account is not a member of organization ${orgId} (HTTP 404): set neon.orgId to the organization that owns project ${this.opts.projectId} (org-…, Neon console → Organization settings)`,
          'config',
          404
        );
      }
      throw e;
    }
    const projects = (body as { projects?: unknown })?.projects;
    if (!Array.isArray(projects)) {
      throw new NeonApiError('Neon consumption API answer has no "projects" array', 'config');
    }
    const since = periodStart.getTime() - 60_000;
    let total = 0;
    for (const p of projects as Array<{
      project_id?: string;
      periods?: Array<{
        period_start?: string;
        consumption?: Array<{ metrics?: Array<{ metric_name?: string; value?: number }> }>;
      }>;
    }>) {
      if (p.project_id !== this.opts.projectId) {
        continue;
      }
      for (const per of p.periods ?? []) {
        const started = Date.parse(per.period_start ?? '');
        if (Number.isFinite(started) && started < since) {
          continue; // the previous billing period
        }
        for (const c of per.consumption ?? []) {
          for (const m of c.metrics ?? []) {
            if (m.metric_name === 'compute_unit_seconds' && typeof m.value === 'number') {
              total += m.value;
            }
          }
        }
      }
    }
    return total;
  }

  private get projectUrl(): string {
    return `${this.opts.apiUrl.replace(/\/+$/, '')}/projects/${encodeURIComponent(this.opts.projectId)}`;
  }

  private async get(url: string, what: 'endpoint' | 'project'): Promise<unknown> {
    const key = this.opts.apiKey;
    if (!key) {
      throw new NeonApiError(
        'no Neon API key: set neon.apiKeyEnv to the name of an environment variable holding it (or NEON_API_KEY), or neon.apiKey',
        'config'
      );
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: 'GET',
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
        redirect: 'error',
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${(this.opts.timeoutMs ?? 5000) / 1000}s`
          : (err.cause?.code ?? err.message);
      throw new NeonApiError(
        `Neon API unreachable at ${this.scrub(url)} (${this.scrub(why)}): check neon.apiUrl and the network`,
        'transient'
      );
    }
    if (res.ok) {
      try {
        return await res.json();
      } catch {
        throw new NeonApiError(
          `Neon API answered HTTP ${res.status} but not with JSON: check neon.apiUrl (${this.scrub(url)})`,
          'config'
        );
      }
    }
    const apiMessage = await res
      .json()
      .then((b: unknown) =>
        typeof (b as { message?: unknown })?.message === 'string' ? (b as { message: string }).message : ''
      )
      .catch(() => '');
    const detail = apiMessage ? `: ${this.scrub(apiMessage).slice(0, 200)}` : '';
    switch (res.status) {
      case 401:
        throw new NeonApiError(
          `Neon API rejected the API key (HTTP 401${detail}): create a key in the Neon console (Account settings → API keys) and put it in the variable named by neon.apiKeyEnv`,
          'config',
          401
        );
      case 403:
        throw new NeonApiError(
          `Neon API key may not read project ${this.opts.projectId} (HTTP 403${detail}): use a key of the account or organization that owns the project`,
          'config',
          403
        );
      case 404:
        throw new NeonApiError(
          what === 'endpoint'
            ? `Neon API does not know endpoint ${this.opts.endpointId} in project ${this.opts.projectId} (HTTP 404${detail}): check neon.projectId and neon.endpointId (ep-…) in the target config`
            : `Neon API does not know project ${this.opts.projectId} (HTTP 404${detail}): check neon.projectId in the target config`,
          'config',
          404
        );
      case 429: {
        throw new NeonApiError(
          `Neon API rate limit reached (HTTP 429${detail}): pgpulse retries later; raise neon.stateInterval if this repeats`,
          'transient',
          429,
          parseRetryAfter(res.headers.get('retry-after'))
        );
      }
      default:
        // 503 and 423 are safe to retry (the document says so); a 503 may say when
        throw new NeonApiError(
          `Neon API error HTTP ${res.status}${detail}`,
          res.status >= 500 || res.status === 423 ? 'transient' : 'config',
          res.status,
          res.status === 503 ? parseRetryAfter(res.headers.get('retry-after')) : undefined
        );
    }
  }

  /** error text never carries the key, even if a proxy echoes it back */
  private scrub(s: string): string {
    const key = this.opts.apiKey;
    const out = key ? s.split(key).join('[redacted]') : s;
    return redact(out);
  }
}
