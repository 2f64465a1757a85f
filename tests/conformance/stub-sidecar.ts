/**
 * A stand-in sidecar for the conformance harness while the real one is not built: the gRPC
 * plugin server over the FakeService, plus the HTTP API subset the harness compares against
 * (GET /healthz, GET /api/v1/catalog, POST /api/v1/query), with the same env names as
 * `pgpulse serve`. run.sh uses it when PGPULSE_CONFORMANCE_STUB=1 or bin/pgpulse.js is absent.
 */
import { createServer } from 'node:http';
import { frameToJSON } from '../../src/model/frames';
import { tokenMatches } from '../../src/sidecar/auth';
import { createHclogLogger } from '../../src/sidecar/grafana/hclog';
import { startGrpcServer } from '../../src/sidecar/grafana/server';
import { FakeService, FAKE_METRICS } from '../integration/grafana/fake-service';

async function main() {
  const token = process.env.PGPULSE_TOKEN ?? '';
  const [httpHost, httpPort] = (process.env.PGPULSE_HTTP_ADDR ?? '127.0.0.1:7700').split(':');
  const service = new FakeService();
  const grpc = await startGrpcServer(service, {
    address: process.env.PGPULSE_GRPC_ADDR ?? '127.0.0.1:7701',
    token,
    mode: 'remote',
    logger: createHclogLogger(),
  });
  const http = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/healthz') return send(200, { ok: true });
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!tokenMatches(token, auth?.[1])) return send(401, { error: 'token' });
    if (req.method === 'GET' && req.url === '/api/v1/catalog') return send(200, { metrics: FAKE_METRICS });
    if (req.method === 'POST' && req.url === '/api/v1/query') {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', async () => {
        const b = JSON.parse(raw);
        const out = await service.query(
          { from: b.from, to: b.to, maxDataPoints: b.maxDataPoints, intervalMs: b.intervalMs, queries: b.queries },
          {}
        );
        const results: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(out))
          results[k] = {
            frames: v.frames.map((f) => frameToJSON({ ...f, refId: k })),
            ...(v.error ? { error: v.error } : {}),
          };
        send(200, { results });
      });
      return;
    }
    send(404, { error: 'not found' });
  });
  http.listen(Number(httpPort), httpHost);
  const stop = async () => {
    http.close();
    await grpc.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

void main();
