/**
 * What running totals and per-database sums cost the writer: the same 500-statement history
 * written with and without `counters` (before running totals, every collector wrote as if none
 * were declared), the two runs interleaved on the shared machine. Writes
 * bench/results/running-totals-write.md. About a minute; not part of `npm run bench`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/sidecar/store/store';
import { fmt, median, ratio, writeResult } from './lib';

const FIELDS = [
  'calls',
  'total_exec_time',
  'rows',
  'shared_blks_hit',
  'shared_blks_read',
  'temp_blks_written',
  'total_plan_time',
];
const STATEMENTS = 500;
const CYCLES = Number(process.env.BENCH_CYCLES ?? 240);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

/** one history (10 % of statements move per cycle), written through writeSample; ms per cycle and file size */
function write(counters: boolean): { perCycle: number; bytes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-rtw-'));
  const store = Store.open(dir);
  const acc = Array.from(
    { length: STATEMENTS },
    () => Object.fromEntries(FIELDS.map((f) => [f, 0])) as Record<string, number>
  );
  const times: number[] = [];
  try {
    for (let i = 0; i < CYCLES; i++) {
      const rows = acc.map((a, q) => {
        if ((q * 7 + i * 13) % 10 === 0) {
          for (const f of FIELDS) {
            a[f] += 1 + ((q + i) % 5);
          }
        }
        return {
          key: { queryid: String(q), datname: 'app', username: 'app' },
          values: { ...a, max_exec_time: null, _epoch: null },
        };
      });
      const t0 = performance.now();
      store.writeSample({
        target: 'b',
        collector: 'statements',
        ts: 1e12 + i * 60_000,
        ok: true,
        epoch: 1,
        rows,
        counters: counters ? FIELDS : undefined,
      });
      times.push(performance.now() - t0);
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    return { perCycle: median(times), bytes: statSync(join(dir, 'pgpulse.db')).size };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const without: Array<{ perCycle: number; bytes: number }> = [];
const withTotals: Array<{ perCycle: number; bytes: number }> = [];
for (let r = 0; r < REPEATS; r++) {
  without.push(write(false));
  withTotals.push(write(true));
}
const m = (xs: Array<{ perCycle: number }>) => median(xs.map((x) => x.perCycle));
const path = writeResult(
  'running-totals-write.md',
  `
# Writer cost of running totals and per-database sums

${CYCLES} cycles of ${STATEMENTS} statements × 7 counters (10 % of statements move per cycle, a keyframe
every 120 cycles), written through \`Store.writeSample\` without and with \`counters\` declared; runs
interleaved, ${REPEATS} repeats; median ms per cycle (median over the repeats).

| | without running totals | with running totals + per-database sums | ratio |
|---|---:|---:|---:|
| ms per cycle (median) | ${fmt(m(without), 2)} | ${fmt(m(withTotals), 2)} | ${ratio(m(withTotals), m(without))} |
| file size after checkpoint | ${fmt(without[0].bytes / 1048576, 2)} MB | ${fmt(withTotals[0].bytes / 1048576, 2)} MB | ${ratio(withTotals[0].bytes, without[0].bytes)} |
`
);
process.stderr.write(`wrote ${path}\n`);
