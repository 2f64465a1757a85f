/**
 * pgpulse alone over an existing history (by default the one bench/query-latency.ts writes, kept
 * in bench/.work/query-latency/pgpulse; `BENCH_STORE` = another data dir): 1 h, 24 h and 7-day
 * windows of top_queries, cache_hit_ratio and statement_latency through the real sidecar's HTTP
 * API, median / p95 of BENCH_RUNS (15). For when Prometheus' 7-day import does not fit the time
 * available; the same-run comparison is query-latency.ts. Writes bench/results/range-latency.md.
 *
 * The engine's CPU per query is also taken in this thread, without the read cache
 * (store/read-cache.ts: what the first query after a compaction costs) and with it (a refresh),
 * and with BENCH_SRC = another checkout's src/ for that checkout's engine, all taken in turn; then
 * a 24-hour window slid by a minute a run, as a panel refreshed every minute asks:
 *
 *   BENCH_SRC=/tmp/before/src BENCH_SRC_LABEL=main node --import tsx bench/range-latency.ts
 */
import { join, resolve } from 'node:path';
import { startSidecar } from '../src/sidecar/app';
import { Engine } from '../src/sidecar/engine/engine';
import { assemble } from '../src/sidecar/feature';
import { sidecarFeatures } from '../src/sidecar/features';
import { Store } from '../src/sidecar/store/store';
import { loadavg } from 'node:os';
import { fmt, median, WORK, writeResult, historyOnlyConfig } from './lib';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function main(): Promise<void> {
  const config = historyOnlyConfig(process.env.BENCH_STORE ?? join(WORK, 'query-latency', 'pgpulse'), 't');
  const sc = await startSidecar({ config, grpc: false, sampling: false });
  const file = join(config.dataDir, 'pgpulse.db');
  const reader = new Store(file, { reader: true });
  const engine = new Engine(reader, assemble(sidecarFeatures));
  // the same engine over a connection without the read cache
  const uncached = new Store(file, { reader: true });
  uncached.readCache = undefined;
  const cold = new Engine(uncached, assemble(sidecarFeatures));
  const other = process.env.BENCH_SRC ? resolve(process.env.BENCH_SRC) : undefined;
  const before = other ? await otherEngine(other, file) : undefined;
  const rows: string[] = [];
  const engines = [before, cold, engine].filter((e) => e !== undefined);
  try {
    const last = sc.store.lastSample('bench', 'statements');
    const first =
      sc.store.samples('bench', 'statements', 0, 1)[0] ??
      sc.store.samples('bench', 'statements', 0, Number.MAX_SAFE_INTEGER)[0];
    if (!last || !first) {
      throw new Error(`no history in ${config.dataDir}: run bench/query-latency.ts first (BENCH_DAYS=7)`);
    }
    const end = Math.floor(last.ts / 1000);
    const spanS = end - Math.floor(first.ts / 1000);
    const pp = async (body: Record<string, unknown>, windowS: number) => {
      const r = await fetch(`http://127.0.0.1:${sc.httpPort}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ from: (end - windowS) * 1000, to: end * 1000, ...body }),
      });
      const j = (await r.json()) as { results: Record<string, { error?: string }> };
      if (j.results.A.error) {
        throw new Error(j.results.A.error);
      }
    };
    for (const w of [
      { label: '1 h', s: 3600, step: 60 },
      { label: '24 h', s: 86_400, step: 60 },
      { label: '7 d', s: 7 * 86_400, step: 600 },
    ].filter((x) => x.s <= spanS)) {
      for (const [name, body] of [
        [
          `top_queries, ${w.label} (top 10, 7 columns)`,
          { queries: [{ refId: 'A', metric: 'top_queries', target: 'bench', topN: 10, orderBy: 'total_time' }] },
        ],
        [
          `cache_hit_ratio, ${w.label} at ${w.step / 60}-minute steps`,
          { intervalMs: w.step * 1000, queries: [{ refId: 'A', metric: 'cache_hit_ratio', target: 'bench' }] },
        ],
        [
          `statement_latency, ${w.label} at ${w.step / 60}-minute steps`,
          { intervalMs: w.step * 1000, queries: [{ refId: 'A', metric: 'statement_latency', target: 'bench' }] },
        ],
      ] as const) {
        await pp(body, w.s);
        const t: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          const t0 = performance.now();
          await pp(body, w.s);
          t.push(performance.now() - t0);
        }
        t.sort((a, b) => a - b);
        // the engine's own CPU time, computed in this thread over a reader connection as the query
        // worker has it: what the query costs apart from the machine's load, HTTP and the worker's nice 10
        const req = {
          query: { ...body.queries[0] },
          range: { from: (end - w.s) * 1000, to: end * 1000 },
          intervalMs: 'intervalMs' in body ? body.intervalMs : undefined,
          targetIntervalMs: 15_000,
        };
        const answers = engines.map((e) => JSON.stringify(e.run(req)));
        if (answers.some((a) => a !== answers[0])) {
          throw new Error(`${name}: the engines answer differently`);
        }
        const cpu: number[][] = engines.map(() => []);
        for (let i = 0; i < RUNS; i++) {
          engines.forEach((e, k) => {
            const u0 = process.cpuUsage();
            const r = e.run(req);
            const u = process.cpuUsage(u0);
            if (r.error) {
              throw new Error(r.error);
            }
            cpu[k].push((u.user + u.system) / 1000);
          });
        }
        const cols = cpu.map((c) => {
          c.sort((a, b) => a - b);
          return `${fmt(c[0])} / ${fmt(median(c))}`;
        });
        rows.push(
          `| ${name} | ${fmt(median(t))} | ${fmt(t[Math.min(t.length - 1, Math.ceil(0.95 * t.length) - 1)])} | ${cols.join(' | ')} |`
        );
      }
    }
    // a 24-hour panel refreshed every minute: the window slides by a statements sample a run, so the
    // read cache answers what did not move (a range's start holds until the series' next point)
    const slid: string[] = [];
    for (const [name, query, intervalMs] of [
      ['top_queries, 24 h', { refId: 'A', metric: 'top_queries', target: 'bench', topN: 10, orderBy: 'total_time' }],
      ['cache_hit_ratio, 24 h at 1-minute steps', { refId: 'A', metric: 'cache_hit_ratio', target: 'bench' }, 60_000],
    ] as const) {
      const at = (i: number) => ({
        query: { ...query },
        range: { from: (end - 86_400 - (RUNS - i) * 60) * 1000, to: (end - (RUNS - i) * 60) * 1000 },
        intervalMs,
        targetIntervalMs: 15_000,
      });
      const cpu: number[][] = engines.map(() => []);
      // i = 0 warms up
      for (let i = 0; i <= RUNS; i++) {
        const answers = engines.map((e, k) => {
          const u0 = process.cpuUsage();
          const r = e.run(at(i));
          const u = process.cpuUsage(u0);
          if (r.error) {
            throw new Error(r.error);
          }
          if (i > 0) {
            cpu[k].push((u.user + u.system) / 1000);
          }
          return JSON.stringify(r);
        });
        if (answers.some((a) => a !== answers[0])) {
          throw new Error(`${name} slid: the engines answer differently`);
        }
      }
      const cols = cpu.map((c) => {
        c.sort((a, b) => a - b);
        return `${fmt(c[0])} / ${fmt(median(c))}`;
      });
      slid.push(`| ${name}, slid 1 minute a run | ${cols.join(' | ')} |`);
    }
    const path = writeResult(
      'range-latency.md',
      `
# pgpulse range queries over ${fmt(spanS / 86_400, 1)} days of history (no Prometheus in this run)

History: ${config.dataDir} (as bench/query-latency.ts writes it: 4 databases every 15 s, 500 statements
× 7 counters every 60 s). The real sidecar over HTTP on loopback, one warm-up, ${RUNS} runs, wall ms; then
the same query computed ${RUNS} times in the bench's own thread (engine over a reader connection, as the query
worker has it), its CPU time (process.cpuUsage, user + system) min / median: ${before ? `the engine of ${process.env.BENCH_SRC_LABEL ?? other}, ` : ''}this
checkout's without its read cache (the first query after a compaction), and with it (a refresh), taken in
turn; every engine gave the same frames. Load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}.

| query | wall median | wall p95 | ${before ? `engine CPU ms, ${process.env.BENCH_SRC_LABEL ?? 'before'} | ` : ''}engine CPU ms, no read cache | engine CPU ms, read cache |
|---|---:|---:|${before ? '---:|' : ''}---:|---:|
${rows.join('\n')}

A panel refreshed every minute: the same engines, the window slid by one minute (a statements sample) a
run over the last ${RUNS} minutes, one warm-up; engine CPU ms min / median, every engine the same frames:

| query | ${before ? `${process.env.BENCH_SRC_LABEL ?? 'before'} | ` : ''}no read cache | read cache |
|---|${before ? '---:|' : ''}---:|---:|
${slid.join('\n')}
`
    );
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    reader.close();
    uncached.close();
    before?.close();
    await sc.stop();
  }
}

/** another checkout's engine over its own reader connection to the same file */
async function otherEngine(src: string, file: string) {
  const m = (path: string) => import(join(src, ...path.split('/')));
  const { Store: S } = (await m('sidecar/store/store.ts')) as typeof import('../src/sidecar/store/store');
  const { Engine: E } = (await m('sidecar/engine/engine.ts')) as typeof import('../src/sidecar/engine/engine');
  const { assemble: a } = (await m('sidecar/feature.ts')) as typeof import('../src/sidecar/feature');
  const { sidecarFeatures: f } = (await m('sidecar/features.ts')) as typeof import('../src/sidecar/features');
  const store = new S(file, { reader: true });
  const engine = new E(store, a(f));
  return Object.assign(engine, { close: () => store.close() });
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String((e as Error).stack ?? e) + '\n');
    process.exit(1);
  }
);
