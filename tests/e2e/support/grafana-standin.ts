/**
 * A small stand-in for the parts of Grafana's HTTP API a datasource plugin's frontend uses, which
 * forwards to the plugin backend over the real Grafana plugin protocol (gRPC, pluginv2), as
 * Grafana's server does:
 *
 *   GET  /api/datasources/uid/<uid>               datasource settings (secure values never sent)
 *   PUT  /api/datasources/uid/<uid>               save (secureJsonData → stored server-side)
 *   GET  /api/datasources/uid/<uid>/health        → Diagnostics/CheckHealth
 *   *    /api/datasources/uid/<uid>/resources/*   → Resource/CallResource
 *   POST /api/ds/query                            → Data/QueryData, Arrow frames → frame JSON
 *
 * It also serves the host page (/), its bundle (/host/*) and the built plugin
 * (/public/plugins/<id>/* from dist/), as Grafana serves plugin assets.
 */
import * as grpc from '@grpc/grpc-js';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';

import { CHANNEL_OPTIONS, loadProtocol } from '../../../src/sidecar/grafana/protocol';
import { arrowFrameToJSON } from './arrow-to-json';

export const PLUGIN_ID = 'pgpulse-postgres-datasource';
const ROOT = resolve(__dirname, '../../..');

export interface StandInOptions {
  /** host:port of the plugin backend's gRPC server */
  grpcAddress: string;
  uid?: string;
  name?: string;
  jsonData?: Record<string, unknown>;
  /** the token already saved in secureJsonData (undefined: not configured) */
  token?: string;
  distDir?: string;
  hostDir?: string;
}

export interface LoggedCall {
  method: string;
  path: string;
  status: number;
  grpc?: string;
  /** for /api/ds/query: the query models as Grafana received them */
  queries?: Array<Record<string, unknown>>;
}

export interface GrafanaStandIn {
  url: string;
  uid: string;
  calls: LoggedCall[];
  /** what the stand-in holds for the datasource, including the secure token (test-only view) */
  stored(): { jsonData: Record<string, unknown>; token?: string };
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.css': 'text/css',
  '.map': 'application/json',
  '.md': 'text/markdown',
};

function sendJSON(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendFile(res: ServerResponse, base: string, rel: string): boolean {
  const file = normalize(join(base, rel));
  if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
    return false;
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': 'no-store',
  });
  createReadStream(file).pipe(res);
  return true;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) {
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function unary<Req, Res>(client: grpc.Client, method: string, req: Req): Promise<Res> {
  return new Promise((ok, fail) => {
    (
      client as unknown as Record<
        string,
        (r: Req, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => void
      >
    )[method](req, new grpc.Metadata(), (e, r) => (e ? fail(e) : ok(r)));
  });
}

export async function startGrafanaStandIn(opts: StandInOptions): Promise<GrafanaStandIn> {
  const uid = opts.uid ?? 'pgpulse-e2e';
  const distDir = resolve(opts.distDir ?? join(ROOT, 'dist'));
  const hostDir = resolve(opts.hostDir ?? join(ROOT, 'tests/e2e/host/dist'));
  const uiImgDir = resolve(ROOT, 'node_modules/@grafana/ui/dist/public/img');
  const proto = loadProtocol();
  const creds = grpc.credentials.createInsecure();
  const data = new proto.clients.Data(opts.grpcAddress, creds, CHANNEL_OPTIONS);
  const diagnostics = new proto.clients.Diagnostics(opts.grpcAddress, creds, CHANNEL_OPTIONS);
  const resource = new proto.clients.Resource(opts.grpcAddress, creds, CHANNEL_OPTIONS);
  const pluginVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

  const ds = {
    id: 1,
    uid,
    orgId: 1,
    name: opts.name ?? 'pgpulse',
    type: PLUGIN_ID,
    typeName: 'pgpulse',
    typeLogoUrl: `public/plugins/${PLUGIN_ID}/img/logo.svg`,
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    withCredentials: false,
    isDefault: true,
    jsonData: { ...(opts.jsonData ?? {}) } as Record<string, unknown>,
    readOnly: false,
    version: 1,
  };
  let token = opts.token;
  let updated = Date.now();
  const calls: LoggedCall[] = [];

  const settingsView = () => ({ ...ds, secureJsonFields: token ? { token: true } : {} });

  /** Grafana's PluginContext for this datasource: the decrypted token only travels to the backend. */
  const pluginContext = () => ({
    orgId: '1',
    pluginId: PLUGIN_ID,
    user: { login: 'admin', name: 'admin', email: 'admin@localhost', role: 'Admin' },
    dataSourceInstanceSettings: {
      id: String(ds.id),
      name: ds.name,
      url: '',
      uid: ds.uid,
      jsonData: Buffer.from(JSON.stringify(ds.jsonData)),
      decryptedSecureJsonData: token ? { token } : {},
      lastUpdatedMS: String(updated),
    },
    grafanaConfig: {},
    pluginVersion,
    userAgent: 'Grafana/13.1.1 (pgpulse e2e stand-in)',
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const log = (status: number, grpcMethod?: string) =>
      calls.push({ method, path: path + url.search, status, ...(grpcMethod ? { grpc: grpcMethod } : {}) });

    if (method === 'GET' && (path === '/' || path === '/index.html')) {
      sendFile(res, hostDir, 'index.html') ||
        sendJSON(res, 500, { message: 'host page not built: npm run build:e2e-host' });
      return;
    }
    if (method === 'GET' && path.startsWith('/host/')) {
      if (!sendFile(res, hostDir, path.slice('/host/'.length))) {
        sendJSON(res, 404, { message: 'not found' });
      }
      return;
    }
    // Grafana's own icons (@grafana/ui fetches them from public/build/img/icons/…).
    if (method === 'GET' && (path.startsWith('/public/build/img/') || path.startsWith('/public/img/'))) {
      const rel = path.replace(/^\/public\/(build\/)?img\//, '');
      if (!sendFile(res, uiImgDir, rel)) {
        sendJSON(res, 404, { message: 'not found' });
      }
      return;
    }
    const pluginPrefix = `/public/plugins/${PLUGIN_ID}/`;
    if (method === 'GET' && path.startsWith(pluginPrefix)) {
      if (!sendFile(res, distDir, path.slice(pluginPrefix.length))) {
        sendJSON(res, 404, { message: `plugin file not found in dist/: ${path}` });
      }
      return;
    }

    const dsPrefix = `/api/datasources/uid/${uid}`;
    if (path === dsPrefix && method === 'GET') {
      log(200);
      sendJSON(res, 200, settingsView());
      return;
    }
    if (path === dsPrefix && method === 'PUT') {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
        name?: string;
        jsonData?: Record<string, unknown>;
        secureJsonData?: Record<string, string>;
        secureJsonFields?: Record<string, boolean>;
      };
      if (typeof body.name === 'string' && body.name) {
        ds.name = body.name;
      }
      ds.jsonData = { ...(body.jsonData ?? {}) };
      // As Grafana: a non-empty secure value replaces the stored one; a field reset to false removes it.
      if (body.secureJsonData?.token) {
        token = body.secureJsonData.token;
      } else if (body.secureJsonFields && body.secureJsonFields.token === false) {
        token = undefined;
      }
      ds.version += 1;
      updated = Date.now();
      log(200);
      sendJSON(res, 200, { message: 'Datasource updated', id: ds.id, name: ds.name, datasource: settingsView() });
      return;
    }
    if (path === `${dsPrefix}/health` && method === 'GET') {
      try {
        const rsp = await unary<unknown, { status: string; message: string; jsonDetails?: Buffer }>(
          diagnostics,
          'CheckHealth',
          { pluginContext: pluginContext(), headers: {} }
        );
        const details =
          rsp.jsonDetails && rsp.jsonDetails.length
            ? JSON.parse(Buffer.from(rsp.jsonDetails).toString('utf8'))
            : undefined;
        // Grafana answers 200 for OK and 400 for ERROR, with the same body.
        const status = rsp.status === 'OK' ? 200 : 400;
        log(status, 'CheckHealth');
        sendJSON(res, status, { status: rsp.status, message: rsp.message, ...(details ? { details } : {}) });
      } catch (e) {
        log(500, 'CheckHealth');
        sendJSON(res, 500, { status: 'ERROR', message: `Plugin health check failed: ${(e as Error).message}` });
      }
      return;
    }
    if (path.startsWith(`${dsPrefix}/resources/`)) {
      const sub = path.slice(`${dsPrefix}/resources/`.length);
      const body = method === 'GET' ? Buffer.alloc(0) : await readBody(req);
      const headers: Record<string, { values: string[] }> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && k.toLowerCase() !== 'cookie' && k.toLowerCase() !== 'authorization') {
          headers[k] = { values: [v] };
        }
      }
      try {
        const parts: Array<{ code?: number; headers?: Record<string, { values?: string[] }>; body?: Buffer }> =
          await new Promise((ok, fail) => {
            const got: Array<{ code?: number; headers?: Record<string, { values?: string[] }>; body?: Buffer }> = [];
            const call = (
              resource as unknown as { CallResource: (r: unknown) => grpc.ClientReadableStream<unknown> }
            ).CallResource({
              pluginContext: pluginContext(),
              path: sub,
              method,
              url: sub + url.search,
              headers,
              body,
            });
            call.on('data', (m) => got.push(m as never));
            call.on('error', fail);
            call.on('end', () => ok(got));
          });
        const first = parts[0] ?? { code: 500 };
        const status = first.code || 200;
        const ctype =
          first.headers?.['Content-Type']?.values?.[0] ??
          first.headers?.['content-type']?.values?.[0] ??
          'application/json';
        const payload = Buffer.concat(parts.map((p) => Buffer.from(p.body ?? Buffer.alloc(0))));
        log(status, 'CallResource');
        res.writeHead(status, { 'Content-Type': ctype, 'Content-Length': payload.length });
        res.end(payload);
      } catch (e) {
        log(502, 'CallResource');
        sendJSON(res, 502, { message: `Failed to call resource: ${(e as Error).message}` });
      }
      return;
    }
    if (path === '/api/ds/query' && method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
        from?: string;
        to?: string;
        queries?: Array<Record<string, unknown>>;
      };
      const from = Number(body.from);
      const to = Number(body.to);
      const queries = (body.queries ?? []).filter((q) => {
        const ref = q.datasource as { uid?: string } | undefined;
        return !ref?.uid || ref.uid === uid;
      });
      if (!Number.isFinite(from) || !Number.isFinite(to)) {
        log(400);
        sendJSON(res, 400, { message: 'from and to are required' });
        return;
      }
      try {
        const rsp = await unary<
          unknown,
          { responses?: Record<string, { frames?: Buffer[]; error?: string; status?: number; errorSource?: string }> }
        >(data, 'QueryData', {
          pluginContext: pluginContext(),
          headers: {},
          queries: queries.map((q) => ({
            refId: String(q.refId ?? 'A'),
            maxDataPoints: String(q.maxDataPoints ?? 1000),
            intervalMS: String(q.intervalMs ?? 1000),
            timeRange: { fromEpochMS: String(from), toEpochMS: String(to) },
            json: Buffer.from(JSON.stringify(q)),
            queryType: typeof q.queryType === 'string' ? q.queryType : '',
          })),
        });
        const results: Record<string, unknown> = {};
        let anyError = false;
        for (const [refId, r] of Object.entries(rsp.responses ?? {})) {
          const frames = (r.frames ?? []).map((b) => arrowFrameToJSON(new Uint8Array(b)));
          if (r.error) {
            anyError = true;
          }
          results[refId] = {
            status: r.status || (r.error ? 500 : 200),
            frames,
            ...(r.error ? { error: r.error, errorSource: r.errorSource || 'plugin' } : {}),
          };
        }
        // Grafana answers 207 Multi-Status when any query failed.
        const status = anyError ? 207 : 200;
        log(status, 'QueryData');
        calls[calls.length - 1].queries = queries;
        sendJSON(res, status, { results });
      } catch (e) {
        log(500, 'QueryData');
        sendJSON(res, 500, { message: `Query data error: ${(e as Error).message}` });
      }
      return;
    }
    log(404);
    sendJSON(res, 404, { message: `stand-in: no route for ${method} ${path}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) {
        sendJSON(res, 500, { message: String((e as Error)?.message ?? e) });
      } else {
        res.end();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    uid,
    calls,
    stored: () => ({ jsonData: { ...ds.jsonData }, token }),
    close: async () => {
      data.close();
      diagnostics.close();
      resource.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
