/**
 * Cost of one Prometheus scrape of /metrics for a large target: a real sidecar (HTTP, auth, its
 * own registry) holding the last sample of a target with BENCH_STATEMENTS statements (5,000),
 * 2,000 indexes, 500 tables and 20 databases, as the sampler leaves it. Measured through HTTP:
 * the first scrape after a new sample (the catalog families are rendered) and a repeated scrape
 * (rendered text reused), with the default limits (top 100 statements) and with no cut at all.
 *
 *   node --import tsx bench/metrics-scrape.ts
 */
import { performance } from 'node:perf_hooks';
import type { SampleRow } from '../src/sidecar/store/types';
import { startTestSidecar } from '../tests/support/sidecar';
import { fmt, median, writeResult } from './lib';

const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 40);

const shapes = {
  statements: {
    key: ['queryid', 'datname', 'username'],
    counters: [
      'calls',
      'total_exec_time',
      'total_plan_time',
      'rows',
      'shared_blks_hit',
      'shared_blks_read',
      'temp_blks_written',
      'io_read_time',
    ],
    gauges: ['max_exec_time'],
  },
  indexes: {
    key: ['datname', 'schemaname', 'relname', 'indexrelname'],
    counters: ['idx_scan', 'idx_tup_read', 'idx_tup_fetch', 'idx_blks_read', 'idx_blks_hit'],
    gauges: ['size_bytes'],
  },
  tables: {
    key: ['datname', 'schemaname', 'relname'],
    counters: [
      'seq_scan',
      'seq_tup_read',
      'idx_scan',
      'idx_tup_fetch',
      'n_tup_ins',
      'n_tup_upd',
      'n_tup_del',
      'n_tup_hot_upd',
      'vacuum_count',
      'autovacuum_count',
      'analyze_count',
      'autoanalyze_count',
      'heap_blks_read',
      'heap_blks_hit',
      'idx_blks_read',
      'idx_blks_hit',
    ],
    gauges: [
      'n_live_tup',
      'n_dead_tup',
      'n_mod_since_analyze',
      'last_vacuum_ms',
      'last_autovacuum_ms',
      'last_analyze_ms',
      'last_autoanalyze_ms',
      'size_bytes',
      'heap_bytes',
      'xid_age',
    ],
  },
  database: {
    key: ['datname'],
    counters: [
      'xact_commit',
      'xact_rollback',
      'blks_read',
      'blks_hit',
      'tup_returned',
      'tup_fetched',
      'tup_inserted',
      'tup_updated',
      'tup_deleted',
      'conflicts',
      'temp_files',
      'temp_bytes',
      'deadlocks',
      'blk_read_time',
      'blk_write_time',
    ],
    gauges: ['numbackends', 'size_bytes'],
  },
};

function rows(
  shape: { key: string[]; counters: string[]; gauges: string[] },
  n: number,
  gen: number,
  name: (i: number) => Record<string, string>
): SampleRow[] {
  return Array.from({ length: n }, (_, i) => ({
    key: name(i),
    values: Object.fromEntries(
      [...shape.counters, ...shape.gauges].map((f, j) => [f, 1_000_000 + i * 37 + j * 11 + gen * 3])
    ),
  }));
}

async function measure(limits: { topStatements: number; topRelations: number }) {
  const sc = await startTestSidecar({
    url: 'postgres://nobody@127.0.0.1:1/none',
    sampling: false,
    grpc: false,
    metrics: limits,
  });
  try {
    const latest = sc.sidecar.service.metrics.latest;
    let gen = 0;
    const sample = () => {
      gen++;
      latest.record(
        'big',
        'statements',
        shapes.statements,
        gen,
        rows(shapes.statements, STATEMENTS, gen, (i) => ({
          queryid: String(-4_000_000_000_000 + i * 7_777_777),
          datname: `db${i % 20}`,
          username: 'app',
        }))
      );
      latest.record(
        'big',
        'indexes',
        shapes.indexes,
        gen,
        rows(shapes.indexes, 2000, gen, (i) => ({
          datname: 'app',
          schemaname: 'public',
          relname: `t${i % 500}`,
          indexrelname: `t${i % 500}_idx${i}`,
        }))
      );
      latest.record(
        'big',
        'tables',
        shapes.tables,
        gen,
        rows(shapes.tables, 500, gen, (i) => ({ datname: 'app', schemaname: 'public', relname: `t${i}` }))
      );
      latest.record(
        'big',
        'database',
        shapes.database,
        gen,
        rows(shapes.database, 20, gen, (i) => ({ datname: `db${i}` }))
      );
    };
    const scrape = async () => {
      const t0 = performance.now();
      const m = await sc.get('/metrics');
      const ms = performance.now() - t0;
      if (m.status !== 200) {
        throw new Error(`/metrics answered ${m.status}`);
      }
      return {
        ms,
        bytes: Buffer.byteLength(m.text),
        series: m.text.split('\n').filter((l) => l && !l.startsWith('#')).length,
      };
    };
    sample();
    sample();
    await scrape(); // warm-up
    const fresh: number[] = [];
    const cached: number[] = [];
    let last = { ms: 0, bytes: 0, series: 0 };
    for (let i = 0; i < RUNS; i++) {
      sample();
      last = await scrape();
      fresh.push(last.ms);
      cached.push((await scrape()).ms);
    }
    const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1];
    return {
      fresh: { p50: median(fresh), p95: p95(fresh) },
      cached: { p50: median(cached), p95: p95(cached) },
      bytes: last.bytes,
      series: last.series,
    };
  } finally {
    await sc.destroy();
  }
}

async function main() {
  const cut = await measure({ topStatements: 100, topRelations: 1000 });
  const all = await measure({ topStatements: STATEMENTS, topRelations: 100_000 });
  const line = (label: string, r: Awaited<ReturnType<typeof measure>>) =>
    `| ${label} | ${fmt(r.fresh.p50)} / ${fmt(r.fresh.p95)} ms | ${fmt(r.cached.p50)} / ${fmt(r.cached.p95)} ms | ${fmt(r.bytes / 1024, 0)} KiB | ${r.series.toLocaleString('en')} |`;
  const body = `# /metrics scrape cost (bench/metrics-scrape.ts)

A real sidecar (HTTP with bearer token, its own registry with process metrics) holding the last
sample of one target with ${STATEMENTS.toLocaleString('en')} statements, 2,000 indexes, 500 tables and 20 databases; ${RUNS} scrapes each
right after a new sample (catalog families rendered) and repeated (rendered text reused).

| limits | scrape after a new sample, p50 / p95 | repeated scrape, p50 / p95 | size | series |
|---|---|---|---|---|
${line('default: topStatements 100, topRelations 1000', cut)}
${line(`no cut: topStatements ${STATEMENTS}, topRelations 100000`, all)}
`;
  console.log(body);
  console.log(writeResult('metrics-scrape.md', body));
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  }
);
