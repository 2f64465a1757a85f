/**
 * One Grafana, several sidecars: the real plugin entry runs as a child process the way Grafana
 * starts it in local mode (no database of its own: a relay), with two real sidecars (alpha and
 * beta, each sampling a real PostgreSQL under its own target name and token) behind it. Each
 * datasource instance names its sidecar in jsonData.sidecarAddress and carries that sidecar's
 * token in secureJsonData.token:
 * - instance A's QueryData, CallResource and CheckHealth reach sidecar alpha, B's reach beta
 *   (the answers carry what only that sidecar knows: its target name, its configured targets);
 * - a wrong address fails Save & test with a message naming the address and the fix;
 * - neither token appears in any answer, frame or error, nor in the plugin process's logs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { freePort } from '../../../src/sidecar/net';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { PluginClient, dataQuery, pluginContext } from './grpc-client';

const ROOT = resolve(__dirname, '..', '..', '..');
const TOKEN_A = 'alpha-Token-7f3c9e1d2b4a6f80';
const TOKEN_B = 'beta-Token-0a9b8c7d6e5f4321';

let pg: TestPostgres;
let alpha: TestSidecar;
let beta: TestSidecar;
let plugin: ChildProcess;
let client: PluginClient;
let stderr = '';
const seen: string[] = [];

function instance(uid: string, token: string, address: string | undefined) {
  const ctx = pluginContext(token, address === undefined ? {} : { sidecarAddress: address });
  ctx.dataSourceInstanceSettings.uid = uid;
  ctx.dataSourceInstanceSettings.name = uid;
  return ctx;
}

/** every answer is kept to search for the tokens afterwards */
function keep<T>(x: T): T {
  seen.push(
    JSON.stringify(x, (_k, v) =>
      v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('latin1') : v
    )
  );
  return x;
}

async function query(ctx: ReturnType<typeof instance>, model: Record<string, unknown>) {
  const to = Date.now();
  const r = keep(
    await client.unary(client.data, 'QueryData', {
      pluginContext: ctx,
      queries: [dataQuery('A', model, to - 600_000, to + 1000)],
    })
  );
  return r.responses.A as { frames: Buffer[]; error: string; status: number };
}

async function resource(ctx: ReturnType<typeof instance>, path: string) {
  const [res] = keep(
    await client.stream(client.resource, 'CallResource', { pluginContext: ctx, path, method: 'GET', url: path })
  );
  return { code: res.code as number, json: JSON.parse(Buffer.from(res.body).toString()) };
}

async function health(ctx: ReturnType<typeof instance>) {
  return keep(
    await client.unary<{ status: string; message: string }>(client.diagnostics, 'CheckHealth', { pluginContext: ctx })
  );
}

/** the target label of every value field in the answer's frames */
function targetsOf(frames: Buffer[]): string[] {
  const out = new Set<string>();
  for (const f of frames) {
    for (const field of tableFromIPC(f).schema.fields) {
      const labels = field.metadata.get('labels');
      if (labels) {
        out.add(JSON.parse(labels).target);
      }
    }
  }
  return [...out];
}

before(async () => {
  pg = await startPostgres();
  alpha = await startTestSidecar({ targets: [{ name: 'alpha', url: pg.url }], token: TOKEN_A, grpc: true });
  beta = await startTestSidecar({ targets: [{ name: 'beta', url: pg.url }], token: TOKEN_B, grpc: true });
  for (const s of [alpha, beta]) {
    await s.sampleNow();
    await s.sampleNow();
  }
  const env: NodeJS.ProcessEnv = { ...process.env, GF_PLUGIN_LOG_LEVEL: 'debug' };
  for (const k of [
    'DATABASE_URL',
    'PGPULSE_CONFIG',
    'PGPULSE_TOKEN',
    'GF_PLUGIN_DATABASE_URL',
    'GF_PLUGIN_CONFIG',
    'GF_PLUGIN_TOKEN',
  ]) {
    delete env[k];
  }
  plugin = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/sidecar/grafana/plugin-entry.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  plugin.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((ok, fail) => {
    let out = '';
    plugin.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        ok(out.split('\n')[0]);
      }
    });
    plugin.once('exit', (code) => fail(new Error(`plugin exited (${code}) before the handshake: ${stderr}`)));
  });
  const port = /^1\|2\|tcp\|127\.0\.0\.1:(\d+)\|grpc$/.exec(line)?.[1];
  assert.ok(port, `handshake: ${line}`);
  client = new PluginClient(`127.0.0.1:${port}`);
});

after(async () => {
  client?.close();
  if (plugin && plugin.exitCode === null) {
    const exited = new Promise((r) => plugin.once('exit', r));
    plugin.kill('SIGTERM');
    await exited;
  }
  await alpha?.destroy();
  await beta?.destroy();
  await pg?.destroy();
});

test("instance A's calls reach sidecar alpha and B's reach beta, through one plugin process", async () => {
  const a = instance('ds-a', TOKEN_A, alpha.grpcAddress);
  const b = instance('ds-b', TOKEN_B, beta.grpcAddress);

  const qa = await query(a, { metric: 'database_size' });
  const qb = await query(b, { metric: 'database_size' });
  assert.equal(qa.error, '', qa.error);
  assert.equal(qb.error, '', qb.error);
  assert.deepEqual(targetsOf(qa.frames), ['alpha']);
  assert.deepEqual(targetsOf(qb.frames), ['beta']);

  // each sidecar knows only its own target: asking A for beta is answered by alpha, saying so
  const cross = await query(a, { metric: 'database_size', target: 'beta' });
  assert.match(cross.error, /unknown target "beta": configured targets are alpha\b/);

  const ta = await resource(a, 'targets');
  const tb = await resource(b, 'targets');
  assert.equal(ta.code, 200);
  const names = (j: unknown) => [...new Set(JSON.stringify(j).match(/"(alpha|beta)"/g))];
  assert.deepEqual(names(ta.json), ['"alpha"']);
  assert.deepEqual(names(tb.json), ['"beta"']);

  const ha = await health(a);
  const hb = await health(b);
  assert.equal(ha.status, 'OK', ha.message);
  assert.equal(hb.status, 'OK', hb.message);
});

test("each sidecar checks its own token: B's token on A's address is refused by alpha", async () => {
  const h = await health(instance('ds-mixed', TOKEN_B, alpha.grpcAddress));
  assert.equal(h.status, 'ERROR');
  assert.match(h.message, /sidecar token is wrong/);
  const q = await query(instance('ds-mixed', TOKEN_B, alpha.grpcAddress), { metric: 'database_size' });
  assert.match(q.error, /token/);
});

test('a wrong address fails Save & test naming the address and what to check; a malformed one says the format', async () => {
  const port = await freePort();
  const wrong = `127.0.0.1:${port}`;
  const h = await health(instance('ds-wrong', TOKEN_A, wrong));
  assert.equal(h.status, 'ERROR');
  assert.ok(h.message.includes(`cannot reach the sidecar at ${wrong}`), h.message);
  assert.match(h.message, /PGPULSE_GRPC_ADDR/);
  const q = await query(instance('ds-wrong', TOKEN_A, wrong), { metric: 'tps' });
  assert.equal(q.status, 502);
  assert.ok(q.error.includes(wrong), q.error);

  const bad = await health(instance('ds-bad', TOKEN_A, 'http://pgpulse/7701'));
  assert.equal(bad.status, 'ERROR');
  assert.match(bad.message, /sidecar address "http:\/\/pgpulse\/7701" is not host:port/);
});

test('an instance that names no sidecar is told this plugin process runs none and what to set', async () => {
  const h = await health(instance('ds-none', TOKEN_A, undefined));
  assert.equal(h.status, 'ERROR');
  assert.match(h.message, /runs no sidecar of its own.*Sidecar address/);
  const r = await resource(instance('ds-none', TOKEN_A, undefined), 'targets');
  assert.equal(r.code, 400);
  assert.match(r.json.error, /runs no sidecar of its own/);
});

test('the tokens appear in no answer, frame, error or log line of the plugin process', () => {
  assert.ok(seen.length >= 10, 'the answers of the tests above were kept');
  assert.ok(stderr.includes('relay failed'), 'the plugin logged the failed relays (debug level)');
  for (const tok of [TOKEN_A, TOKEN_B]) {
    for (const text of [...seen, stderr]) {
      assert.ok(!text.includes(tok), `a token leaked: ${text.slice(0, 300)}`);
    }
  }
});

test('in remote mode (Grafana talks to the sidecar directly) a datasource that names another sidecar is told to clear it or switch to local mode', async () => {
  const direct = new PluginClient(alpha.grpcAddress);
  try {
    const h = keep(
      await direct.unary<{ status: string; message: string }>(direct.diagnostics, 'CheckHealth', {
        pluginContext: instance('ds-remote', TOKEN_A, beta.grpcAddress),
      })
    );
    assert.equal(h.status, 'ERROR');
    assert.ok(h.message.includes(`sidecarAddress ${beta.grpcAddress}`), h.message);
    assert.match(h.message, /mode = local/);
  } finally {
    direct.close();
  }
});
