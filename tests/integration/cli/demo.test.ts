/**
 * `pgpulse demo` as a person runs it: started in its own process group and stopped the way a
 * terminal's Ctrl-C does (SIGINT to the whole group, PostgreSQL included), five times in a row on
 * one data directory — credentials and history must survive every restart — then the startup
 * failures (port in use, wrong password) must exit 1 with PostgreSQL stopped.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Client } from 'pg';
import { Store } from '../../../src/sidecar/store/store';
import { freePort } from '../../support/pg';

const ROOT = resolve(__dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'pgpulse-demo-'));
chmodSync(dir, 0o755); // as root, PostgreSQL runs as `postgres` and must reach the data directory
const data = join(dir, '.pgpulse');

after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function startDemo(env: Record<string, string>): Run {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL')
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'tests/integration/advisors/run-cli.ts'), 'demo'],
    {
      cwd: ROOT,
      detached: true, // its own process group, like a shell job
      env: { ...clean, PGPULSE_DATA_DIR: data, PGPULSE_INTERVAL: '1s', ...env },
    }
  );
  const run: Run = { child, stdout: '', stderr: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout?.on('data', (d) => (run.stdout += d));
  child.stderr?.on('data', (d) => (run.stderr += d));
  return run;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, run: Run): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await fn()) {
      return;
    }
    if (run.child.exitCode !== null) {
      throw new Error(`the demo exited (${run.child.exitCode}) before ${what}:\n${run.stdout}\n${run.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}:\n${run.stdout}\n${run.stderr}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function okSamples(): { count: number; first: number } {
  const store = Store.open(data);
  try {
    const s = store.samples('default', 'database', 0, Date.now()).filter((x) => x.ok);
    return { count: s.length, first: s[0]?.ts ?? 0 };
  } finally {
    store.close();
  }
}

const noStackTrace = (s: string) => assert.doesNotMatch(s, /\n\s+at |Error:|Unhandled|\{"level"/, s);

test('the demo restarts five times in a row with its credentials and history; Ctrl-C stops everything', async () => {
  let before = { count: 0, first: 0 };
  let password = '';
  let rows = 0;
  for (let i = 0; i < 5; i++) {
    const http = await freePort();
    const started = Date.now();
    const run = startDemo({
      PGPULSE_HTTP_ADDR: `127.0.0.1:${http}`,
      PGPULSE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    });
    try {
      await until('the banner', () => run.stdout.includes('Ctrl-C stops everything'), run);
      const envFile = readFileSync(join(data, 'demo.env'), 'utf8');
      const url = /^DATABASE_URL=(\S+)$/m.exec(envFile)?.[1] as string;
      const pw = decodeURIComponent(new URL(url).password);
      const token = readFileSync(join(data, 'token'), 'utf8').trim();
      assert.equal(statSync(join(data, 'demo.env')).mode & 0o777, 0o600);
      assert.equal(statSync(join(data, 'token')).mode & 0o777, 0o600);
      if (i > 0) {
        assert.equal(pw, password, 'the cluster keeps its password');
      }
      password = pw;
      // the banner names the database (masked) and the commands, never a secret
      assert.match(
        run.stdout,
        new RegExp(`postgres://postgres:\\*\\*\\*\\*@127\\.0\\.0\\.1:${new URL(url).port}/postgres`)
      );
      assert.match(run.stdout, /bin\/pgpulse\.js top/);
      assert.ok(!run.stdout.includes(pw) && !run.stdout.includes(token), 'no password or token in the banner');
      // history: a new sample from this run, with everything from the earlier runs still there
      await until(
        'a sample from this run',
        async () => {
          const r = await fetch(`http://127.0.0.1:${http}/metrics`, {
            headers: { authorization: `Bearer ${token}` },
          }).catch(() => undefined);
          const m = r && /pgpulse_last_sample_timestamp_seconds\{target="default"\} (\d+)/.exec(await r.text());
          return Boolean(m && Number(m[1]) * 1000 >= started - 1000);
        },
        run
      );
      const c = new Client({ connectionString: url });
      await c.connect();
      const n = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM demo_orders')).rows[0].n);
      await c.end();
      assert.ok(n >= rows && n >= 20000, `demo_orders kept its rows: ${n} after ${rows}`);
      rows = n;
      const pid = Number(readFileSync(join(data, 'demo-postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(-(run.child.pid as number), 'SIGINT'); // what Ctrl-C in a terminal does
      assert.equal(await run.exited, 0, run.stderr);
      noStackTrace(run.stderr);
      assert.equal(alive(pid), false, 'PostgreSQL stopped');
      assert.equal(existsSync(join(data, 'demo-postgres', 'postmaster.pid')), false);
      const now = okSamples();
      assert.ok(now.count > before.count, `run ${i + 1}: ${now.count} samples after ${before.count}`);
      if (i > 0) {
        assert.equal(now.first, before.first, 'the first sample is still there');
      }
      before = now;
    } finally {
      if (run.child.exitCode === null) {
        process.kill(-(run.child.pid as number), 'SIGKILL');
      }
    }
  }
});

test('startup failures exit 1 with the cause and leave nothing running', async () => {
  // the HTTP port is taken
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const busy = (srv.address() as { port: number }).port;
  try {
    const run = startDemo({
      PGPULSE_HTTP_ADDR: `127.0.0.1:${busy}`,
      PGPULSE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    });
    assert.equal(await run.exited, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /address already in use/);
    noStackTrace(run.stderr);
    assert.equal(existsSync(join(data, 'demo-postgres', 'postmaster.pid')), false, 'PostgreSQL stopped');
  } finally {
    srv.close();
  }
  // the credentials file no longer matches the cluster
  const envFile = join(data, 'demo.env');
  const good = readFileSync(envFile, 'utf8');
  writeFileSync(envFile, good.replace(/postgres:[^@]+@/, 'postgres:wrong-password@'));
  try {
    const run = startDemo({
      PGPULSE_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
      PGPULSE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    });
    assert.equal(await run.exited, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /refused the password .*authentication failed/);
    assert.match(run.stderr, /does not match the cluster/);
    assert.ok(!run.stderr.includes('wrong-password'), 'the password is not printed');
    noStackTrace(run.stderr);
    assert.equal(existsSync(join(data, 'demo-postgres', 'postmaster.pid')), false, 'PostgreSQL stopped');
  } finally {
    writeFileSync(envFile, good, { mode: 0o600 });
  }
});
