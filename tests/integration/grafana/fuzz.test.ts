/**
 * Hostile and malformed QueryData / CallResource inputs over real gRPC: the server never crashes,
 * every refId gets an answer, and anything malformed gets a clear error for that refId.
 * Inputs come from a seeded generator so a failure can be replayed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/sidecar/grafana/server';
import { parseDataQuery } from '../../../src/sidecar/grafana/query-data';
import { FakeService } from './fake-service';
import { PluginClient, pluginContext } from './grpc-client';

const TOKEN = 'fuzz-token-abcdef';
const SEED = Number(process.env.FUZZ_SEED ?? 20260101);
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 1000);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const hostile = [
  "'; DROP TABLE pg_class; --",
  '1 OR 1=1',
  'public"; SELECT pg_sleep(10); --',
  '$$; COPY x TO PROGRAM $$rm -rf /',
  '\u0000\u0001\uffff',
  'x'.repeat(5000),
  '../../etc/passwd',
  '%00%27',
  '🐘',
];
const values: unknown[] = [null, true, 0, -1, 1e308, -1e308, 3.7, '', [], {}, [1, 'a'], { $gt: 1 }, ...hostile];
const keys = [
  'metric',
  'target',
  'database',
  'schema',
  'table',
  'index',
  'queryid',
  'topN',
  'orderBy',
  'threshold',
  'legend',
  'k',
  '__proto__',
  'constructor',
  'refId',
];

function randomJson(): Buffer {
  const kind = rand();
  if (kind < 0.15) {
    // truncated or garbled JSON
    const s = JSON.stringify({ metric: pick(['tps', 'connections', 'top_queries']), database: pick(hostile) });
    return Buffer.from(s.slice(0, Math.floor(rand() * s.length)));
  }
  if (kind < 0.25) {
    return Buffer.from(pick(['null', '1', '"tps"', '[]', 'true', '\u0000', '{}{}', '{"a":1}x']));
  }
  if (kind < 0.3) {
    return Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256)));
  }
  const o: Record<string, unknown> = {};
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    o[pick(keys)] = pick(values);
  }
  if (rand() < 0.7) {
    o.metric = pick(['tps', 'connections', 'top_queries', ...hostile, 42, null]);
  }
  return Buffer.from(JSON.stringify(o));
}

function randomLong(): string {
  return pick([
    '0',
    '-1',
    '1700000000000',
    '9223372036854775807',
    '-9223372036854775808',
    '8640000000000001',
    String(Math.floor(rand() * 2e12)),
  ]);
}

function randomQuery(i: number) {
  return {
    refId: rand() < 0.1 ? pick(hostile) + i : `R${i}`,
    maxDataPoints: randomLong(),
    intervalMS: randomLong(),
    timeRange: rand() < 0.1 ? undefined : { fromEpochMS: randomLong(), toEpochMS: randomLong() },
    json: randomJson(),
    queryType: rand() < 0.2 ? pick(hostile) : '',
  };
}

let server: GrpcServerHandle;
let client: PluginClient;
let fake: FakeService;

before(async () => {
  fake = new FakeService();
  server = await startGrpcServer(fake, { address: '127.0.0.1:0', token: TOKEN, mode: 'remote' });
  client = new PluginClient(`127.0.0.1:${server.port}`);
});
after(async () => {
  client.close();
  await server.stop();
});

test(`QueryData fuzz: ${ROUNDS} requests, every refId answered, malformed ones with a clear error`, async () => {
  let queries = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const qs = Array.from({ length: 1 + Math.floor(rand() * 8) }, (_, i) => randomQuery(round * 10 + i));
    queries += qs.length;
    const r = await client.unary(client.data, 'QueryData', {
      pluginContext: pluginContext(TOKEN, { target: pick(['', ...hostile]) }),
      queries: qs,
    });
    for (const q of qs) {
      const a = r.responses[q.refId];
      assert.ok(a, `refId ${q.refId} answered (seed ${SEED}, round ${round})`);
      const parsed = parseDataQuery(q);
      if ('error' in parsed) {
        assert.equal(a.status, 400);
        assert.equal(a.error, parsed.error);
        assert.match(a.error, new RegExp(`^query `));
      } else {
        // well-formed envelope: answered by the (fake) service, with frames or its own error
        assert.ok(a.frames.length > 0 || a.error !== '', `refId ${q.refId}: frames or error`);
      }
    }
  }
  assert.ok(queries >= ROUNDS);
  // the server still answers normally afterwards
  const h = await client.unary(client.health, 'Check', {});
  assert.equal(h.status, 'SERVING');
});

test(`CallResource fuzz: ${ROUNDS * 3} requests, always one JSON answer`, async () => {
  for (let i = 0; i < ROUNDS * 3; i++) {
    const path = pick(['catalog', 'targets', 'databases', 'tables', 'boom', '', '/', ...hostile]);
    const url = `${path}?${pick(['', 'target=' + encodeURIComponent(pick(hostile)), 'database=%ZZ', '&&&=', 'a=1&a=2'])}`;
    const body = rand() < 0.3 ? randomJson() : undefined;
    const ctx = rand() < 0.1 ? pluginContext(pick([undefined, 'wrong'])) : pluginContext(TOKEN);
    const res = await client.stream(client.resource, 'CallResource', {
      pluginContext: ctx,
      path,
      method: pick(['GET', 'POST', '', 'DELETE']),
      url,
      body,
    });
    assert.equal(res.length, 1);
    assert.ok(res[0].code >= 200 && res[0].code <= 599);
    const parsed = JSON.parse(Buffer.from(res[0].body).toString());
    if (res[0].code >= 400) {
      assert.equal(typeof parsed.error, 'string', `clear error for ${path}`);
      assert.doesNotMatch(parsed.error, /hunter2|fuzz-token/);
    }
  }
});
