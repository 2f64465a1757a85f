/**
 * What the store's in-memory caches hold on the JS heap for one target the size of the memory
 * benchmark (5,000 statements, 500 tables, 2,000 indexes, each collector's real counters and
 * gauges), after BENCH_SAMPLES cycles with 10 % of the rows moving per cycle. Each cache's retained
 * size is the memory (JS heap + array buffers) freed by emptying it (after forced GCs), one at a time, in a fresh process
 * (`node --expose-gc`). Writes bench/results/store-cache-memory.md (BENCH_OUT to rename).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { collectorSpecs } from '../src/model/catalog/collectors';
import { Store } from '../src/sidecar/store/store';
import { fmt, WORK, writeResult } from './lib';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const SHAPES: Array<{ collector: string; rows: number; key: (i: number) => Record<string, string> }> = [
  {
    collector: 'statements',
    rows: 5000,
    key: (i) => ({ queryid: String(-4_000_000_000_000_000_000 + i * 7_919_113), datname: 'bench', username: 'bench' }),
  },
  { collector: 'tables', rows: 500, key: (i) => ({ datname: 'bench', schemaname: 'public', relname: `t${i}` }) },
  {
    collector: 'indexes',
    rows: 2000,
    key: (i) => ({
      datname: 'bench',
      schemaname: 'public',
      relname: `t${i >> 2}`,
      indexrelname: `t${i >> 2}_i${i & 3}`,
    }),
  },
];

function fieldsOf(collector: string): { counters: string[]; all: string[] } {
  const c = collectorSpecs.find((x) => x.id === collector);
  if (!c) {
    throw new Error(`no collector ${collector} in the catalog`);
  }
  const counters = c.counters ?? [];
  return { counters, all: [...counters, ...(c.gauges ?? []), ...(c.rowEpoch ? ['_epoch'] : [])] };
}

/** child: fill a store, then empty its caches one at a time and report what each held */
function child(): void {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const heap = () => {
    for (let i = 0; i < 4; i++) {
      gc();
    }
    // typed arrays keep their contents outside the JS heap: count both
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const dir = process.env.DIR!;
  const store = Store.open(dir);
  const base = heap();
  let x = 1;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
  const state = SHAPES.map((s) => ({ s, f: fieldsOf(s.collector), v: new Map<number, Record<string, number>>() }));
  for (let k = 0; k < SAMPLES; k++) {
    for (const { s, f, v } of state) {
      const rows = [];
      for (let i = 0; i < s.rows; i++) {
        let r = v.get(i);
        if (!r) {
          r = Object.fromEntries(f.all.map((n) => [n, n === '_epoch' ? 1.7e12 : next() % 1000]));
          v.set(i, r);
        }
        if (next() % 10 === 0) {
          for (const n of f.counters) {
            r[n] += (next() % 50) + 0.5;
          }
        }
        rows.push({ key: s.key(i), values: { ...r } });
      }
      store.writeSample({
        target: 'bench',
        collector: s.collector,
        ts: 1.7e12 + k * 5000,
        ok: true,
        epoch: 1.6e12,
        rows,
        counters: f.counters,
      });
    }
  }
  state.length = 0;
  const full = heap();
  const out: Record<string, number> = { total: full - base };
  const priv = store as unknown as Record<string, Map<unknown, unknown>>;
  for (const name of ['rowCaches', 'streams']) {
    const before = heap();
    priv[name].clear();
    out[name] = before - heap();
  }
  store.close();
  process.stdout.write(JSON.stringify(out));
}

function main(): void {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'store-cache-'));
  try {
    const r = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, 'child'], {
        env: { ...process.env, DIR: dir },
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      })
    ) as Record<string, number>;
    const series = SHAPES.map(
      (s) => `${s.rows.toLocaleString('en-US')} ${s.collector} × ${fieldsOf(s.collector).all.length} fields`
    );
    const mb = (b: number) => fmt(b / 1048576);
    const path = writeResult(
      process.env.BENCH_OUT ?? 'store-cache-memory.md',
      `# Store caches on the JS heap

One target: ${series.join(', ')}; ${SAMPLES} samples written, 10 % of the rows moving per sample.
Retained size = JS heap used plus array buffers (after forced GCs) freed by emptying that cache.

| cache | MB |
|---|---:|
| series ids and entity info per row (\`rowCaches\`) | ${mb(r.rowCaches)} |
| per-stream last values and running-total state (\`streams\`) | ${mb(r.streams)} |
| everything the open store added to the heap | ${mb(r.total)} |
`
    );
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  child();
} else {
  main();
}
