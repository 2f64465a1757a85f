/**
 * The sidecar's HTTP API: POST /api/v1/query (Grafana's /api/ds/query shape), GET /api/v1/catalog,
 * GET /api/v1/resources/<name>, GET /api/v1/health, GET /metrics, GET /healthz. Everything but
 * /healthz needs `Authorization: Bearer <token>`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { frameToJSON } from '../../model/frames';
import { insecureMode, tokenMatches } from '../auth';
import { splitAddress } from '../config';
import { QueryRefused } from '../engine/query-pool';
import type { SidecarService } from '../sidecar-service';
import { MAX_QUERIES_PER_REQUEST } from '../limits';
import { parseTime } from '../time-range';

const MAX_BODY = 1 << 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
  headers: Record<string, string> = {}
): void {
  if (res.destroyed) {
    return; // the client left; nobody to answer
  }
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    'content-type': type === 'application/json' ? 'application/json; charset=utf-8' : type,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) {
      throw new HttpError(413, 'request body is larger than 1 MiB');
    }
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    throw new HttpError(
      400,
      'request body is empty: send JSON like {"from":"now-1h","to":"now","queries":[{"refId":"A","metric":"tps"}]}'
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
}

export async function handleQuery(svc: SidecarService, body: unknown, signal?: AbortSignal) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'body must be a JSON object with from, to and queries');
  }
  const b = body as Record<string, unknown>;
  let from: number;
  let to: number;
  try {
    from = parseTime(b.from ?? 'now-1h', 'from');
    to = parseTime(b.to ?? 'now', 'to');
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  if (!Array.isArray(b.queries) || b.queries.length === 0) {
    throw new HttpError(400, 'queries must be a non-empty array of queries like {"refId":"A","metric":"tps"}');
  }
  if (b.queries.length > MAX_QUERIES_PER_REQUEST) {
    throw new HttpError(
      400,
      `queries: ${b.queries.length} queries in one request; at most ${MAX_QUERIES_PER_REQUEST} per request`
    );
  }
  const num = (v: unknown, name: string) => {
    if (v === undefined || v === null) {
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new HttpError(400, `${name} must be a non-negative number`);
    }
    return v;
  };
  const results = await svc
    .query(
      {
        from,
        to,
        maxDataPoints: num(b.maxDataPoints, 'maxDataPoints'),
        intervalMs: num(b.intervalMs, 'intervalMs'),
        queries: b.queries as Array<Record<string, unknown>>,
      },
      { defaultTarget: typeof b.target === 'string' ? b.target : undefined, signal }
    )
    .catch((e: unknown) => {
      if (e instanceof QueryRefused) {
        throw new HttpError(e.status, e.message, e.retryAfterSeconds);
      }
      throw e;
    });
  const out: Record<string, { frames: unknown[]; error?: string; status?: number; errorSource?: string }> = {};
  for (const [refId, r] of Object.entries(results)) {
    out[refId] = {
      frames: r.frames.map(frameToJSON),
      ...(r.error ? { error: r.error, status: r.status ?? 400, errorSource: r.errorSource } : { status: 200 }),
    };
  }
  return { results: out };
}

export function startHttpServer(
  svc: SidecarService,
  address: string,
  token: string
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sidecar');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      try {
        if (path === '/healthz') {
          // liveness: the process answers; a store problem is said, not turned into a restart loop
          const store = svc.storeProblemText();
          send(res, 200, store ? { status: 'degraded', problems: [store] } : { status: 'ok' });
          return;
        }
        const auth = req.headers.authorization ?? '';
        const presented = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
        if (!token) {
          if (!insecureMode.noAuth) {
            throw new HttpError(
              503,
              'the sidecar has no token configured: set PGPULSE_TOKEN (every call must be authenticated)'
            );
          }
        } else if (!tokenMatches(token, presented)) {
          res.setHeader('www-authenticate', 'Bearer');
          throw new HttpError(
            401,
            presented ? 'invalid token' : 'missing token: send Authorization: Bearer <PGPULSE_TOKEN>'
          );
        }
        if (path === '/api/v1/query') {
          if (req.method !== 'POST') {
            throw new HttpError(405, 'use POST for /api/v1/query');
          }
          // refused before the body is read: a busy sidecar spends nothing more on what it cannot compute
          const busy = svc.queries.refusal();
          if (busy) {
            req.resume();
            throw new HttpError(busy.status, busy.message, busy.retryAfterSeconds);
          }
          // a client that goes away stops its work: dropped from the queue, or interrupted mid-read
          const gone = new AbortController();
          res.once('close', () => {
            if (!res.writableFinished) {
              gone.abort();
            }
          });
          send(res, 200, await handleQuery(svc, await readJson(req), gone.signal));
          return;
        }
        if (req.method !== 'GET' && !(path.startsWith('/api/v1/resources/') && req.method === 'POST')) {
          throw new HttpError(405, `${req.method} is not allowed on ${path}`);
        }
        if (path === '/api/v1/catalog') {
          send(res, 200, svc.catalog());
        } else if (path === '/metrics') {
          send(res, 200, await svc.metricsText(), 'text/plain; version=0.0.4; charset=utf-8');
        } else if (path === '/api/v1/health') {
          send(res, 200, await svc.health(url.searchParams.get('target') ?? undefined));
        } else if (path.startsWith('/api/v1/resources/')) {
          const body = req.method === 'POST' ? await readJson(req) : undefined;
          const r = await svc.resource(path.slice('/api/v1/resources/'.length), url.searchParams, {
            method: req.method,
            body,
            via: 'api',
          });
          send(res, r.status, r.body);
        } else {
          throw new HttpError(
            404,
            `no route ${path}: see /api/v1/query, /api/v1/catalog, /api/v1/resources/<name>, /api/v1/health, /metrics, /healthz`
          );
        }
      } catch (e) {
        if (e instanceof HttpError) {
          send(
            res,
            e.status,
            { error: e.message },
            'application/json',
            e.retryAfterSeconds ? { 'retry-after': String(e.retryAfterSeconds) } : {}
          );
        } else {
          send(res, 500, { error: `internal error: ${(e as Error).message}` });
        }
      }
    })();
  });
  server.requestTimeout = 60_000;
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve({
        server,
        port: typeof a === 'object' && a ? a.port : port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
