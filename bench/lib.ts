/**
 * Shared helpers of the benchmarks: process memory, pg_stat_statements time per role, waiting for
 * HTTP services, medians, and writing results files that start with the command that made them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import type { SidecarConfig } from '../src/sidecar/config';
import { sidecarConfig } from '../tests/support/config';

export const ROOT = join(__dirname, '..');
export const WORK = join(ROOT, 'bench', '.work');
export const RESULTS = join(ROOT, 'bench', 'results');

/**
 * Compiles the sidecar with tsconfig.sidecar.json, for benches that run it in processes of their own:
 * into build/ by default (as `npm run build:sidecar`: serve finds the gRPC .proto files from there),
 * or into `outDir`.
 */
export function compileSidecar(outDir?: string): void {
  process.stderr.write(`compiling the sidecar into ${outDir ?? 'build/'} …\n`);
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(ROOT, 'tsconfig.sidecar.json'),
      ...(outDir ? ['--outDir', outDir] : []),
    ],
    { stdio: 'inherit' }
  );
}

/** What a read measured in a fresh process (peakRssRun): MB and ms, and the script's own answer. */
export interface PeakRss<T> {
  /** VmHWM before the read: the process with its modules loaded and the store open */
  beforeMb: number;
  /** VmHWM after it */
  peakMb: number;
  /** the largest used V8 heap after any GC during the run */
  heapPeakMb: number;
  ms: number;
  result: T;
}

/**
 * Prepended to a peakRssRun script: `measure(fn)` runs fn once and prints what it cost. The heap
 * peak is sampled by a GC observer (v8.getHeapStatistics().peak_malloced_memory is not the heap).
 */
const MEASURE = `
const { PerformanceObserver: __PO } = require('node:perf_hooks');
const __v8 = require('node:v8');
let __heapPeak = 0;
new __PO(() => { __heapPeak = Math.max(__heapPeak, __v8.getHeapStatistics().used_heap_size); }).observe({ entryTypes: ['gc'] });
const __kb = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+) kB', 'm').exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
function measure(fn) {
  const beforeMb = __kb('VmHWM') / 1024;
  const t0 = process.hrtime.bigint();
  const result = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  __heapPeak = Math.max(__heapPeak, __v8.getHeapStatistics().used_heap_size);
  process.stdout.write(JSON.stringify({ beforeMb, peakMb: __kb('VmHWM') / 1024, heapPeakMb: __heapPeak / 1048576, ms, result }));
}
`;

/**
 * Runs a CommonJS script in a fresh node process (with `nodeFlags`), so one read's peak RSS
 * (VmHWM) is its own and not what earlier reads left: the script sets up, then calls
 * `measure(() => …)` once around the read; its return value comes back as `result`.
 */
export function peakRssRun<T>(script: string, env: NodeJS.ProcessEnv, nodeFlags: string[] = []): PeakRss<T> {
  return JSON.parse(
    execFileSync(process.execPath, [...nodeFlags, '-e', MEASURE + script], {
      env,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    })
  ) as PeakRss<T>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** resident set size (current and peak) of a process, from /proc */
export function rss(pid: number): { rssMb: number; peakMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

export function median(xs: number[]): number {
  if (xs.length === 0) {
    return NaN;
  }
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) {
    return 'n/a';
  }
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits);
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return 'n/a';
  }
  const r = a / b;
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

export async function waitHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) {
        return;
      }
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      throw new Error(`${url} did not answer within ${timeoutMs / 1000}s`);
    }
    await sleep(200);
  }
}

/** the exact command line that produced a results file */
export function invocation(): string {
  if (process.env.PGPULSE_BENCH_COMMAND) {
    return process.env.PGPULSE_BENCH_COMMAND;
  }
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  const via = process.env.npm_lifecycle_event ? `    # run by \`npm run ${process.env.npm_lifecycle_event}\`` : '';
  return `${env}node --import tsx ${process.argv
    .slice(1)
    .map((a) => a.replace(ROOT + '/', ''))
    .join(' ')}${via}`;
}

export function writeResult(file: string, body: string): string {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, file);
  const machine = `${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU'}, ${
    readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'
  } cores, Node ${process.version}, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} at the end (the machine is shared)`;
  writeFileSync(
    path,
    `$ ${invocation()}\n\n<!-- recorded ${new Date().toISOString()} on ${machine} -->\n\n${body.trim()}\n`
  );
  return path;
}

/**
 * A sidecar over a history the bench wrote itself: one target that is never sampled (nothing
 * listens on its port), the store's defaults for retention and downsampling.
 */
export function historyOnlyConfig(dataDir: string, token: string): SidecarConfig {
  return sidecarConfig(dataDir, token, {
    targets: [
      {
        name: 'bench',
        url: 'postgres://bench@127.0.0.1:9/bench',
        intervalMs: 15_000,
        statementTimeoutMs: 5000,
        connectTimeoutMs: 1000,
        collectors: {},
      },
    ],
  });
}

/** a store's sample rows: the sample table before migration 10, sample_row and its stream names since, with their indexes */
export const SAMPLE_TABLES = [
  'sample',
  'sample_row',
  'sample_by_time',
  'sample_keyframes',
  'sample_marks',
  'sample_stream',
  'sqlite_autoindex_sample_stream_1',
];
