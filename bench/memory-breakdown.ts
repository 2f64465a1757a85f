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
 * runs only those; BENCH_OUT names the results file (default memory-breakdown.md). A long run
 * (BENCH_CYCLES=720 is one hour) also records memory every BENCH_TRAJECTORY_MIN minutes; there
 * BENCH_CHURN_MS=5000 re-runs the workload once per cycle instead of about five times.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { freePort, startPostgres, type TestPostgres } from '../tests/support/pg';
import { compileSidecar, ROOT, WORK, fmt, median, rss, sleep, waitHttp, writeResult } from './lib';
import { churn, setup } from './statements-workload';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 12);
/** pause between workload runs (BENCH_CHURN_MS; 1 s = ~5 per 5 s cycle; a 1-hour run uses 5 s) */
const CHURN_MS = Number(process.env.BENCH_CHURN_MS ?? 1000);
/** BENCH_MINUTES: sample for this long (wall time) instead of BENCH_CYCLES cycles — the goal's "after 1 h" */
const MINUTES = Number(process.env.BENCH_MINUTES ?? 0);
/** minutes between readings over a long run (BENCH_TRAJECTORY_MIN) */
const TRAJECTORY_MIN = Number(process.env.BENCH_TRAJECTORY_MIN ?? 5);
/** BENCH_SNAPSHOT=1: write a V8 heap snapshot of each variant's sidecar at the end into bench/.work/snapshots */
const SNAPSHOTS = process.env.BENCH_SNAPSHOT === '1' ? join(WORK, 'snapshots') : undefined;
const TOKEN = 'memory-breakdown-bench';
/** BENCH_PARALLEL=1: all chosen variants at the same time against one workload (side by side under the same load) */
const PARALLEL = process.env.BENCH_PARALLEL === '1';
/** BENCH_SMAPS=1: copy each sidecar's /proc/<pid>/smaps at the end into bench/.work/smaps */
const SMAPS = process.env.BENCH_SMAPS === '1' ? join(WORK, 'smaps') : undefined;
/**
 * BENCH_OTHER_TREE=<checkout>: adds the variant 'pgpulse.js serve (other tree)', that checkout's
 * bin/pgpulse.js on its own build/ (compile it there first: npm run build:sidecar) — e.g. a frozen
 * copy of main beside this tree's change, side by side in one run (BENCH_PARALLEL=1)
 */
const OTHER_TREE = process.env.BENCH_OTHER_TREE;
/** where a variant with captureStderr writes its sidecar's stderr (jemalloc's statistics) */
const STDERR_DIR = join(WORK, 'stderr');
/** where the heap-profile variant's jemalloc writes its profiles (read with bench/jeprof-summary.ts) */
const JEPROF_DIR = join(WORK, 'jeprof');
/** serve's MALLOC_CONF (bin/pgpulse.js JEMALLOC_CONF), repeated when a variant adds options to it */
const TUNED_CONF = 'narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';
const VMRSS_EVERY_MS = 10_000;
const VMRSS_OUT = (process.env.BENCH_OUT ?? 'memory-breakdown.md').replace(/\.md$/, '') + '-vmrss.tsv';
/** bin/pgpulse.js's SERVE_FLAGS, repeated when the bench adds the heap-snapshot flags to them */
const BIN_FLAGS = '--liftoff-only --max-semi-space-size=2';

function gitHead(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim();
  } catch {
    return 'an unknown commit';
  }
}

interface Variant {
  name: string;
  env: Record<string, string>;
  /** node command-line flags (V8 flags NODE_OPTIONS refuses, e.g. --liftoff-only) */
  node?: string[];
  /** start it as users do, `node bin/pgpulse.js serve` (which re-executes with its own node flags) */
  bin?: boolean;
  /** the checkout whose bin/pgpulse.js (bin) runs, when not this one (BENCH_OTHER_TREE) */
  root?: string;
  /** a dashboard open for the first this many minutes: its panels' queries every 30 s (DASHBOARD) */
  dashboardMin?: number;
  /** its stderr into STDERR_DIR/<name>.log instead of the bench's (jemalloc's statistics are long) */
  captureStderr?: boolean;
  what: string;
}

/** a dashboard's panels over the last hour, as POST /api/v1/query: computed in the query worker */
const DASHBOARD = {
  from: 'now-1h',
  to: 'now',
  maxDataPoints: 600,
  queries: [
    { refId: 'A', metric: 'top_queries', topN: 20 },
    { refId: 'B', metric: 'statement_latency' },
    { refId: 'C', metric: 'cache_hit_ratio' },
    { refId: 'D', metric: 'tps' },
  ],
};

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
  {
    name: 'semi-space 1 MB + Liftoff',
    env: {},
    node: ['--liftoff-only', '--max-semi-space-size=1'],
    what: 'node --liftoff-only --max-semi-space-size=1',
  },
  {
    name: 'semi-space 2 MB + Liftoff + optimize-for-size',
    env: {},
    node: ['--liftoff-only', '--max-semi-space-size=2', '--optimize-for-size'],
    what: "node --liftoff-only --max-semi-space-size=2 --optimize-for-size (V8's smaller heap growth and code caches)",
  },
  {
    name: 'semi-space 2 MB + Liftoff + 2 malloc arenas',
    env: { MALLOC_ARENA_MAX: '2' },
    node: ['--liftoff-only', '--max-semi-space-size=2'],
    what: "the same with MALLOC_ARENA_MAX=2 (glibc's per-thread malloc arenas: native memory of SQLite, libuv, the query worker)",
  },
  {
    name: 'pgpulse.js serve',
    env: {},
    bin: true,
    what: 'node bin/pgpulse.js serve: re-executes itself with its default node flags (bin/pgpulse.js SERVE_FLAGS) and jemalloc when installed (tuned by MALLOC_CONF since §8.2)',
  },
  {
    name: 'pgpulse.js serve (system malloc)',
    env: { PGPULSE_ALLOCATOR: 'system' },
    bin: true,
    what: "the same with PGPULSE_ALLOCATOR=system: glibc's malloc instead of the jemalloc the re-exec preloads",
  },
  {
    name: 'pgpulse.js serve (jemalloc tuned)',
    env: { MALLOC_CONF: 'narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0' },
    bin: true,
    what: "the same with MALLOC_CONF=narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0: jemalloc's arenas for 2 cores, freed pages returned after 1 s by its own thread (the re-exec's default since §8.2)",
  },
  {
    name: 'pgpulse.js serve (jemalloc defaults)',
    env: { MALLOC_CONF: '' },
    bin: true,
    what: "the same with MALLOC_CONF='': jemalloc's own defaults (8 arenas on 2 cores, no background thread, dirty pages kept 10 s), as before §8.2",
  },
  {
    name: 'pgpulse.js serve (jemalloc stats at exit)',
    env: {
      MALLOC_CONF:
        'narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,stats_print:true,stats_print_opts:gmdablxe',
    },
    bin: true,
    what: 'the tuned jemalloc, printing its totals when the sidecar exits (allocated = live native memory; resident = what jemalloc holds)',
  },
  // jemalloc's own view of the running sidecar: its statistics are printed each time another 256 MB
  // have been allocated (stats_interval, bytes), so the last print before the end is the steady
  // state; merged over the arenas, with its small size classes (bins) and large extents
  {
    name: 'pgpulse.js serve (jemalloc stats every 256 MB)',
    env: { MALLOC_CONF: `${TUNED_CONF},stats_interval:268435456,stats_interval_opts:gdaxe` },
    bin: true,
    captureStderr: true,
    what: 'the tuned jemalloc printing its statistics every 256 MB allocated (stats_interval) into bench/.work/stderr; bench/jemalloc-stats-summary.ts reads the last print',
  },
  {
    name: 'pgpulse.js serve (jemalloc stats + store cache 16 MB)',
    env: {
      MALLOC_CONF: `${TUNED_CONF},stats_interval:268435456,stats_interval_opts:gdaxe`,
      PGPULSE_STORE_CACHE_KIB: '16000',
    },
    bin: true,
    captureStderr: true,
    what: "the same with the writer's SQLite page cache at better-sqlite3's default, 16 MB (PGPULSE_STORE_CACHE_KIB=16000: as before §8.5)",
  },
  {
    name: 'pgpulse.js serve (store cache 16 MB)',
    env: { PGPULSE_STORE_CACHE_KIB: '16000' },
    bin: true,
    what: "PGPULSE_STORE_CACHE_KIB=16000: the writer's SQLite page cache at better-sqlite3's default, 16 MB, as before §8.5",
  },
  // who holds the native bytes: jemalloc's sampling heap profiler (Debian's build has it) records
  // the stack of one allocation per 128 KB allocated on average and writes the live ones every
  // 256 MB allocated (lg_prof_interval); bench/jeprof-summary.ts scales and symbolizes the last one
  {
    name: 'pgpulse.js serve (jemalloc heap profile)',
    env: {
      MALLOC_CONF: `${TUNED_CONF},prof:true,lg_prof_sample:17,lg_prof_interval:28,prof_prefix:${JEPROF_DIR}/serve`,
    },
    bin: true,
    captureStderr: true,
    what: "the tuned jemalloc with its heap profiler: live native allocations by stack, written every 256 MB allocated into bench/.work/jeprof (profiling's own metadata adds to this variant's RSS)",
  },
  {
    name: 'pgpulse.js serve (jemalloc heap profile + store cache 16 MB)',
    env: {
      MALLOC_CONF: `${TUNED_CONF},prof:true,lg_prof_sample:17,lg_prof_interval:28,prof_prefix:${JEPROF_DIR}/serve16`,
      PGPULSE_STORE_CACHE_KIB: '16000',
    },
    bin: true,
    captureStderr: true,
    what: "the same with the writer's SQLite page cache at better-sqlite3's default, 16 MB (PGPULSE_STORE_CACHE_KIB=16000: as before §8.5)",
  },
  {
    name: 'pgpulse.js serve (jemalloc lean)',
    env: { MALLOC_CONF: 'narenas:1,background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0' },
    bin: true,
    what: 'the same with MALLOC_CONF=narenas:1,background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0: one arena, freed pages returned at once',
  },
  // V8 flags on top of serve's own (bin/pgpulse.js SERVE_FLAGS), through PGPULSE_NODE_FLAGS
  {
    name: 'pgpulse.js serve (single-threaded GC)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --single-threaded-gc` },
    bin: true,
    what: "the same with --single-threaded-gc: V8's garbage collector without helper threads",
  },
  {
    name: 'pgpulse.js serve (lite mode)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --lite-mode` },
    bin: true,
    what: 'the same with --lite-mode: no optimising compilers, feedback allocated lazily (less code and metadata, slower JS)',
  },
  {
    name: 'pgpulse.js serve (no Maglev)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --no-maglev` },
    bin: true,
    what: "the same with --no-maglev: V8's mid-tier optimising compiler off (TurboFan still optimises hot code)",
  },
  {
    name: 'pgpulse.js serve (no optimising JIT)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --no-maglev --no-turbofan` },
    bin: true,
    what: 'the same with --no-maglev --no-turbofan: JavaScript only interpreted and baseline-compiled (Sparkplug); WebAssembly stays on Liftoff',
  },
  {
    name: 'pgpulse.js serve (V8 pool 1)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --v8-pool-size=1` },
    bin: true,
    what: 'the same with --v8-pool-size=1: one V8 platform thread instead of four',
  },
  {
    name: 'pgpulse.js serve (old space 96 MB)',
    env: { PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --max-old-space-size=96` },
    bin: true,
    what: "the same with --max-old-space-size=96: V8's old generation limited to 96 MB (collects harder near it; a heap that needs more ends the process)",
  },
  // a dashboard watched for 3 minutes, then nobody looks: does the query worker give its memory back
  {
    name: 'pgpulse.js serve + dashboard 3 min',
    env: {},
    bin: true,
    dashboardMin: 3,
    what: "the same with a dashboard's queries every 30 s for the first 3 minutes (the query worker ends 5 min after the last, PGPULSE_QUERY_WORKER_IDLE_MS)",
  },
  {
    name: 'pgpulse.js serve + dashboard 3 min (worker kept)',
    env: { PGPULSE_QUERY_WORKER_IDLE_MS: '0' },
    bin: true,
    dashboardMin: 3,
    what: 'the same with PGPULSE_QUERY_WORKER_IDLE_MS=0: the query worker stays once started (as before §8.2)',
  },
  {
    name: 'pgpulse.js serve (gRPC off)',
    env: { PGPULSE_GRPC_ADDR: 'off' },
    bin: true,
    what: 'the same with PGPULSE_GRPC_ADDR=off: no Grafana plugin protocol (gRPC, protobuf and Arrow never loaded)',
  },
  {
    name: 'pgpulse.js serve (malloc tuned)',
    env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' },
    bin: true,
    what: "the same with MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072: glibc's fixed mmap threshold returns large freed buffers (the worker's evidence, SQLite) to the system instead of keeping them in per-thread arenas",
  },
  {
    name: 'pgpulse.js serve (jemalloc)',
    env: { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' },
    bin: true,
    what: "the same with jemalloc instead of glibc's malloc (apt-get install libjemalloc2; LD_PRELOAD)",
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
  ...(OTHER_TREE
    ? [
        {
          name: 'pgpulse.js serve (other tree)',
          env: {},
          bin: true,
          root: OTHER_TREE,
          what: `node bin/pgpulse.js serve of ${OTHER_TREE} (BENCH_OTHER_TREE) at ${gitHead(OTHER_TREE)}`,
        },
      ]
    : []),
];

interface Memory {
  rssMb: number;
  /** anonymous resident memory (JS heap, native allocations); the rest is mapped files (code, libraries) */
  anonMb: number;
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
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    ...rss(pid),
    anonMb: Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024,
    heapUsedMb: mb('pgpulse_nodejs_heap_size_used_bytes'),
    heapTotalMb: mb('pgpulse_nodejs_heap_size_total_bytes'),
    externalMb: mb('pgpulse_nodejs_external_memory_bytes'),
  };
}

async function dashboard(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(DASHBOARD),
  });
  const body = (await res.json()) as { results?: Record<string, { status: number; error?: string }> };
  const failed = Object.entries(body.results ?? {}).filter(([, r]) => r.status !== 200);
  if (!res.ok || failed.length) {
    throw new Error(`dashboard query answered ${res.status}: ${JSON.stringify(failed.length ? failed : body)}`);
  }
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

/** ask the sidecar for a heap snapshot (node --heapsnapshot-signal) and wait until it is written */
async function heapSnapshot(pid: number, name: string): Promise<void> {
  const dir = SNAPSHOTS!;
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const fresh = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // the file is complete once its size stops growing
    if (fresh.length && i > 2) {
      const size = statSync(join(dir, fresh[0])).size;
      await sleep(2000);
      if (statSync(join(dir, fresh[0])).size === size) {
        renameSync(join(dir, fresh[0]), join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.heapsnapshot`));
        return;
      }
    }
  }
  throw new Error(`${name}: no heap snapshot written in ${dir}`);
}

interface Run {
  v: Variant;
  child: ChildProcess;
  port: number;
  dataDir: string;
  startedAt: number;
  start?: Memory;
  steady: Memory[];
  trajectory: Array<{ minute: number; m: Memory }>;
  /** VmRSS every VMRSS_EVERY_MS: seconds since the sidecar started, VmRSS, RssAnon (kB), threads */
  vmrss: Array<{ t: number; rssKb: number; anonKb: number; threads: number }>;
  cycleMs?: number;
  /** user + system CPU seconds of the sidecar (all its threads) over the whole run */
  cpuSeconds?: number;
  exited: boolean;
  lastQuery: number;
}

interface Result {
  start: Memory;
  steady: Memory[];
  trajectory: Array<{ minute: number; m: Memory }>;
  vmrss: Run['vmrss'];
  cycleMs: number;
  cpuSeconds: number;
}

async function spawnSidecar(pg: TestPostgres, buildDir: string, v: Variant): Promise<Run> {
  const dataDir = mkdtempSync(join(WORK, 'mem-'));
  const httpPort = await freePort();
  const grpcPort = await freePort();
  let stderr: 'inherit' | number = 'inherit';
  if (v.captureStderr) {
    mkdirSync(STDERR_DIR, { recursive: true });
    mkdirSync(JEPROF_DIR, { recursive: true });
    stderr = openSync(join(STDERR_DIR, `${v.name.replace(/[^a-z0-9]+/gi, '-')}.log`), 'w');
  }
  const child = spawn(
    process.execPath,
    v.bin
      ? [join(v.root ?? ROOT, 'bin', 'pgpulse.js'), 'serve']
      : [
          ...(v.node ?? []),
          ...(SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOTS}`] : []),
          '-e',
          `require(${JSON.stringify(join(buildDir, 'sidecar', 'cli', 'main.js'))}).main(['serve']).then((c) => { process.exitCode = c; })`,
        ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: pg.urlFor('app', 'pgpulse_mon'),
        PGPULSE_DATA_DIR: dataDir,
        PGPULSE_TOKEN: TOKEN,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        PGPULSE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
        PGPULSE_INTERVAL: '5s',
        PGPULSE_LOG_LEVEL: 'warn',
        // bin/pgpulse.js's own flags (SERVE_FLAGS) with the snapshot signal: given on node's command
        // line instead, the snapshot flags would replace them
        ...(v.bin && SNAPSHOTS
          ? {
              PGPULSE_NODE_FLAGS: `${BIN_FLAGS} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOTS}`,
            }
          : {}),
        // the variant's own settings win (PGPULSE_GRPC_ADDR=off)
        ...v.env,
      },
      stdio: ['ignore', 'ignore', stderr],
    }
  );
  if (typeof stderr === 'number') {
    closeSync(stderr);
  }
  const run: Run = {
    v,
    child,
    port: httpPort,
    dataDir,
    startedAt: Date.now(),
    steady: [],
    trajectory: [],
    vmrss: [],
    exited: false,
    lastQuery: 0,
  };
  child.once('exit', (code, signal) => {
    if (!run.exited) {
      process.stderr.write(`${v.name}: the sidecar exited early (code ${code}, signal ${signal})\n`);
    }
    run.exited = true;
  });
  return run;
}

async function stopSidecar(run: Run): Promise<void> {
  const { child } = run;
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => child.once('exit', r));
  run.exited = true;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
  rmSync(run.dataDir, { recursive: true, force: true });
}

function readVmRss(run: Run): void {
  try {
    const s = readFileSync(`/proc/${run.child.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    run.vmrss.push({
      t: (Date.now() - run.startedAt) / 1000,
      rssKb: kb('VmRSS'),
      anonKb: kb('RssAnon'),
      threads: kb('Threads'),
    });
  } catch {
    /* exited: its end is reported by the exit handler */
  }
}

/**
 * The sidecars of `vs` at once (BENCH_PARALLEL=1: side by side under the same load, one shared
 * workload) or one alone; memory read as described at the top.
 */
async function runVariants(pg: TestPostgres, buildDir: string, vs: Variant[]): Promise<Map<string, Result>> {
  const runs: Run[] = [];
  const sampler = setInterval(() => runs.forEach(readVmRss), VMRSS_EVERY_MS);
  try {
    for (const v of vs) {
      runs.push(await spawnSidecar(pg, buildDir, v));
    }
    for (const r of runs) {
      await waitHttp(`http://127.0.0.1:${r.port}/healthz`);
      r.start = await memory(r.child.pid!, r.port);
    }
    const t0 = Date.now();
    let seed = 0;
    const enough = async () => {
      for (const r of runs) {
        if ((await cycles(r.port)).n < CYCLES) {
          return false;
        }
      }
      return true;
    };
    let readings = 0;
    while (MINUTES ? Date.now() - t0 < MINUTES * 60_000 : !(await enough())) {
      await churn(pg, seed++);
      await sleep(CHURN_MS);
      for (const r of runs) {
        if (r.v.dashboardMin && Date.now() - t0 < r.v.dashboardMin * 60_000 && Date.now() - r.lastQuery >= 30_000) {
          r.lastQuery = Date.now();
          await dashboard(r.port);
        }
      }
      if (!MINUTES && seed * CHURN_MS > CYCLES * 20_000) {
        throw new Error(`${vs.map((v) => v.name).join(', ')}: fewer than ${CYCLES} cycles after ${seed} churns`);
      }
      if (Date.now() - t0 >= (readings + 1) * TRAJECTORY_MIN * 60_000) {
        readings++;
        for (const r of runs) {
          r.trajectory.push({ minute: (Date.now() - t0) / 60_000, m: await memory(r.child.pid!, r.port) });
        }
      }
    }
    // the last four readings, one per 5 s interval: steady state, not a single GC moment
    for (let i = 0; i < 4; i++) {
      for (const r of runs) {
        r.steady.push(await memory(r.child.pid!, r.port));
      }
      await churn(pg, seed++);
      await sleep(5000);
    }
    for (const r of runs) {
      const c = await cycles(r.port);
      r.cycleMs = (c.seconds / c.n) * 1000;
      // /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks of 1/100 s
      const stat = readFileSync(`/proc/${r.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      r.cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
      if (SMAPS) {
        mkdirSync(SMAPS, { recursive: true });
        const file = join(SMAPS, `${r.v.name.replace(/[^a-z0-9]+/gi, '-')}.smaps`);
        writeFileSync(file, readFileSync(`/proc/${r.child.pid}/smaps`));
        process.stderr.write(`${r.v.name}: smaps in ${file}\n`);
      }
      if (SNAPSHOTS) {
        await heapSnapshot(r.child.pid!, r.v.name);
      }
      process.stderr.write(`${r.v.name}: RSS ${fmt(r.steady[r.steady.length - 1].rssMb)} MB\n`);
    }
    return new Map(
      runs.map((r) => [
        r.v.name,
        {
          start: r.start!,
          steady: r.steady,
          trajectory: r.trajectory,
          vmrss: r.vmrss,
          cycleMs: r.cycleMs!,
          cpuSeconds: r.cpuSeconds!,
        },
      ])
    );
  } finally {
    clearInterval(sampler);
    await Promise.all(runs.map(stopSidecar));
  }
}

/**
 * VmRSS between the advisor's evaluations: the advisor first looks 60 s after start, then every
 * 5 min counted from start (src/sidecar/advisors/runtime.ts); readings in the minute after each
 * start are left out, so an evaluation's transient peak is not taken for the steady footprint.
 */
function betweenEvaluations(vmrss: Result['vmrss']): number[] {
  const evaluating = (t: number) => (t >= 60 && t < 120) || (t >= 300 && t % 300 < 60);
  return vmrss.filter((x) => !evaluating(x.t) && x.t >= 120).map((x) => x.rssKb / 1024);
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(WORK, { recursive: true });
  if (SNAPSHOTS) {
    mkdirSync(SNAPSHOTS, { recursive: true });
  }
  // build/ exactly as `npm run build:sidecar` writes it: serve finds the gRPC .proto files from there
  const buildDir = join(ROOT, 'build');
  compileSidecar();
  const pg = await startPostgres({
    settings: { 'pg_stat_statements.max': '10000', shared_buffers: '128MB', max_connections: '100' },
  });
  try {
    process.stderr.write('creating 500 tables / 2,000 indexes and 5,000 statements …\n');
    const shape = await setup(pg);
    const only = process.env.BENCH_VARIANTS?.split(',');
    const rows: string[] = [];
    const trajectories: string[] = [];
    // written after every variant: a variant that fails does not lose the others
    const write = () => {
      const load = execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ');
      const body = `# Sidecar memory breakdown

One \`pgpulse serve\` process (compiled, HTTP + gRPC + sampling + query workers as shipped) sampling one
PostgreSQL 15 target with ${shape.entries.toLocaleString('en-US')} pg_stat_statements entries and
${shape.indexes.toLocaleString('en-US')} indexes every 5 s; a workload re-runs 10 % of the statements
between cycles. "steady" = the largest of four readings 5 s apart after ${MINUTES ? `${MINUTES} minutes of sampling` : `${CYCLES} cycles`}. RSS from
/proc/<pid>/status (VmRSS, peak VmHWM); heap and external from the sidecar's own /metrics.
"Between evaluations": VmRSS every ${VMRSS_EVERY_MS / 1000} s from 2 minutes on, leaving out the minute after each start of an advisor
evaluation (60 s after start, then every 5 min), all readings in \`${VMRSS_OUT}\`.${PARALLEL ? ' The variants ran at the same time (BENCH_PARALLEL=1), one shared workload.' : ''}
Load average at the end: ${load} (the machine is shared, 2 cores).

| variant (MB) | RSS at start | external at start | RSS steady | of it anonymous | VmRSS between evaluations min / median / max | RSS peak | heap used | heap total | external | mean cycle ms | CPU s | what changes |
|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

${trajectories.length ? `\nOver the run:\n\n${trajectories.map((t) => `- ${t}`).join('\n')}\n` : ''}
Bench run took ${fmt((Date.now() - started) / 1000, 0)} s.
`;
      return writeResult(process.env.BENCH_OUT ?? 'memory-breakdown.md', body);
    };
    const chosen = VARIANTS.filter((x) => !only || only.includes(x.name));
    if (only && chosen.length !== only.length) {
      throw new Error(
        `BENCH_VARIANTS names unknown variants: ${only.filter((n) => !VARIANTS.some((v) => v.name === n)).join(', ')}`
      );
    }
    const vmrssLines: string[] = [];
    for (const group of PARALLEL ? [chosen] : chosen.map((v) => [v])) {
      let results: Map<string, Result>;
      try {
        results = await runVariants(pg, buildDir, group);
      } catch (e) {
        const cause = (e as Error & { cause?: unknown }).cause;
        const why = `${(e as Error).message}${cause ? ` (${String(cause)})` : ''}`;
        process.stderr.write(`${group.map((v) => v.name).join(', ')} failed: ${why}\n`);
        for (const v of group) {
          rows.push(`| ${v.name} | failed: ${why} | | | | | | | | | | | ${v.what} |`);
        }
        write();
        continue;
      }
      for (const v of group) {
        const r = results.get(v.name)!;
        const max = (f: (m: Memory) => number) => Math.max(...r.steady.map(f));
        const between = betweenEvaluations(r.vmrss);
        const betweenCell = between.length
          ? `${fmt(Math.min(...between), 0)} / ${fmt(median(between), 0)} / ${fmt(Math.max(...between), 0)}`
          : 'n/a';
        rows.push(
          `| ${v.name} | ${fmt(r.start.rssMb)} | ${fmt(r.start.externalMb)} | ${fmt(max((m) => m.rssMb))} | ${fmt(max((m) => m.anonMb))} | ${betweenCell} | ${fmt(max((m) => m.peakMb))} | ${fmt(max((m) => m.heapUsedMb))} | ${fmt(max((m) => m.heapTotalMb))} | ${fmt(max((m) => m.externalMb))} | ${fmt(r.cycleMs, 0)} | ${fmt(r.cpuSeconds, 0)} | ${v.what} |`
        );
        if (r.trajectory.length > 1) {
          trajectories.push(
            `${v.name}, every ${TRAJECTORY_MIN} min (minute: RSS / heap used / heap total MB): ` +
              r.trajectory
                .map(
                  (t) =>
                    `${fmt(t.minute, 0)}: ${fmt(t.m.rssMb, 0)} / ${fmt(t.m.heapUsedMb, 0)} / ${fmt(t.m.heapTotalMb, 0)}`
                )
                .join(' · ')
          );
        }
        for (const x of r.vmrss) {
          vmrssLines.push(`${v.name}\t${x.t.toFixed(0)}\t${x.rssKb}\t${x.anonKb}\t${x.threads}`);
        }
      }
      write();
      writeResult(VMRSS_OUT, `variant\tseconds since start\tVmRSS kB\tRssAnon kB\tthreads\n${vmrssLines.join('\n')}`);
    }
    process.stderr.write(`wrote ${write()}\n`);
  } finally {
    await pg.destroy();
  }
}

main().catch((e) => {
  // fetch() hides why it failed (refused, reset) in .cause
  const cause = (e as Error & { cause?: unknown }).cause;
  process.stderr.write(String((e as Error).stack ?? e) + (cause ? `\ncaused by: ${String(cause)}` : '') + '\n');
  process.exit(1);
});
