import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/sidecar/grafana/server';
import { FakeService, FAKE_METRICS, fakeValue } from './fake-service';
import { PluginClient, dataQuery, pluginContext } from './grpc-client';

const TOKEN = 'sidecar-token-0123456789';
const logLines: string[] = [];
const logger = {
  debug: (m: string, f?: object) => logLines.push(JSON.stringify([m, f])),
  info: (m: string, f?: object) => logLines.push(JSON.stringify([m, f])),
  warn: (m: string, f?: object) => logLines.push(JSON.stringify([m, f])),
  error: (m: string, f?: object) => logLines.push(JSON.stringify([m, f])),
};
let fake: FakeService;
let server: GrpcServerHandle;
let client: PluginClient;
let shutdowns = 0;

const to = Date.UTC(2026, 0, 1, 12, 0, 0);
const from = to - 5 * 60_000;

before(async () => {
  fake = new FakeService();
  server = await startGrpcServer(fake, {
    address: '127.0.0.1:0',
    token: TOKEN,
    mode: 'remote',
    logger,
    onShutdown: () => shutdowns++,
  });
  client = new PluginClient(`127.0.0.1:${server.port}`);
});

after(async () => {
  client.close();
  await server.stop();
  assert.ok(!logLines.some((l) => l.includes(TOKEN)), 'the token never reaches the log');
});

test('grpc.health.v1 Check answers SERVING', async () => {
  const r = await client.unary(client.health, 'Check', { service: 'plugin' });
  assert.equal(r.status, 'SERVING');
});

test('QueryData: series as Arrow, every refId answered, per-query time range, jsonData.target passed on, alert queries (FromAlert) served like panel queries', async () => {
  const later = to + 3_600_000;
  const r = await client.unary(client.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN, { target: 'prod' }),
    headers: { FromAlert: 'true' },
    queries: [
      dataQuery('A', { metric: 'tps', database: 'app' }, from, to),
      dataQuery('B', { metric: 'connections' }, from, to),
      dataQuery('C', { metric: 'tps' }, from + 60_000, later),
      dataQuery('D', { metric: 'nope' }, from, to),
    ],
  });
  assert.deepEqual(Object.keys(r.responses).sort(), ['A', 'B', 'C', 'D']);
  // two distinct ranges → two service calls, each with its own from/to
  assert.equal(fake.calls.length, 2);
  const ranges = fake.calls.map((c) => [c.req.from, c.req.to, c.req.intervalMs, c.req.maxDataPoints]).sort();
  assert.deepEqual(
    ranges,
    [
      [from, to, 15000, 500],
      [from + 60_000, later, 15000, 500],
    ].sort()
  );
  for (const c of fake.calls) {
    const { signal, ...ctx } = c.ctx;
    // alert queries need nothing special: the context carries only the datasource's target
    assert.deepEqual(ctx, { defaultTarget: 'prod' });
    assert.ok(signal instanceof AbortSignal, 'the call carries a signal that stops work when Grafana cancels it');
  }
  const a = r.responses.A;
  assert.equal(a.error, '');
  assert.equal(a.frames.length, 1);
  const t = tableFromIPC(a.frames[0]);
  assert.equal(t.schema.metadata.get('refId'), 'A');
  assert.equal(JSON.parse(t.schema.metadata.get('meta')!).type, 'timeseries-multi');
  const times = [...(t.getChild('time')!.data[0].values as BigInt64Array)].map((ns) => Number(ns / 1_000_000n));
  const values = t.getChild('value')!.toArray() as Float64Array;
  times.forEach((ms, i) => {
    if (i !== 1) {
      assert.equal(values[i], fakeValue(ms, 'app'));
    }
  });
  assert.equal(t.getChild('value')!.get(1), null);
  assert.equal(r.responses.C.frames.length, 2, 'one frame per series');
  assert.equal(r.responses.D.status, 400);
  assert.match(r.responses.D.error, /unknown metric "nope"/);
  assert.equal(r.responses.D.errorSource, 'plugin');
  assert.equal(r.responses.B.format, 'ARROW');
});

test('QueryData: bad JSON, wrong shape and bad ranges get a clear error for that refId only', async () => {
  fake.calls = [];
  const r = await client.unary(client.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN),
    queries: [
      dataQuery('ok', { metric: 'connections' }, from, to),
      dataQuery('badjson', '{"metric": "tps",', from, to),
      dataQuery('array', '[1,2]', from, to),
      dataQuery('empty', '', from, to),
      dataQuery('backwards', { metric: 'tps' }, to, from),
      { refId: 'norange', json: Buffer.from('{"metric":"tps"}') },
    ],
  });
  assert.equal(r.responses.ok.error, '');
  assert.match(r.responses.badjson.error, /query badjson: the query model is not valid JSON/);
  assert.match(r.responses.array.error, /must be a JSON object.*got an array/);
  assert.match(r.responses.empty.error, /query model is empty/);
  assert.match(r.responses.backwards.error, /starts after it ends/);
  assert.match(r.responses.norange.error, /timeRange/);
  for (const k of ['badjson', 'array', 'empty', 'backwards', 'norange']) {
    assert.equal(r.responses[k].status, 400, k);
    assert.equal(r.responses[k].errorSource, 'plugin', k);
  }
  assert.equal(fake.calls.length, 1);
  assert.equal(fake.calls[0].req.queries.length, 1);
});

test('QueryData: a failing service answers every refId of its group with a redacted 500', async () => {
  fake.failNextQuery = true;
  const r = await client.unary(client.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN),
    queries: [dataQuery('A', { metric: 'tps' }, from, to), dataQuery('B', { metric: 'connections' }, from, to)],
  });
  for (const k of ['A', 'B']) {
    assert.equal(r.responses[k].status, 500);
    assert.match(r.responses[k].error, /store is locked/);
    assert.doesNotMatch(r.responses[k].error, /secret/);
  }
});

test('QueryData: JSON frames only when the request asks for them', async () => {
  const r = await client.unary(client.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN),
    format: 'JSON',
    queries: [dataQuery('A', { metric: 'top_queries' }, from, to)],
  });
  assert.equal(r.responses.A.format, 'JSON');
  const frame = JSON.parse(Buffer.from(r.responses.A.frames[0]).toString());
  assert.deepEqual(frame.data.values[0], ['SELECT $1', 'UPDATE t SET x = $1']);
  assert.equal(frame.schema.refId, 'A');
});

for (const [name, token] of [
  ['missing', undefined],
  ['empty', ''],
  ['wrong', 'not-the-token'],
] as const) {
  test(`auth: ${name} token refused on QueryData, CheckHealth, CallResource, CollectMetrics`, async () => {
    fake.calls = [];
    const q = await client.unary(client.data, 'QueryData', {
      pluginContext: pluginContext(token),
      queries: [dataQuery('A', { metric: 'tps' }, from, to), dataQuery('B', '{bad', from, to)],
    });
    for (const k of ['A', 'B']) {
      assert.equal(q.responses[k].status, 401);
      assert.equal(q.responses[k].errorSource, 'plugin');
      assert.match(q.responses[k].error, /secure settings/);
    }
    assert.equal(fake.calls.length, 0, 'the service is never called');
    const h = await client.unary(client.diagnostics, 'CheckHealth', { pluginContext: pluginContext(token) });
    assert.equal(h.status, 'ERROR');
    assert.match(h.message, name === 'wrong' ? /token is wrong/ : /sends no sidecar token/);
    const res = await client.stream(client.resource, 'CallResource', {
      pluginContext: pluginContext(token),
      path: 'catalog',
      method: 'GET',
      url: 'catalog',
    });
    assert.equal(res.length, 1);
    assert.equal(res[0].code, 401);
    assert.match(JSON.parse(Buffer.from(res[0].body).toString()).error, /token/);
    await assert.rejects(
      client.unary(client.diagnostics, 'CollectMetrics', { pluginContext: pluginContext(token) }),
      /token/
    );
  });
}

test('CheckHealth: status, message and jsonDetails from the service, target from jsonData', async () => {
  const ok = await client.unary(client.diagnostics, 'CheckHealth', {
    pluginContext: pluginContext(TOKEN, { target: 'prod' }),
  });
  assert.equal(ok.status, 'OK');
  assert.match(ok.message, /PostgreSQL 15.4/);
  assert.equal(JSON.parse(Buffer.from(ok.jsonDetails).toString()).target, 'prod');
  const down = await client.unary(client.diagnostics, 'CheckHealth', {
    pluginContext: pluginContext(TOKEN, { target: 'down' }),
  });
  assert.equal(down.status, 'ERROR');
  assert.match(down.message, /unreachable/);
});

test('CollectMetrics returns the Prometheus text', async () => {
  const m = await client.unary(client.diagnostics, 'CollectMetrics', { pluginContext: pluginContext(TOKEN) });
  assert.equal(Buffer.from(m.metrics.prometheus).toString(), await fake.metricsText());
});

test('CallResource: JSON body, content type, query params from the url, errors as JSON', async () => {
  const call = (path: string, url: string, body?: string) =>
    client.stream(client.resource, 'CallResource', {
      pluginContext: pluginContext(TOKEN, { target: 'prod' }),
      path,
      method: body ? 'POST' : 'GET',
      url,
      body: body ? Buffer.from(body) : undefined,
    });
  const [cat] = await call('catalog', 'catalog');
  assert.equal(cat.code, 200);
  assert.deepEqual(cat.headers['Content-Type'].values, ['application/json']);
  assert.deepEqual(JSON.parse(Buffer.from(cat.body).toString()).metrics, FAKE_METRICS);
  await call('/databases/', '/api/datasources/uid/x/resources/databases?target=prod&schema=public%20x');
  const last = fake.resourceCalls.at(-1)!;
  assert.equal(last.path, 'databases');
  assert.deepEqual(last.params, { target: 'prod', schema: 'public x' });
  assert.equal((last.ctx as { defaultTarget: string }).defaultTarget, 'prod');
  const [missing] = await call('nope', 'nope');
  assert.equal(missing.code, 404);
  const [boom] = await call('boom', 'boom');
  assert.equal(boom.code, 500);
  assert.doesNotMatch(Buffer.from(boom.body).toString(), /hunter2/);
  const [badBody] = await call('catalog', 'catalog', '{oops');
  assert.equal(badBody.code, 400);
  assert.match(JSON.parse(Buffer.from(badBody.body).toString()).error, /not valid JSON/);
});

test('QueryChunkedData answers one 501 and ends', async () => {
  const msgs = await client.stream(client.data, 'QueryChunkedData', {
    pluginContext: pluginContext(TOKEN),
    queries: [],
  });
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].status, 501);
});

test('Shutdown is a no-op in remote mode', async () => {
  await client.unary(client.controller, 'Shutdown', {});
  await new Promise((r) => setImmediate(r));
  assert.equal(shutdowns, 0);
  const r = await client.unary(client.health, 'Check', {});
  assert.equal(r.status, 'SERVING');
});

test('Shutdown calls onShutdown (once) in local mode', async () => {
  let n = 0;
  // this test process plays Grafana, the process that started the plugin
  const local = await startGrpcServer(new FakeService(), {
    address: '127.0.0.1:0',
    token: TOKEN,
    mode: 'local',
    onShutdown: () => n++,
    shutdownFromPid: process.pid,
  });
  const c = new PluginClient(`127.0.0.1:${local.port}`);
  await c.unary(c.controller, 'Shutdown', {});
  await c.unary(c.controller, 'Shutdown', {});
  await new Promise((r) => setImmediate(r));
  assert.equal(n, 1);
  c.close();
  await local.stop();
});

test('local mode: Shutdown from a process that did not start the plugin is refused', async () => {
  let n = 0;
  // default: only the parent process (Grafana) may stop the plugin; this process is not its parent
  const local = await startGrpcServer(new FakeService(), {
    address: '127.0.0.1:0',
    token: TOKEN,
    mode: 'local',
    onShutdown: () => n++,
  });
  const c = new PluginClient(`127.0.0.1:${local.port}`);
  await assert.rejects(
    c.unary(c.controller, 'Shutdown', {}),
    (e: Error & { code?: number }) => e.code === 7 && /only from the process that started the plugin/.test(e.message)
  );
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(n, 0);
  const r = await c.unary(c.health, 'Check', {});
  assert.equal(r.status, 'SERVING');
  c.close();
  await local.stop();
});

test('requests over 4 MiB are refused by size before anything is decoded, with or without the token', async () => {
  const body = Buffer.alloc(6 * 1024 * 1024, 0x61);
  for (const tok of [undefined, TOKEN]) {
    await assert.rejects(
      client.unary(client.data, 'QueryData', {
        pluginContext: pluginContext(tok),
        queries: [dataQuery('A', { metric: 'tps', pad: body.toString() }, from, to)],
      }),
      (e: Error & { code?: number }) => e.code === 8 // RESOURCE_EXHAUSTED
    );
  }
  const r = await client.unary(client.health, 'Check', {});
  assert.equal(r.status, 'SERVING');
});

test('QueryData: more queries than the HTTP API allows, empty and duplicate refIds are answered explicitly', async () => {
  const many = Array.from({ length: 101 }, (_, i) => dataQuery(`R${i}`, { metric: 'tps' }, from, to));
  const r1 = await client.unary(client.data, 'QueryData', { pluginContext: pluginContext(TOKEN), queries: many });
  assert.equal(Object.keys(r1.responses).length, 101);
  for (const a of Object.values(r1.responses) as Array<{ status: number; error: string }>) {
    assert.equal(a.status, 400);
    assert.match(a.error, /at most 100 per request/);
  }
  const r2 = await client.unary(client.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN),
    queries: [
      dataQuery('', { metric: 'tps' }, from, to),
      dataQuery('D', { metric: 'tps' }, from, to),
      dataQuery('D', { metric: 'tps' }, from - 1000, to),
      dataQuery('OK', { metric: 'tps' }, from, to),
    ],
  });
  assert.equal(r2.responses[''].status, 400);
  assert.match(r2.responses[''].error, /empty refId/);
  assert.equal(r2.responses.D.status, 400);
  assert.match(r2.responses.D.error, /refId D is used by 2 queries/);
  assert.equal(r2.responses.OK.status, 200, r2.responses.OK.error);
});

test('large answers pass the raised message limit (> 4 MiB)', async () => {
  const big = new FakeService();
  big.query = async (req) => ({
    A: {
      frames: [
        {
          name: 'big',
          meta: { type: 'table' },
          fields: [{ name: 's', type: 'string', values: Array.from({ length: 6000 }, (_, i) => 'x'.repeat(1000) + i) }],
        },
      ],
    },
  });
  const s = await startGrpcServer(big, { address: '127.0.0.1:0', token: TOKEN, mode: 'remote' });
  const c = new PluginClient(`127.0.0.1:${s.port}`);
  const r = await c.unary(c.data, 'QueryData', {
    pluginContext: pluginContext(TOKEN),
    queries: [dataQuery('A', { metric: 'x' }, from, to)],
  });
  assert.equal(tableFromIPC(r.responses.A.frames[0]).numRows, 6000);
  c.close();
  await s.stop();
});
