/**
 * What one advisor evaluation's history read costs in memory: the statement facts (6 counters and
 * the row epoch of BENCH_ROWS statements, default 5,000) over BENCH_SAMPLES samples (default 720:
 * one hour at 5 s), read once as a single matrix over the window (the advisor before) and once in
 * chunks of 100 samples, and from the store's running totals (now). Each read runs in a fresh process on the same store file; its cost
 * is that process's peak RSS (VmHWM) and V8 heap peak (bench/lib.ts peakRssRun). Writes
 * bench/results/advisor-history.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileSidecar, fmt, peakRssRun, WORK, writeResult } from './lib';

const ROWS = Number(process.env.BENCH_ROWS ?? 5000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 720);
const COUNTERS = ['calls', 'total_exec_time', 'rows', 'shared_blks_hit', 'shared_blks_read', 'temp_blks_written'];

/** child: read the facts once (measure: bench/lib.ts peakRssRun) */
const CHILD = `
const { Store } = require(process.env.SRC + '/store/store');
const { collectRows, rangeDeltaRows } = require(process.env.SRC + '/advisors/history');
const store = Store.open(process.env.DIR, { reader: true });
measure(() => {
  const rows = process.env.CHUNK === 'totals'
    ? rangeDeltaRows(store, 't', 'statements', ${JSON.stringify(COUNTERS)}, { from: 0, to: 1e15 })
    : collectRows(store, 't', 'statements', ${JSON.stringify(COUNTERS)}, [], { from: 0, to: 1e15 }, 'range', Number(process.env.CHUNK)).rows;
  let calls = 0; for (const r of rows.values()) calls += r.deltas.calls ?? 0;
  return { rows: rows.size, calls };
});
`;

function main(): void {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'advisor-history-'));
  const src = join(WORK, 'advisor-history-build');
  try {
    compileSidecar(src);
    process.stderr.write(`writing ${SAMPLES} samples of ${ROWS} statements …\n`);
    // the writer in its own process too: its caches must not count against the readers
    execFileSync(
      process.execPath,
      [
        '-e',
        `
const { Store } = require(${JSON.stringify(join(src, 'sidecar', 'store', 'store'))});
const store = Store.open(${JSON.stringify(dir)});
const values = Array.from({ length: ${ROWS} }, () => (${JSON.stringify(Object.fromEntries(COUNTERS.map((c) => [c, 1])))}));
let x = 1;
for (let i = 0; i < ${SAMPLES}; i++) {
  const rows = values.map((v, r) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    // 10 % of the statements run between two samples
    if (x % 10 === 0) for (const c of Object.keys(v)) v[c] += 1 + (x % 7);
    return { key: { datname: 'app', username: 'app', queryid: String(1e12 + r) }, values: { ...v, _epoch: 0 } };
  });
  store.writeSample({ target: 't', collector: 'statements', ts: 1e12 + i * 5000, ok: true, epoch: 1, rows, counters: ${JSON.stringify(COUNTERS)} });
}
store.close();
`,
      ],
      { stdio: 'inherit' }
    );
    const runs: string[] = [];
    let answer: string | undefined;
    for (const [label, chunk] of [
      ['one matrix over the window (before)', Number.MAX_SAFE_INTEGER],
      ['chunks of 100 samples', 100],
      ['running totals: two lookups per series (now)', 'totals'],
    ] as const) {
      const out = peakRssRun<{ rows: number; calls: number }>(CHILD, {
        ...process.env,
        SRC: join(src, 'sidecar'),
        DIR: dir,
        CHUNK: String(chunk),
      });
      const same = `${out.result.rows} rows, Σ calls ${out.result.calls}`;
      if (answer !== undefined && answer !== same) {
        throw new Error(`the two reads disagree: ${answer} vs ${same}`);
      }
      answer = same;
      runs.push(
        `| ${label} | ${fmt(out.beforeMb)} | ${fmt(out.peakMb)} | ${fmt(out.peakMb - out.beforeMb)} | ${fmt(out.heapPeakMb)} | ${fmt(out.ms, 0)} |`
      );
      process.stderr.write(`${label}: peak RSS ${fmt(out.peakMb)} MB\n`);
    }
    const path = writeResult(
      'advisor-history.md',
      `# Advisor history read: memory of one evaluation's statement facts

${ROWS.toLocaleString('en-US')} statements × 6 counters + row epoch, ${SAMPLES} samples (${fmt((SAMPLES * 5) / 60, 0)} min at 5 s),
10 % of the statements moving per sample; collectRows() (rangeDeltaRows() for running totals) in a fresh process per row (answers equal: ${answer}).

| read | RSS before (MB) | peak RSS (MB) | peak − before | V8 heap peak (MB) | ms |
|---|---:|---:|---:|---:|---:|
${runs.join('\n')}
`
    );
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  }
}

main();
