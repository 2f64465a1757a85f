/**
 * Auth matrix: every route of the HTTP API and every gRPC method, with every near-miss of the
 * token (missing, empty, wrong, one character short or long, other case, padded, another scheme,
 * in the query string), is refused — and nothing leaks: no data in the answer, no action audited.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { PluginClient, dataQuery, pluginContext } from '../grafana/grpc-client';

const TOKEN = 'Auth-Matrix-Token-0123456789abcdef';
let sc: TestSidecar;
let client: PluginClient;

before(async () => {
  // no sampling: the matrix is about the door, not the data behind it
  sc = await startTestSidecar({ url: 'postgres://nobody@127.0.0.1:1/none', token: TOKEN, sampling: false, grpc: true });
  client = new PluginClient(sc.grpcAddress);
});
after(async () => {
  client?.close();
  await sc?.destroy();
});

const nearMisses: Array<[string, string | undefined]> = [
  ['missing', undefined],
  ['empty', ''],
  ['wrong', 'not-the-token'],
  ['one character short', TOKEN.slice(0, -1)],
  ['one character long', TOKEN + 'x'],
  ['other case', TOKEN.toUpperCase()],
  ['padded inside', TOKEN.slice(0, 10) + ' ' + TOKEN.slice(10)],
  ['prefix only', TOKEN.slice(0, 8)],
];

const httpRoutes: Array<[string, string, unknown?]> = [
  ['POST', '/api/v1/query', { queries: [{ refId: 'A', metric: 'tps' }] }],
  ['GET', '/api/v1/catalog'],
  ['GET', '/api/v1/health'],
  ['GET', '/metrics'],
  ['GET', '/api/v1/resources/targets'],
  ['GET', '/api/v1/resources/databases'],
  ['GET', '/api/v1/resources/queryids'],
  ['GET', '/api/v1/resources/events'],
  ['GET', '/api/v1/resources/actions'],
  ['POST', '/api/v1/resources/actions', { action: 'vacuum', table: 'public.t', dryRun: false }],
];

function audited(): number {
  return (sc.sidecar.store.db.prepare('SELECT count(*) AS n FROM action_audit').get() as { n: number }).n;
}

test('HTTP: every route refuses every near-miss of the token with 401 and no data', async () => {
  const before0 = audited();
  const headerVariants: Array<[string, Record<string, string>, string]> = [
    ...nearMisses.map(
      ([name, tok]) =>
        [name, tok === undefined ? {} : { authorization: `Bearer ${tok}` }, ''] as [
          string,
          Record<string, string>,
          string,
        ]
    ),
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, ''],
    ['token scheme', { authorization: `Token ${TOKEN}` }, ''],
    ['query string', {}, `token=${TOKEN}`],
    ['X-header', { 'x-pgpulse-token': TOKEN }, ''],
  ];
  let n = 0;
  for (const [method, path, body] of httpRoutes) {
    for (const [name, headers, qs] of headerVariants) {
      const res = await fetch(`${sc.baseUrl}${path}${qs ? `?${qs}` : ''}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      assert.equal(res.status, 401, `${method} ${path} with ${name}: ${text.slice(0, 200)}`);
      assert.deepEqual(Object.keys(JSON.parse(text)), ['error'], `${method} ${path} with ${name}: only an error`);
      assert.ok(!text.includes(TOKEN), 'the token is never echoed');
      n++;
    }
  }
  assert.equal(n, httpRoutes.length * headerVariants.length);
  assert.equal(audited(), before0, 'no action was audited or run');
  // the right token opens the same door (the matrix can fail)
  const ok = await sc.get('/api/v1/catalog');
  assert.equal(ok.status, 200);
});

test('gRPC: QueryData, CheckHealth, CallResource (GET and POST actions) and CollectMetrics refuse every near-miss', async () => {
  const before0 = audited();
  const now = Date.now();
  for (const [name, tok] of nearMisses) {
    const ctx = { ...pluginContext(tok), user: { login: 'admin', role: 'Admin' } };
    const q = await client.unary(client.data, 'QueryData', {
      pluginContext: ctx,
      queries: [dataQuery('A', { metric: 'tps' }, now - 60_000, now)],
    });
    assert.equal(q.responses.A.status, 401, `QueryData with ${name}`);
    assert.equal(q.responses.A.frames.length, 0);
    const h = await client.unary(client.diagnostics, 'CheckHealth', { pluginContext: ctx });
    assert.equal(h.status, 'ERROR', `CheckHealth with ${name}`);
    for (const [method, path, body] of [
      ['GET', 'queryids', undefined],
      ['POST', 'actions', { action: 'vacuum', table: 'public.t', dryRun: false }],
    ] as const) {
      const [res] = await client.stream(client.resource, 'CallResource', {
        pluginContext: ctx,
        path,
        method,
        url: path,
        body: body ? Buffer.from(JSON.stringify(body)) : undefined,
      });
      assert.equal(res.code, 401, `CallResource ${method} ${path} with ${name}`);
      assert.ok(!Buffer.from(res.body).toString().includes(TOKEN));
    }
    await assert.rejects(
      client.unary(client.diagnostics, 'CollectMetrics', { pluginContext: ctx }),
      /token/,
      `CollectMetrics with ${name}`
    );
  }
  assert.equal(audited(), before0, 'no action was audited or run');
  const ok = await client.unary(client.diagnostics, 'CheckHealth', { pluginContext: pluginContext(TOKEN) });
  assert.doesNotMatch(ok.message, /token/, 'the right token is let in (the answer is about the target)');
});
