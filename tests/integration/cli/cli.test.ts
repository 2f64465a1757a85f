/**
 * The pgpulse command as a user runs it (bin/pgpulse.js on the compiled build).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const root = resolve(__dirname, '../../..');
const bin = join(root, 'bin/pgpulse.js');

// the file's temp directories under one, removed at the end (each test's pgpulse-cli-* was left behind)
const temp = mkdtempSync(join(tmpdir(), 'pgpulse-cli-'));
after(() => rmSync(temp, { recursive: true, force: true }));
const tempDir = () => mkdtempSync(join(temp, 'case-'));

before(() => {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.sidecar.json'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 20_000,
  });

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
  const f = join(tempDir(), 'bad.yaml');
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
    const r = run(['serve'], {
      DATABASE_URL: 'postgres://127.0.0.1:1/x',
      PGPULSE_TOKEN: 't',
      PGPULSE_HTTP_ADDR: `127.0.0.1:${port}`,
      PGPULSE_DATA_DIR: tempDir(),
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /address already in use/);
  } finally {
    srv.close();
  }
});

test('every command has --help with examples and exit codes, and --help never runs the command', () => {
  for (const cmd of ['demo', 'serve', 'top', 'doctor', 'advise', 'report', 'act']) {
    for (const args of [
      [cmd, '--help'],
      [cmd, '-h'],
      ['help', cmd],
    ]) {
      const r = run(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: pgpulse ${cmd}`), args.join(' '));
      assert.match(r.stdout, /\nexamples:\n/, args.join(' '));
      assert.match(r.stdout, /exit codes: 0 /, args.join(' '));
      assert.equal(r.stderr, '', `${args.join(' ')} is quiet on stderr`);
    }
  }
  // anywhere on the line, before options that would otherwise be rejected or acted on
  const late = run(['report', '--format', 'pdf', '--help']);
  assert.equal(late.status, 0);
  assert.match(late.stdout, /^usage: pgpulse report/);
  const top = run(['--help']);
  assert.match(top.stdout, /exit codes: 0 ok · 1 findings or failure · 2 usage/);
  const none = run([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^usage: pgpulse <command>/);
  assert.equal(run(['help', 'nope']).status, 2);
  assert.equal(run(['demo', 'extra']).status, 2);
});

/**
 * `pgpulse serve --insecure-no-auth` as a child process (loopback, no database reachable), with its
 * stderr; `serving()` waits for its "pgpulse serving" line, `stop()` ends it and asserts a clean exit.
 */
async function spawnServe(nodeArgs: string[], env: Record<string, string>) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...nodeArgs, bin, 'serve', '--insecure-no-auth'], {
    env: { PATH: process.env.PATH ?? '', PGPULSE_LOG_LEVEL: 'silent', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return {
    child,
    stderr: () => stderr,
    serving: async () => {
      for (let i = 0; i < 300 && !stderr.includes('pgpulse serving'); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    stop: async () => {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    },
  };
}

test('serve refuses to start without a token; --insecure-no-auth is loopback-only and loud', async () => {
  const dir = tempDir();
  const base = { DATABASE_URL: 'postgres://127.0.0.1:1/x', PGPULSE_DATA_DIR: dir };
  const r = run(['serve'], base);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /pgpulse serve: no token/);
  assert.match(r.stderr, /export PGPULSE_TOKEN=\$\(openssl rand -hex 16\)/);
  const wide = run(['serve', '--insecure-no-auth'], { ...base, PGPULSE_HTTP_ADDR: '0.0.0.0:7700' });
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /loopback addresses only, not 0\.0\.0\.0:7700/);
  const both = run(['serve', '--insecure-no-auth'], { ...base, PGPULSE_TOKEN: 't' });
  assert.equal(both.status, 2);
  const missing = run(['serve'], { ...base, PGPULSE_TOKEN_FILE: join(dir, 'absent') });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /PGPULSE_TOKEN_FILE=.*absent cannot be read \(ENOENT\)/);

  const net = await import('node:net');
  const port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const serve = await spawnServe([], {
    ...base,
    PGPULSE_HTTP_ADDR: `127.0.0.1:${port}`,
    PGPULSE_GRPC_ADDR: '127.0.0.1:0',
  });
  try {
    await serve.serving();
    assert.match(serve.stderr(), /WARNING: --insecure-no-auth/);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/resources/targets`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      ((await res.json()) as { items: Array<{ value: string }> }).items.map((i) => i.value),
      ['default']
    );
  } finally {
    await serve.stop();
  }
});

test('serve re-executes itself in place with its memory flags; node flags or PGPULSE_NODE_FLAGS given by the user win', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = tempDir();
  /** the glibc malloc settings each serving process started with */
  const malloc: string[][] = [];
  /** the node flags of the process that ends up serving, read from the kernel */
  const servingFlags = async (nodeArgs: string[], env: Record<string, string>) => {
    const base = { DATABASE_URL: 'postgres://127.0.0.1:1/x', PGPULSE_DATA_DIR: dir };
    const serve = await spawnServe(nodeArgs, {
      ...base,
      PGPULSE_HTTP_ADDR: '127.0.0.1:0',
      PGPULSE_GRPC_ADDR: '127.0.0.1:0',
      ...env,
    });
    try {
      await serve.serving();
      assert.match(serve.stderr(), /pgpulse serving/);
      // the pid we started is the one serving: replaced in place, no wrapper process
      const argv = readFileSync(`/proc/${serve.child.pid}/cmdline`, 'utf8').split('\0');
      const environ = readFileSync(`/proc/${serve.child.pid}/environ`, 'utf8').split('\0');
      // MALLOC_CONF is jemalloc's (next test); glibc's are MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ …
      malloc.push(environ.filter((e) => e.startsWith('MALLOC_') && !e.startsWith('MALLOC_CONF=')).sort());
      return argv.slice(1, argv.indexOf(bin));
    } finally {
      await serve.stop();
    }
  };
  assert.deepEqual(await servingFlags([], {}), ['--liftoff-only', '--max-semi-space-size=2']);
  // glibc's malloc settings are left alone: fixed ones cost 250 MB over 25 minutes (docs/benchmarks.md §8.1)
  assert.deepEqual(malloc[0], []);
  assert.deepEqual(await servingFlags(['--max-semi-space-size=16'], {}), ['--max-semi-space-size=16']);
  assert.deepEqual(await servingFlags([], { PGPULSE_NODE_FLAGS: '--max-semi-space-size=4' }), [
    '--max-semi-space-size=4',
  ]);
  assert.deepEqual(await servingFlags([], { PGPULSE_NODE_FLAGS: '' }), []);
  // no gRPC listener at all: says so, and HTTP still serves
  const serve = await spawnServe([], {
    DATABASE_URL: 'postgres://127.0.0.1:1/x',
    PGPULSE_DATA_DIR: dir,
    PGPULSE_HTTP_ADDR: '127.0.0.1:0',
    PGPULSE_GRPC_ADDR: 'off',
  });
  try {
    await serve.serving();
    assert.match(serve.stderr(), /pgpulse serving: HTTP 127\.0\.0\.1:\d+, gRPC off \(PGPULSE_GRPC_ADDR=off\)/);
    const port = /HTTP 127\.0\.0\.1:(\d+)/.exec(serve.stderr())![1];
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  } finally {
    await serve.stop();
  }
});

test('serve runs on jemalloc when it is installed, unless PGPULSE_ALLOCATOR=system', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = tempDir();
  /** whether the process that ends up serving has jemalloc mapped, from the kernel's view of it */
  const mapsJemalloc = async (nodeArgs: string[], env: Record<string, string>) => {
    const serve = await spawnServe(nodeArgs, {
      DATABASE_URL: 'postgres://127.0.0.1:1/x',
      PGPULSE_DATA_DIR: dir,
      PGPULSE_HTTP_ADDR: '127.0.0.1:0',
      PGPULSE_GRPC_ADDR: 'off',
      ...env,
    });
    try {
      await serve.serving();
      assert.match(serve.stderr(), /pgpulse serving/);
      return /\/libjemalloc\.so\.2$/m.test(readFileSync(`/proc/${serve.child.pid}/maps`, 'utf8'));
    } finally {
      await serve.stop();
    }
  };
  assert.equal(
    await mapsJemalloc([], {}),
    true,
    'no jemalloc in the serving process: is libjemalloc2 installed (apt-get install libjemalloc2, as .ci/run does)?'
  );
  // node flags given by the user skip the flag re-exec, not the allocator
  assert.equal(await mapsJemalloc(['--max-semi-space-size=16'], {}), true);
  assert.equal(await mapsJemalloc([], { PGPULSE_ALLOCATOR: 'jemalloc' }), true);
  assert.equal(await mapsJemalloc([], { PGPULSE_ALLOCATOR: 'system' }), false);
  const bad = run(['serve', '--insecure-no-auth'], { PGPULSE_ALLOCATOR: 'tcmalloc', PGPULSE_DATA_DIR: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /PGPULSE_ALLOCATOR=tcmalloc is not one of auto, jemalloc, system/);
});

test('serve tunes jemalloc for a small machine unless the user set MALLOC_CONF', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const dir = tempDir();
  /** MALLOC_CONF of the serving process and its jemalloc background threads (there only when jemalloc read background_thread:true) */
  const jemallocOf = async (env: Record<string, string>) => {
    const serve = await spawnServe([], {
      DATABASE_URL: 'postgres://127.0.0.1:1/x',
      PGPULSE_DATA_DIR: dir,
      PGPULSE_HTTP_ADDR: '127.0.0.1:0',
      PGPULSE_GRPC_ADDR: 'off',
      ...env,
    });
    try {
      await serve.serving();
      const pid = serve.child.pid!;
      const conf = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((e) => e.startsWith('MALLOC_CONF='));
      const threads = readdirSync(`/proc/${pid}/task`).map((t) =>
        readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim()
      );
      return { conf, backgroundThreads: threads.filter((t) => t === 'jemalloc_bg_thd').length };
    } finally {
      await serve.stop();
    }
  };
  const tuned = await jemallocOf({});
  assert.equal(tuned.conf, 'MALLOC_CONF=narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0');
  assert.ok(tuned.backgroundThreads >= 1, 'jemalloc did not start its background thread: MALLOC_CONF not read');
  // the user's setting stands, an empty one too (jemalloc's own defaults: no background thread)
  assert.deepEqual(await jemallocOf({ MALLOC_CONF: '' }), { conf: 'MALLOC_CONF=', backgroundThreads: 0 });
  const own = await jemallocOf({ MALLOC_CONF: 'narenas:1,background_thread:true' });
  assert.equal(own.conf, 'MALLOC_CONF=narenas:1,background_thread:true');
  // glibc's malloc gets no jemalloc setting
  assert.deepEqual(await jemallocOf({ PGPULSE_ALLOCATOR: 'system' }), { conf: undefined, backgroundThreads: 0 });
});

test('one-shot commands with no sidecar and no DATABASE_URL say where they looked, exit 1', async () => {
  const dir = tempDir();
  const net = await import('node:net');
  const port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  for (const cmd of ['advise', 'report']) {
    const r = run([cmd], { PGPULSE_HTTP_ADDR: `127.0.0.1:${port}`, PGPULSE_TOKEN: 'x', PGPULSE_DATA_DIR: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `no running sidecar to ask: nothing answered at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`
      )
    );
    assert.match(r.stderr, /set DATABASE_URL/);
    assert.equal(r.stdout, '');
  }
  const noToken = run(['advise'], { PGPULSE_DATA_DIR: dir });
  assert.equal(noToken.status, 1);
  assert.match(noToken.stderr, /no token: set PGPULSE_TOKEN or PGPULSE_TOKEN_FILE/);
});

test('doctor and act with a --target that is not configured name the configured ones, exit 2, before connecting', () => {
  // port 9 (discard): nothing must try to reach it before the target check
  const env = {
    DATABASE_URL: 'postgres://u@127.0.0.1:9/d',
    PGPULSE_DATA_DIR: tempDir(),
  };
  for (const args of [
    ['doctor', '--target', 'nowhere'],
    ['act', 'cancel', '--target', 'nowhere', '--pid', '1'],
  ]) {
    const r = run(args, env);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`pgpulse ${args[0]}: unknown target "nowhere": configured targets are default`));
  }
});
