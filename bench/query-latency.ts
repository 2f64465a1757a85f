/**
 * Benchmark 2: how fast the engine answers over 1 h, 24 h and 7 days of history, pgpulse vs
 * Prometheus 2.42 holding the same data (BENCH_DAYS days of it, 7 by default).
 *
 * One synthetic history is generated deterministically and written twice: through
 * Store.writeSample into pgpulse's SQLite store (as the sampler would: 4 databases every 15 s,
 * 500 statements every 60 s, 10 % of statements moving per sample), and as OpenMetrics text
 * imported into Prometheus blocks with `promtool tsdb create-blocks-from openmetrics`. Both are
 * queried over HTTP on loopback: pgpulse's POST /api/v1/query, Prometheus' /api/v1/query(_range).
 * Writes bench/results/query-latency.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../tests/support/pg';
import { startSidecar } from '../src/sidecar/app';
import type { SampleRow } from '../src/sidecar/store/types';
import { WORK, fmt, median, ratio, sleep, waitHttp, writeResult, historyOnlyConfig } from './lib';

const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 500);
const DATABASES = ['app', 'postgres', 'analytics', 'billing'];
const DB_STEP_S = 15;
const STMT_STEP_S = 60;
const DAYS = Number(process.env.BENCH_DAYS ?? 7);
const SPAN_S = Math.round(DAYS * 86_400);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/** promtool's longest block (it rounds down to 2 h × 3^k): one block window over the whole span */
const PROM_BLOCK_H = Number(process.env.BENCH_PROM_BLOCK_H ?? 486);
const STMT_FIELDS = [
  'calls',
  'total_exec_time',
  'rows',
  'shared_blks_hit',
  'shared_blks_read',
  'temp_blks_written',
  'total_plan_time',
] as const;
const DB_FIELDS = ['blks_hit', 'blks_read', 'xact_commit', 'xact_rollback'] as const;

/** deterministic pseudo-random integer in [0, 2^32) */
function hash(a: number, b: number, c = 0): number {
  let h =
    Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^
    Math.imul(b + 0x632be5ab, 0xc2b2ae35) ^
    Math.imul(c + 0x27d4eb2f, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** increments of one statement at one sample (0 for the 90 % that did not run) */
function stmtIncrement(q: number, i: number): Record<(typeof STMT_FIELDS)[number], number> | null {
  const h = hash(q, i);
  if (h % 10 !== 0) {
    return null;
  }
  const calls = 1 + (h % 50);
  const mean = 0.2 + (q % 40) * 0.7 + (hash(q, i, 1) % 100) / 100;
  return {
    calls,
    total_exec_time: Math.round(calls * mean * 1000) / 1000,
    rows: calls * (1 + (q % 5)),
    shared_blks_hit: calls * (4 + (q % 13)),
    shared_blks_read: hash(q, i, 2) % 4,
    temp_blks_written: q % 97 === 0 ? calls * 8 : 0,
    total_plan_time: 0,
  };
}

function dbIncrement(d: number, i: number): Record<(typeof DB_FIELDS)[number], number> {
  const h = hash(1000 + d, i);
  return {
    blks_hit: 5000 + (h % 5000),
    blks_read: 20 + (hash(1000 + d, i, 1) % 200),
    xact_commit: 100 + (h % 100),
    xact_rollback: h % 3,
  };
}

async function writeOpenMetrics(file: string, start: number): Promise<number> {
  const out = createWriteStream(file);
  let lines = 0;
  const put = async (s: string) => {
    if (!out.write(s)) {
      await new Promise<void>((r) => out.once('drain', () => r()));
    }
  };
  for (const f of DB_FIELDS) {
    await put(`# TYPE pg_stat_database_${f} counter\n`);
    const acc = DATABASES.map(() => 0);
    for (let i = 0, t = start; t <= start + SPAN_S; i++, t += DB_STEP_S) {
      let buf = '';
      DATABASES.forEach((db, d) => {
        acc[d] += dbIncrement(d, i)[f];
        buf += `pg_stat_database_${f}_total{datname="${db}"} ${acc[d]} ${t}\n`;
      });
      lines += DATABASES.length;
      await put(buf);
    }
  }
  for (const f of STMT_FIELDS) {
    const name =
      f === 'total_exec_time' || f === 'total_plan_time' ? `pg_stat_statements_${f}_ms` : `pg_stat_statements_${f}`;
    await put(`# TYPE ${name} counter\n`);
    const acc = new Float64Array(STATEMENTS);
    for (let i = 0, t = start; t <= start + SPAN_S; i++, t += STMT_STEP_S) {
      let buf = '';
      for (let q = 0; q < STATEMENTS; q++) {
        const inc = stmtIncrement(q, i);
        if (inc) {
          acc[q] += inc[f];
        }
        buf += `${name}_total{queryid="${1_000_000 + q}",datname="app",user="app"} ${acc[q]} ${t}\n`;
      }
      lines += STATEMENTS;
      await put(buf);
    }
  }
  await put('# EOF\n');
  await new Promise<void>((r) => out.end(() => r()));
  return lines;
}

function writePgpulse(
  store: import('../src/sidecar/store/store').Store,
  start: number
): { samples: number; points: number } {
  const epoch = (start - 3600) * 1000;
  let samples = 0;
  let points = 0;
  const dbAcc = DATABASES.map(() => Object.fromEntries(DB_FIELDS.map((f) => [f, 0])) as Record<string, number>);
  const stAcc = Array.from(
    { length: STATEMENTS },
    () => Object.fromEntries(STMT_FIELDS.map((f) => [f, 0])) as Record<string, number>
  );
  for (let i = 0, t = start; t <= start + SPAN_S; i++, t += DB_STEP_S) {
    const rows: SampleRow[] = DATABASES.map((db, d) => {
      const inc = dbIncrement(d, i);
      for (const f of DB_FIELDS) {
        dbAcc[d][f] += inc[f];
      }
      return { key: { datname: db }, values: { ...dbAcc[d], _epoch: epoch } };
    });
    points += store.writeSample({
      target: 'bench',
      collector: 'database',
      ts: t * 1000,
      ok: true,
      epoch,
      rows,
      counters: [...DB_FIELDS],
    }).points;
    samples++;
  }
  for (let i = 0, t = start; t <= start + SPAN_S; i++, t += STMT_STEP_S) {
    const rows: SampleRow[] = [];
    for (let q = 0; q < STATEMENTS; q++) {
      const inc = stmtIncrement(q, i);
      if (inc) {
        for (const f of STMT_FIELDS) {
          stAcc[q][f] += inc[f];
        }
      }
      rows.push({
        key: { queryid: String(1_000_000 + q), datname: 'app', username: 'app' },
        values: { ...stAcc[q], max_exec_time: null, _epoch: null },
      });
    }
    points += store.writeSample({
      target: 'bench',
      collector: 'statements',
      ts: t * 1000,
      ok: true,
      epoch,
      rows,
      counters: [...STMT_FIELDS],
    }).points;
    samples++;
  }
  return { samples, points };
}

/** both sides interleaved run by run (a load spike on the shared machine hits both), after one warm-up each */
async function timeBoth(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<{ a: number[]; b: number[] }> {
  await a();
  await b();
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    for (const [fn, into] of [
      [a, out.a],
      [b, out.b],
    ] as const) {
      const t0 = process.hrtime.bigint();
      await fn();
      into.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return out;
}

function p95(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
}

/** what a run wrote, kept next to the stores so BENCH_REUSE=1 can time them again */
interface HistoryMeta {
  days: number;
  statements: number;
  end: number;
  writtenAt: string;
  samples: number;
  points: number;
  writeS: number;
  sqliteBytes: number;
  omLines: number;
  omBytes: number;
  importS: number;
}

function readHistoryMeta(file: string): HistoryMeta | undefined {
  const m = JSON.parse(readFileSync(file, 'utf8')) as HistoryMeta;
  return m.days === DAYS && m.statements === STATEMENTS ? m : undefined;
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = join(WORK, 'query-latency');
  const metaFile = join(dir, 'history.json');
  // BENCH_REUSE=1 times the stores an earlier run wrote (same days and statements) instead of
  // writing both again: the write takes 11 minutes at 7 days, the timing a few
  const reused = process.env.BENCH_REUSE === '1' && existsSync(metaFile) ? readHistoryMeta(metaFile) : undefined;
  if (!reused) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'prom'), { recursive: true });
  }
  const end = reused?.end ?? Math.floor(Date.now() / 1000 / 60) * 60 - 120;
  const start = end - SPAN_S;

  // pgpulse: the real sidecar (store, engine, HTTP API); the target is never sampled
  const token = 'bench-token';
  const config = historyOnlyConfig(join(dir, 'pgpulse'), token);
  const sc = await startSidecar({ config, grpc: false, sampling: false });
  let prom: ChildProcess | undefined;
  try {
    const history: HistoryMeta =
      reused ??
      (await (async (): Promise<HistoryMeta> => {
        process.stderr.write('writing the history as OpenMetrics …\n');
        const om = join(dir, 'history.om.txt');
        const o0 = Date.now();
        const omLines = await writeOpenMetrics(om, start);
        const omBytes = statSync(om).size;
        // promtool parses the whole input once per block window: with its default 2-hour blocks a
        // 7-day import parses 3.6 GB 84 times. Blocks as long as the span make it one or two passes.
        // It runs in its own process while pgpulse's store is written (2 cores).
        process.stderr.write('importing it into Prometheus blocks while writing it into pgpulse …\n');
        const importer = spawn(
          '/usr/bin/promtool',
          [
            'tsdb',
            'create-blocks-from',
            'openmetrics',
            `--max-block-duration=${PROM_BLOCK_H}h`,
            '--quiet',
            om,
            join(dir, 'prom', 'data'),
          ],
          { stdio: ['ignore', 'ignore', 'inherit'] }
        );
        const imported = new Promise<number>((resolve, reject) => {
          importer.once('error', reject);
          importer.once('exit', (code) =>
            code === 0 ? resolve(Date.now()) : reject(new Error(`promtool exited with ${code}`))
          );
        });
        const w0 = Date.now();
        const written = writePgpulse(sc.store, start);
        const writeS = (Date.now() - w0) / 1000;
        const sqliteBytes = statSync(join(config.dataDir, 'pgpulse.db')).size;
        const importS = ((await imported) - o0) / 1000;
        rmSync(om);
        const meta: HistoryMeta = {
          days: DAYS,
          statements: STATEMENTS,
          end,
          writtenAt: new Date().toISOString(),
          samples: written.samples,
          points: written.points,
          writeS,
          sqliteBytes,
          omLines,
          omBytes,
          importS,
        };
        writeFileSync(metaFile, JSON.stringify(meta));
        return meta;
      })());
    const { samples: writtenSamples, points: writtenPoints, writeS, sqliteBytes, omLines, omBytes, importS } = history;
    const promPort = await freePort();
    writeFileSync(join(dir, 'prom', 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
    prom = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${join(dir, 'prom', 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prom', 'data')}`,
        '--storage.tsdb.retention.time=30d',
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] }
    );
    await waitHttp(`http://127.0.0.1:${promPort}/-/ready`, 60_000);
    await sleep(1000);

    const pp = async (body: Record<string, unknown>, windowS = SPAN_S) => {
      const r = await fetch(`http://127.0.0.1:${sc.httpPort}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: (end - windowS) * 1000, to: end * 1000, ...body }),
      });
      const j = (await r.json()) as {
        results: Record<string, { frames: Array<{ data: { values: unknown[][] } }>; error?: string }>;
      };
      const res = j.results.A;
      if (res.error) {
        throw new Error(res.error);
      }
      return res.frames;
    };
    const pq = async (path: string, params: Record<string, string>) => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}?${new URLSearchParams(params)}`);
      const j = (await r.json()) as {
        status: string;
        error?: string;
        data: {
          result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>;
        };
      };
      if (j.status !== 'success') {
        throw new Error(`Prometheus: ${j.error}`);
      }
      return j.data.result;
    };
    const sf = (f: string) =>
      f === 'total_exec_time' || f === 'total_plan_time'
        ? `pg_stat_statements_${f}_ms_total`
        : `pg_stat_statements_${f}_total`;
    const instant = (q: string) => pq('query', { query: q, time: String(end) });
    const range = (q: string, windowS = SPAN_S, stepS = 60) =>
      pq('query_range', { query: q, start: String(end - windowS), end: String(end), step: String(stepS) });

    // 1 h, 24 h and the whole span; a long panel at about 1,000 points (10-minute steps over 7 days)
    const windows = [
      { label: '1 h', s: 3600, step: 60 },
      { label: '24 h', s: 86_400, step: 60 },
      ...(SPAN_S > 86_400 ? [{ label: `${DAYS} d`, s: SPAN_S, step: 600 }] : []),
    ].filter((w) => w.s <= SPAN_S);
    const dur = (s: number) => (s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : `${s}s`);
    const cases: Array<{
      name: string;
      metric: string;
      pgpulse: () => Promise<unknown>;
      prom: () => Promise<unknown>;
      promWhat: string;
    }> = [];
    for (const w of windows) {
      const points = Math.round(w.s / w.step);
      // increase() needs two samples in its window: statements are sampled every 60 s
      const stmtWin = dur(Math.max(w.step, 2 * STMT_STEP_S));
      cases.push(
        {
          name: `top_queries, ${w.label} (top 10 of ${STATEMENTS} by total time, 7 columns)`,
          metric: 'top_queries',
          pgpulse: () =>
            pp(
              { queries: [{ refId: 'A', metric: 'top_queries', target: 'bench', topN: 10, orderBy: 'total_time' }] },
              w.s
            ),
          prom: () =>
            Promise.all(STMT_FIELDS.map((f) => instant(`sum by (queryid, datname) (increase(${sf(f)}[${dur(w.s)}]))`))),
          promWhat: `7 instant queries \`sum by (queryid, datname) (increase(<counter>[${dur(w.s)}]))\`, issued concurrently (one per table column, as a Grafana table panel would)`,
        },
        {
          metric: 'cache_hit_ratio',
          name: `cache_hit_ratio, ${w.label} at ${w.step / 60}-minute steps (${points.toLocaleString('en-US')} points × 4 databases)`,
          pgpulse: () =>
            pp(
              { intervalMs: w.step * 1000, queries: [{ refId: 'A', metric: 'cache_hit_ratio', target: 'bench' }] },
              w.s
            ),
          prom: () =>
            range(
              `sum by (datname) (increase(pg_stat_database_blks_hit_total[${dur(w.step)}])) / (sum by (datname) (increase(pg_stat_database_blks_hit_total[${dur(w.step)}])) + sum by (datname) (increase(pg_stat_database_blks_read_total[${dur(w.step)}])))`,
              w.s,
              w.step
            ),
          promWhat: `range query, step ${w.step} s: \`sum by (datname)(increase(blks_hit[${dur(w.step)}])) / (… blks_hit + … blks_read)\``,
        },
        {
          metric: 'statement_latency',
          name: `statement_latency (all statements), ${w.label} at ${w.step / 60}-minute steps`,
          pgpulse: () =>
            pp(
              { intervalMs: w.step * 1000, queries: [{ refId: 'A', metric: 'statement_latency', target: 'bench' }] },
              w.s
            ),
          prom: () =>
            range(
              `sum(increase(${sf('total_exec_time')}[${stmtWin}])) / sum(increase(${sf('calls')}[${stmtWin}]))`,
              w.s,
              w.step
            ),
          promWhat: `range query, step ${w.step} s: \`sum(increase(total_exec_time[${stmtWin}])) / sum(increase(calls[${stmtWin}]))\``,
        }
      );
    }
    // the sidecar's own account of compute time (in its query worker, without HTTP and queueing)
    const computed = async (metric: string): Promise<{ sum: number; count: number }> => {
      const text = await (
        await fetch(`http://127.0.0.1:${sc.httpPort}/metrics`, { headers: { authorization: `Bearer ${token}` } })
      ).text();
      const get = (suffix: string) =>
        Number(
          new RegExp(`^pgpulse_query_duration_seconds_${suffix}\\{metric="${metric}"\\} (\\S+)$`, 'm').exec(
            text
          )?.[1] ?? NaN
        );
      return { sum: get('sum'), count: get('count') };
    };
    const rows: string[] = [];
    for (const c of cases) {
      process.stderr.write(`timing: ${c.name}\n`);
      const c0 = await computed(c.metric);
      const t = await timeBoth(c.pgpulse, c.prom);
      const c1 = await computed(c.metric);
      const computeMs = ((c1.sum - (c0.sum || 0)) / (c1.count - (c0.count || 0))) * 1000;
      rows.push(
        `| ${c.name} | ${fmt(median(t.a))} / ${fmt(p95(t.a))} | ${fmt(computeMs)} | ${fmt(median(t.b))} / ${fmt(p95(t.b))} | ${ratio(median(t.a), median(t.b))} |`
      );
    }

    // the two stores hold the same data: check the answers agree
    const top = await pp({
      queries: [{ refId: 'A', metric: 'top_queries', target: 'bench', topN: 10, orderBy: 'total_time' }],
    });
    const topIds = (top[0].data.values[0] as string[]).map(String);
    const promTop = (
      await instant(`topk(10, sum by (queryid, datname) (increase(${sf('total_exec_time')}[${dur(SPAN_S)}])))`)
    ).map((r) => r.metric.queryid);
    const overlap = topIds.filter((q) => promTop.includes(q)).length;
    const chr = await pp(
      { intervalMs: 60_000, queries: [{ refId: 'A', metric: 'cache_hit_ratio', target: 'bench', database: 'app' }] },
      86_400
    );
    const ours = chr[0].data.values[1] as Array<number | null>;
    const oursT = chr[0].data.values[0] as number[];
    const theirs = await range(
      'sum by (datname) (increase(pg_stat_database_blks_hit_total{datname="app"}[1m])) / (sum by (datname) (increase(pg_stat_database_blks_hit_total{datname="app"}[1m])) + sum by (datname) (increase(pg_stat_database_blks_read_total{datname="app"}[1m])))',
      86_400
    );
    const oursMean = median(ours.filter((v): v is number => v !== null));
    const theirsMean = median((theirs[0]?.values ?? []).map(([, v]) => Number(v)));

    const body = `
# Query latency over 1 h, 24 h and ${DAYS} days of history: pgpulse engine vs Prometheus 2.42

History (identical in both stores, deterministic): ${DATABASES.length} databases sampled every ${DB_STEP_S} s
(pg_stat_database counters), ${STATEMENTS} statements sampled every ${STMT_STEP_S} s (7 pg_stat_statements
counters each; 10 % of statements move per sample), over ${DAYS} days. No compaction (every sample kept on both sides).

- **pgpulse**: written through \`Store.writeSample\` as the sampler does: ${writtenSamples.toLocaleString('en-US')} samples,
  ${writtenPoints.toLocaleString('en-US')} points stored (only changed values + keyframes) in ${fmt(writeS)} s; SQLite file
  ${fmt(sqliteBytes / 1048576)} MB. Queried with \`POST /api/v1/query\` of the real sidecar.
- **Prometheus**: the same values as ${omLines.toLocaleString('en-US')} OpenMetrics samples (a scraper stores every
  value every time; ${fmt(omBytes / 1048576, 0)} MB of text), imported with
  \`promtool tsdb create-blocks-from openmetrics --max-block-duration=${PROM_BLOCK_H}h\` (write + import ${fmt(importS)} s,
  while pgpulse's store was written),
  queried with \`/api/v1/query\` and \`/api/v1/query_range\`.

${reused ? `Timed again over the stores written at ${reused.writtenAt} (\`BENCH_REUSE=1\`; the write figures above are that run's).\n\n` : ''}Both over HTTP on loopback from the bench process (which also runs the sidecar), one warm-up each, then
${RUNS} timed runs of each side interleaved run by run; wall time in ms, median / p95. "Of which computing":
the sidecar's \`pgpulse_query_duration_seconds\` over the same runs (warm-up included), the engine's time in
its query worker (a thread at nice 10) without HTTP, JSON and queueing.

| query | pgpulse ms (median / p95) | of which computing (mean ms) | Prometheus ms (median / p95) | ratio of medians pgpulse / Prometheus |
|---|---:|---:|---:|---:|
${rows.join('\n')}

What Prometheus ran:
${cases.map((c) => `- ${c.name}: ${c.promWhat}`).join('\n')}

Same answers: ${overlap}/10 of pgpulse's top-10 statements by total time are in Prometheus' topk(10);
median cache hit ratio of database app over the last day (1-minute steps): pgpulse ${oursMean.toFixed(5)}, Prometheus ${theirsMean.toFixed(5)}
(Prometheus' increase() extrapolates to the window edges, pgpulse sums exact deltas per step; pgpulse's
grid has ${oursT.length} steps).

Caveats: one machine (2 cores), small-ish Prometheus (no remote storage); pgpulse answers from SQLite with
its whole engine in one Node process; Prometheus needs one query per column for a table, pgpulse returns
the table in one call. Bench run took ${fmt((Date.now() - started) / 1000, 0)} s.
`;
    const path = writeResult('query-latency.md', body);
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    if (prom && prom.exitCode === null) {
      prom.kill('SIGTERM');
      await new Promise((r) => prom!.once('exit', r));
    }
    await sc.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String((e as Error).stack ?? e) + '\n');
    process.exit(1);
  }
);
