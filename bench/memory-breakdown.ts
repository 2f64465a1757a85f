/**
 * Where the sidecar's memory goes: the compiled `pgpulse serve` process (HTTP + gRPC + sampling +
 * query workers, exactly as users run it) sampling one PostgreSQL 15 target with 5,000
 * pg_stat_statements entries (bench/statements-workload.ts), once as configured by default and
 * then once per variant with one suspect switched off through a setting real users have
 * (an environment variable or a node flag).
 * Memory comes from outside the process: VmRSS / VmHWM from /proc/<pid>/status and the sidecar's
 * own /metrics (pgpulse_nodejs_heap_size_used_bytes, _total_bytes, pgpulse_nodejs_external_memory_bytes).
 * Writes bench/results/memory-breakdown.md.
 *
 * BENCH_CYCLES (default 12) sampling cycles per variant at PGPULSE_INTERVAL=5s; a workload re-runs
 * 10 % of the statements between cycles so counters move. BENCH_VARIANTS (comma-separated names)
 * runs only those; BENCH_OUT names the results file (default memory-breakdown.md).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startPostgres, type TestPostgres } from '../tests/support/pg';
import { ROOT, WORK, fmt, rss, sleep, waitHttp, writeResult } from './lib';
import { churn, setup } from './statements-workload';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 12);
const TOKEN = 'memory-breakdown-bench';

interface Variant {
  name: string;
  env: Record<string, string>;
  /** node command-line flags (V8 flags NODE_OPTIONS refuses, e.g. --liftoff-only) */
  node?: string[];
  what: string;
}

const VARIANTS: Variant[] = [
  { name: 'default', env: {}, what: 'as shipped: 1 query worker, all collectors' },
  {
    name: 'no query worker',
    env: { PGPULSE_QUERY_WORKERS: '0' },
    what: 'PGPULSE_QUERY_WORKERS=0: queries run on the main thread (no worker V8 isolate, no second SQLite connection)',
  },
  {
    name: 'parser Liftoff only',
    env: {},
    node: ['--liftoff-only'],
    what: "node --liftoff-only: V8 never optimises the parser's WebAssembly with TurboFan (compiling its huge grammar function is what balloons)",
  },
  {
    name: 'smaller V8 young generation',
    env: { NODE_OPTIONS: '--max-semi-space-size=2' },
    what: 'NODE_OPTIONS=--max-semi-space-size=2 (MB): the young generation the allocation-heavy cycle churns through',
  },
  {
    name: 'both',
    env: { NODE_OPTIONS: '--max-semi-space-size=2' },
    node: ['--liftoff-only'],
    what: 'node --liftoff-only --max-semi-space-size=2',
  },
  // the advisor parses every statement text: with its first look 10 s after start (not 60 s) the
  // parser's cost is inside the measured window
  {
    name: 'advisor every 10 s',
    env: { PGPULSE_ADVISE_INTERVAL: '10s' },
    what: 'PGPULSE_ADVISE_INTERVAL=10s: the advisor parses all 5,000 texts every 10 s (default 5 min)',
  },
  {
    name: 'advisor every 10 s + Liftoff only',
    env: { PGPULSE_ADVISE_INTERVAL: '10s' },
    node: ['--liftoff-only'],
    what: 'the same with node --liftoff-only',
  },
  {
    name: 'advisor every 10 s + both',
    env: { PGPULSE_ADVISE_INTERVAL: '10s', NODE_OPTIONS: '--max-semi-space-size=2' },
    node: ['--liftoff-only'],
    what: 'the same with node --liftoff-only --max-semi-space-size=2',
  },
  {
    name: 'semi-space 8 MB',
    env: { NODE_OPTIONS: '--max-semi-space-size=8' },
    what: 'NODE_OPTIONS=--max-semi-space-size=8',
  },
  // what the Docker image runs (Dockerfile CMD)
  {
    name: 'image flags',
    env: {},
    node: ['--liftoff-only', '--max-semi-space-size=8'],
    what: 'node --liftoff-only --max-semi-space-size=8 (the Docker image)',
  },
  {
    name: 'advisor every 10 s + image flags',
    env: { PGPULSE_ADVISE_INTERVAL: '10s' },
    node: ['--liftoff-only', '--max-semi-space-size=8'],
    what: 'the same with the advisor every 10 s',
  },
];

interface Memory {
  rssMb: number;
  peakMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

async function metrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) {
    throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  }
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(pgpulse_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) {
      out.set(m[1] + (m[2] ?? ''), (out.get(m[1] + (m[2] ?? '')) ?? 0) + Number(m[3]));
    }
  }
  return out;
}

async function memory(pid: number, port: number): Promise<Memory> {
  const m = await metrics(port);
  const mb = (k: string) => (m.get(k) ?? NaN) / 1048576;
  return {
    ...rss(pid),
    heapUsedMb: mb('pgpulse_nodejs_heap_size_used_bytes'),
    heapTotalMb: mb('pgpulse_nodejs_heap_size_total_bytes'),
    externalMb: mb('pgpulse_nodejs_external_memory_bytes'),
  };
}

async function cycles(port: number): Promise<{ n: number; seconds: number }> {
  const m = await metrics(port);
  let n = 0;
  let seconds = 0;
  for (const [k, v] of m) {
    if (k.startsWith('pgpulse_sampling_cycle_duration_seconds_count')) {
      n += v;
    } else if (k.startsWith('pgpulse_sampling_cycle_duration_seconds_sum')) {
      seconds += v;
    }
  }
  return { n, seconds };
}

async function runVariant(
  pg: TestPostgres,
  buildDir: string,
  v: Variant
): Promise<{ start: Memory; steady: Memory[]; cycleMs: number }> {
  const dataDir = mkdtempSync(join(WORK, 'mem-'));
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(v.node ?? []),
      '-e',
      `require(${JSON.stringify(join(buildDir, 'sidecar', 'cli', 'main.js'))}).main(['serve']).then((c) => { process.exitCode = c; })`,
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        ...v.env,
        DATABASE_URL: pg.urlFor('app', 'pgpulse_mon'),
        PGPULSE_DATA_DIR: dataDir,
        PGPULSE_TOKEN: TOKEN,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        PGPULSE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
        PGPULSE_INTERVAL: '5s',
        PGPULSE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    }
  );
  try {
    await waitHttp(`http://127.0.0.1:${httpPort}/healthz`);
    const start = await memory(child.pid!, httpPort);
    const steady: Memory[] = [];
    let seed = 0;
    while ((await cycles(httpPort)).n < CYCLES) {
      await churn(pg, seed++);
      await sleep(1000);
      if (seed > CYCLES * 4) {
        throw new Error(`${v.name}: fewer than ${CYCLES} cycles after ${seed} churns`);
      }
    }
    // the last four readings, one per 5 s interval: steady state, not a single GC moment
    for (let i = 0; i < 4; i++) {
      steady.push(await memory(child.pid!, httpPort));
      await churn(pg, seed++);
      await sleep(5000);
    }
    const c = await cycles(httpPort);
    process.stderr.write(`${v.name}: RSS ${fmt(steady[steady.length - 1].rssMb)} MB\n`);
    return { start, steady, cycleMs: (c.seconds / c.n) * 1000 };
  } finally {
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(WORK, { recursive: true });
  // build/ exactly as `npm run build:sidecar` writes it: serve finds the gRPC .proto files from there
  const buildDir = join(ROOT, 'build');
  process.stderr.write('compiling the sidecar into build/ …\n');
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.sidecar.json')],
    { stdio: 'inherit' }
  );
  const pg = await startPostgres({
    settings: { 'pg_stat_statements.max': '10000', shared_buffers: '128MB', max_connections: '100' },
  });
  try {
    process.stderr.write('creating 500 tables / 2,000 indexes and 5,000 statements …\n');
    const shape = await setup(pg);
    const only = process.env.BENCH_VARIANTS?.split(',');
    const rows: string[] = [];
    for (const v of VARIANTS.filter((x) => !only || only.includes(x.name))) {
      const r = await runVariant(pg, buildDir, v);
      const max = (f: (m: Memory) => number) => Math.max(...r.steady.map(f));
      rows.push(
        `| ${v.name} | ${fmt(r.start.rssMb)} | ${fmt(r.start.externalMb)} | ${fmt(max((m) => m.rssMb))} | ${fmt(max((m) => m.peakMb))} | ${fmt(max((m) => m.heapUsedMb))} | ${fmt(max((m) => m.heapTotalMb))} | ${fmt(max((m) => m.externalMb))} | ${fmt(r.cycleMs, 0)} | ${v.what} |`
      );
    }
    const load = execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ');
    const body = `# Sidecar memory breakdown

One \`pgpulse serve\` process (compiled, HTTP + gRPC + sampling + query workers as shipped) sampling one
PostgreSQL 15 target with ${shape.entries.toLocaleString('en-US')} pg_stat_statements entries and
${shape.indexes.toLocaleString('en-US')} indexes every 5 s; a workload re-runs 10 % of the statements
between cycles. "steady" = the largest of four readings 5 s apart after ${CYCLES} cycles. RSS from
/proc/<pid>/status (VmRSS, peak VmHWM); heap and external from the sidecar's own /metrics.
Load average at the end: ${load} (the machine is shared, 2 cores).

| variant (MB) | RSS at start | external at start | RSS steady | RSS peak | heap used | heap total | external | mean cycle ms | what changes |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

Bench run took ${fmt((Date.now() - started) / 1000, 0)} s.
`;
    const path = writeResult(process.env.BENCH_OUT ?? 'memory-breakdown.md', body);
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    await pg.destroy();
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
