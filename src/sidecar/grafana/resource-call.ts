/**
 * pluginv2.Resource/CallResource → PgpulseService.resource. Grafana forwards
 * /api/datasources/uid/<uid>/resources/<path>?<query> here; the answer is one JSON message.
 */
import { redact } from '../auth';
import type { PgpulseService } from '../service';
import type { GrpcLogger } from './hclog';
import { checkToken, defaultTarget, scrubToken, type WirePluginContext } from './plugin-context';

export interface WireCallResourceRequest {
  pluginContext?: WirePluginContext | null;
  path?: string;
  method?: string;
  url?: string;
  headers?: Record<string, { values?: string[] }> | null;
  body?: Buffer | Uint8Array | null;
}

export interface WireCallResourceResponse {
  code: number;
  headers: Record<string, { values: string[] }>;
  body: Buffer;
}

const MAX_PATH = 512;

function json(code: number, body: unknown): WireCallResourceResponse {
  return {
    code,
    headers: { 'Content-Type': { values: ['application/json'] } },
    body: Buffer.from(JSON.stringify(body ?? null)),
  };
}

/** Query parameters from the forwarded URL, whether Grafana sends "tables?x=1" or a full path. */
export function resourceParams(url: string | undefined): URLSearchParams {
  if (!url) {
    return new URLSearchParams();
  }
  const q = url.indexOf('?');
  return new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
}

export async function handleCallResource(
  service: PgpulseService,
  req: WireCallResourceRequest,
  token: string,
  logger: GrpcLogger
): Promise<WireCallResourceResponse> {
  const auth = checkToken(token, req.pluginContext);
  if (!auth.ok) {
    logger.warn('CallResource refused: bad or missing sidecar token', {
      path: String(req.path ?? '').slice(0, MAX_PATH),
    });
    return json(401, { error: auth.reason });
  }
  const path = String(req.path ?? '').replace(/^\/+|\/+$/g, '');
  if (path.length > MAX_PATH) {
    return json(400, { error: `resource path is longer than ${MAX_PATH} characters` });
  }
  const method = (req.method || 'GET').toUpperCase();
  let body: unknown;
  if (req.body && req.body.length > 0) {
    try {
      body = JSON.parse(Buffer.from(req.body).toString('utf8'));
    } catch (e) {
      return json(400, {
        error: `resource ${path}: the request body is not valid JSON (${(e as Error).message.slice(0, 120)})`,
      });
    }
  }
  try {
    const r = await service.resource(path, resourceParams(req.url), {
      defaultTarget: defaultTarget(req.pluginContext),
      method,
      body,
      via: 'grafana',
      user: req.pluginContext?.user ? { login: req.pluginContext.user.login, role: req.pluginContext.user.role } : null,
    });
    const status = Number.isInteger(r?.status) && r.status >= 100 && r.status <= 599 ? r.status : 200;
    return json(status, r?.body);
  } catch (e) {
    const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
    logger.error('CallResource: the resource service failed', { path, error: msg });
    return json(500, { error: `pgpulse sidecar failed to answer resource ${path}: ${msg}` });
  }
}
