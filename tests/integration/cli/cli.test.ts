/**
 * The pgpulse command as a user runs it (bin/pgpulse.js on the compiled build).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before, test } from 'node:test';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/pgpulse.js');

before(() => {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.sidecar.json'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });

test('help and unknown commands', () => {
  const h = run(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /serve/);
  assert.match(h.stdout, /demo/);
  const u = run(['frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command "frobnicate"/);
});

test('serve without a target says what to set, exit 2', () => {
  const r = run(['serve']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /No target configured: set DATABASE_URL/);
});

test('serve with a malformed config file names the fields, never the password', () => {
  const f = join(mkdtempSync(join(tmpdir(), 'pgpulse-cli-')), 'bad.yaml');
  writeFileSync(f, 'targets:\n  - name: x\n    url: "postgres://u:hunter2@h/d"\n    interval: -5s\n');
  const r = run(['serve'], { PGPULSE_CONFIG: f });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /targets\[0\]\.interval/);
  assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
});

test('serve with a port already in use fails clearly', async () => {
  const net = await import('node:net');
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const r = run(['serve'], { DATABASE_URL: 'postgres://127.0.0.1:1/x', PGPULSE_TOKEN: 't', PGPULSE_HTTP_ADDR: `127.0.0.1:${port}`, PGPULSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pgpulse-cli-')) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /address already in use/);
  } finally {
    srv.close();
  }
});
