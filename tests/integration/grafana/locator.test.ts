/**
 * The locator script as Grafana runs it: a clean environment (Grafana >= 12.4 passes no PATH),
 * only GF_PLUGIN_* settings, under Debian's dash and under busybox (with busybox's own nc, as in
 * the stock Alpine Grafana image).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PluginClient, pluginContext } from './grpc-client';

const LOCATOR = resolve(__dirname, '../../../src/sidecar/grafana/locator.sh');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const children: ChildProcess[] = [];

let busyboxPath = '';
before(() => {
  if (BUSYBOX) {
    // a PATH with only busybox applets first, so the script finds busybox nc/sleep/date/sed/tr
    busyboxPath = mkdtempSync(join(tmpdir(), 'pgpulse-bb-'));
    for (const applet of ['nc', 'sleep', 'date', 'sed', 'tr', 'sh']) {
      symlinkSync(BUSYBOX, join(busyboxPath, applet));
    }
  }
});

after(() => {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill('SIGKILL');
    }
  }
});

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((res) => {
    const server = createServer((s) => s.on('error', () => undefined));
    server.listen(0, '127.0.0.1', () => res({ server, port: (server.address() as { port: number }).port }));
  });
}

function freePort(): Promise<number> {
  return listen().then(({ server, port }) => new Promise((res) => server.close(() => res(port))));
}

interface Run {
  child: ChildProcess;
  firstLine: Promise<string>;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(shell: string[], env: Record<string, string>): Run {
  const child = spawn(shell[0], [...shell.slice(1), LOCATOR], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  let out = '';
  const firstLine = new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        res(out.slice(0, nl));
      }
    });
    child.on('exit', () => rej(new Error(`locator exited before the handshake: ${err}`)));
  });
  firstLine.catch(() => undefined);
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, firstLine, stderr: () => err, exited };
}

const shells: Array<[string, string[], () => Record<string, string>]> = [
  ['dash (Debian /bin/sh, bash /dev/tcp probe)', ['/bin/sh'], () => ({})],
  ...(BUSYBOX
    ? [
        ['busybox ash + busybox nc', [BUSYBOX, 'sh'], () => ({ PATH: busyboxPath })] as [
          string,
          string[],
          () => Record<string, string>,
        ],
      ]
    : []),
];

for (const [name, shell, baseEnv] of shells) {
  test(`${name}: remote mode prints the handshake with the sidecar address first and stays alive`, async () => {
    const { server, port } = await listen();
    const r = run(shell, { ...baseEnv(), GF_PLUGIN_SIDECAR_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(await r.firstLine, `1|2|tcp|127.0.0.1:${port}|grpc`);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.child.exitCode, null, 'still running after the handshake');
    for (const line of r.stderr().trim().split('\n').filter(Boolean)) {
      const j = JSON.parse(line);
      assert.ok(j['@level'] && j['@message'] && !('@timestamp' in j));
    }
    r.child.kill('SIGKILL');
    server.close();
  });

  test(`${name}: waits for a sidecar that starts later`, async () => {
    const port = await freePort();
    const r = run(shell, { ...baseEnv(), GF_PLUGIN_SIDECAR_ADDRESS: `127.0.0.1:${port}` });
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(r.child.exitCode, null);
    const server = createServer();
    await new Promise<void>((res) => server.listen(port, '127.0.0.1', () => res()));
    assert.equal(await r.firstLine, `1|2|tcp|127.0.0.1:${port}|grpc`);
    assert.match(r.stderr(), /waiting for the pgpulse sidecar/);
    r.child.kill('SIGKILL');
    server.close();
  });

  test(`${name}: gives up with a clear hclog error when the sidecar never answers`, async () => {
    const port = await freePort();
    const r = run(shell, { ...baseEnv(), GF_PLUGIN_SIDECAR_ADDRESS: `127.0.0.1:${port}`, GF_PLUGIN_WAIT_SECONDS: '2' });
    assert.equal(await r.exited, 1);
    const last = JSON.parse(r.stderr().trim().split('\n').at(-1)!);
    assert.equal(last['@level'], 'error');
    assert.match(last['@message'], new RegExp(`sidecar at 127.0.0.1:${port} did not accept connections within 2 s`));
    assert.match(last['@message'], /GF_PLUGIN_SIDECAR_ADDRESS/);
  });
}

test('bad sidecar_address and bad mode are refused with a message naming the setting', () => {
  for (const [env, re] of [
    [{ GF_PLUGIN_SIDECAR_ADDRESS: 'sidecar' }, /not host:port/],
    [{ GF_PLUGIN_SIDECAR_ADDRESS: ':7701' }, /has no host/],
    [{ GF_PLUGIN_SIDECAR_ADDRESS: 'h:77x' }, /not host:port/],
    [{ GF_PLUGIN_MODE: 'weird' }, /mode must be 'remote' or 'local'/],
    [{ GF_PLUGIN_MODE: 'local', GF_PLUGIN_NODE_PATH: 'node' }, /absolute path/],
    [{ GF_PLUGIN_MODE: 'local', GF_PLUGIN_NODE_PATH: '/nonexistent/node' }, /no executable node/],
    [
      { GF_PLUGIN_MODE: 'local', GF_PLUGIN_NODE_PATH: process.execPath, GF_PLUGIN_SIDECAR_ENTRY: '/nonexistent.js' },
      /sidecar entry \/nonexistent.js not found/,
    ],
  ] as Array<[Record<string, string>, RegExp]>) {
    const r = spawnSync('/bin/sh', [LOCATOR], { env, encoding: 'utf8' });
    assert.equal(r.status, 1, JSON.stringify(env));
    assert.equal(r.stdout, '');
    assert.match(JSON.parse(r.stderr.trim())['@message'] ?? '', re);
  }
});

test('local mode refuses a node older than 22, or one that reports no version, naming node_path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-oldnode-'));
  // what `node -p process.versions.node` prints on an end-of-life Node 20 host
  const old = join(dir, 'node');
  writeFileSync(old, '#!/bin/sh\necho 20.20.2\n', { mode: 0o755 });
  const cases: Array<[string, RegExp]> = [
    [old, new RegExp(`${old} is Node 20\\.20\\.2, pgpulse needs Node 22 or newer`)],
    ['/bin/true', /\/bin\/true did not report a Node version/],
  ];
  // the machine's own node too, when it is an old one (CI hosts keep Debian's Node 20 as /usr/bin/node)
  const system = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
  if (system.status === 0 && Number(system.stdout.split('.')[0]) < 22) {
    cases.push([
      '/usr/bin/node',
      new RegExp(`is Node ${system.stdout.trim().replace(/\./g, '\\.')}, pgpulse needs Node 22`),
    ]);
  }
  for (const [node, re] of cases) {
    const r = spawnSync('/bin/sh', [LOCATOR], {
      env: {
        GF_PLUGIN_MODE: 'local',
        GF_PLUGIN_NODE_PATH: node,
        GF_PLUGIN_SIDECAR_ENTRY: resolve(__dirname, 'fake-plugin-entry.cjs'),
      },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, node);
    assert.equal(r.stdout, '');
    const msg = JSON.parse(r.stderr.trim())['@message'] as string;
    assert.match(msg, re);
    assert.match(msg, /GF_PLUGIN_NODE_PATH/);
  }
});

test('local mode: execs node on the plugin entry; handshake first, hclog on stderr, SIGINT ignored, exits on Shutdown', async () => {
  const token = 'local-token-xyz';
  const r = run(['/bin/sh'], {
    GF_PLUGIN_MODE: 'local',
    GF_PLUGIN_NODE_PATH: process.execPath,
    GF_PLUGIN_SIDECAR_ENTRY: resolve(__dirname, 'fake-plugin-entry.cjs'),
    GF_PLUGIN_TOKEN: token,
  });
  const line = await r.firstLine;
  const m = /^1\|2\|tcp\|127\.0\.0\.1:(\d+)\|grpc$/.exec(line);
  assert.ok(m, line);
  const client = new PluginClient(`127.0.0.1:${m![1]}`);
  const h = await client.unary(client.diagnostics, 'CheckHealth', { pluginContext: pluginContext(token) });
  assert.equal(h.status, 'OK');
  r.child.kill('SIGINT');
  const again = await client.unary(client.health, 'Check', {});
  assert.equal(again.status, 'SERVING', 'SIGINT is ignored');
  await client.unary(client.controller, 'Shutdown', {});
  assert.equal(await r.exited, 0);
  client.close();
  assert.match(r.stderr(), /noise that must go to stderr/);
  const hclog = r
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  assert.ok(hclog.some((j) => j['@message'] === 'fake sidecar started' && j['@level'] === 'info'));
  assert.ok(!r.stderr().includes(token), 'the token is never logged');
});
