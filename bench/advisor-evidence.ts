/**
 * What one advisor evaluation's evidence read costs in memory and time, part by part, on one target
 * the size of the memory benchmark: 5,000 statements, 500 tables and 2,000 indexes with the
 * catalog's counters and gauges, BENCH_SAMPLES samples (default 720: one hour at 5 s), 10 % of the
 * rows moving per sample, 4 of 5 tables' last_vacuum/analyze times null. Each read runs in a fresh
 * process started with `pgpulse serve`'s node flags on the same store file; its cost is that
 * process's peak RSS (VmHWM, bench/lib.ts peakRssRun). The statement, table and index facts are
 * read both ways in the same run: walking every stored point (`…Facts(…, 'points')`, the advisor
 * before) and as the advisor reads them now (running totals for range deltas, the ends of each
 * series' values for gauges, span facts and a fresh install's lifetime counters). `gatherEvidence`
 * is the whole read: at the end of the first hour (lifetime mode, as a fresh install) and with a
 * window the history covers (range mode, as after the first hour). Writes
 * bench/results/advisor-evidence.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileSidecar, fmt, peakRssRun, WORK, writeResult } from './lib';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 720);
const SERVE_FLAGS = ['--liftoff-only', '--max-semi-space-size=2'];

const WRITER = `
const { Store } = require(process.env.SRC + '/store/store');
const { collectorSpecs } = require(process.env.SRC.replace(/sidecar$/, 'model') + '/catalog/collectors');
const store = Store.open(process.env.DIR);
const shapes = [['statements', 5000], ['tables', 500], ['indexes', 2000]];
const key = (c, i) => c === 'statements' ? { queryid: String(1e12 + i), datname: 'app', username: 'app' }
  : c === 'tables' ? { datname: 'app', schemaname: 'public', relname: 't' + i }
  : { datname: 'app', schemaname: 'public', relname: 't' + (i >> 2), indexrelname: 't' + (i >> 2) + '_i' + (i & 3) };
let x = 1;
const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
const state = new Map();
for (let k = 0; k < Number(process.env.SAMPLES); k++) {
  for (const [c, n] of shapes) {
    const spec = collectorSpecs.find((s) => s.id === c);
    const counters = spec.counters ?? [];
    const all = [...counters, ...(spec.gauges ?? []), ...(spec.rowEpoch ? ['_epoch'] : [])];
    let rows = state.get(c);
    if (!rows) {
      // most tables were never vacuumed or analyzed by hand (or at all): their last_* gauges stay null
      const none = (f, i) => /^last_/.test(f) && i % 5 !== 0;
      rows = Array.from({ length: n }, (_, i) => ({ key: key(c, i), values: Object.fromEntries(all.map((f) => [f, f === '_epoch' ? 0 : none(f, i) ? null : next() % 100000])) }));
      state.set(c, rows);
    }
    for (const r of rows) if (next() % 10 === 0) for (const f of counters) r.values[f] += 1 + (next() % 7);
    store.writeSample({ target: 't', collector: c, ts: 1e12 + k * 5000, ok: true, epoch: 1, rows: rows.map((r) => ({ key: r.key, values: { ...r.values } })), counters });
  }
}
store.close();
`;

/** child: one part of the read (measure: bench/lib.ts peakRssRun) */
const READER = `
const { Store } = require(process.env.SRC + '/store/store');
const h = require(process.env.SRC + '/advisors/history');
const { gatherEvidence } = require(process.env.SRC + '/advisors/evaluate');
const store = Store.open(process.env.DIR, { reader: true });
const now = 1e12 + (Number(process.env.SAMPLES) - 1) * 5000;
const w = { from: now - 86400000, to: now };
measure({
  'statements range walk': () => h.statementFacts(store, 't', w, 'range', 'points').length,
  'statements range': () => h.statementFacts(store, 't', w, 'range').length,
  'statements lifetime walk': () => h.statementFacts(store, 't', w, 'lifetime', 'points').length,
  'statements lifetime': () => h.statementFacts(store, 't', w, 'lifetime').length,
  'tables range walk': () => h.tableFacts(store, 't', w, 'range', 'points').length,
  'tables range': () => h.tableFacts(store, 't', w).length,
  'tables lifetime walk': () => h.tableFacts(store, 't', w, 'lifetime', 'points').length,
  'tables lifetime': () => h.tableFacts(store, 't', w, 'lifetime').length,
  'indexes walk': () => h.indexFacts(store, 't', now, 'points').length,
  indexes: () => h.indexFacts(store, 't', now).length,
  'evidence, first hour': () => { const e = gatherEvidence(store, 't', now); if (!e.lifetime) throw new Error('expected lifetime evidence'); return e.statements.length; },
  'evidence, after the first hour': () => { const e = gatherEvidence(store, 't', now, { windowMs: (Number(process.env.SAMPLES) - 2) * 5000 }); if (e.lifetime) throw new Error('expected range evidence'); return e.statements.length; },
}[process.env.PART]);
`;

const PARTS: Array<[string, string]> = [
  ['statements range walk', 'statement facts, range: every stored point walked (before)'],
  ['statements range', 'statement facts, range: running totals (now)'],
  ['statements lifetime walk', 'statement facts, lifetime: every stored point walked (before)'],
  ['statements lifetime', 'statement facts, lifetime: value ends (now)'],
  ['tables range walk', 'table facts, range: every stored point walked (before)'],
  ['tables range', 'table facts, range: running totals and value ends (now)'],
  ['tables lifetime walk', 'table facts, lifetime: every stored point walked (before)'],
  ['tables lifetime', 'table facts, lifetime: value ends (now)'],
  ['indexes walk', 'index facts, whole history: every stored point walked (before)'],
  ['indexes', 'index facts, whole history: running totals and value ends (now)'],
  ['evidence, first hour', 'gatherEvidence at the end of the first hour (lifetime mode)'],
  ['evidence, after the first hour', 'gatherEvidence with a window the history covers (range mode)'],
];

function main(): void {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'advisor-evidence-'));
  const out = join(WORK, 'advisor-evidence-build');
  const src = join(out, 'sidecar');
  try {
    compileSidecar(out);
    const env = { ...process.env, SRC: src, DIR: dir, SAMPLES: String(SAMPLES) };
    process.stderr.write(`writing ${SAMPLES} samples of 5,000 statements, 500 tables, 2,000 indexes …\n`);
    // the writer in its own process: its caches must not count against the readers
    execFileSync(process.execPath, ['-e', WRITER], { env, stdio: 'inherit' });
    const lines: string[] = [];
    for (const [part, what] of PARTS) {
      const r = peakRssRun<number>(READER, { ...env, PART: part }, SERVE_FLAGS);
      lines.push(
        `| ${what} | ${fmt(r.beforeMb)} | ${fmt(r.peakMb)} | ${fmt(r.peakMb - r.beforeMb)} | ${fmt(r.ms, 0)} | ${r.result} |`
      );
      process.stderr.write(`${part}: peak RSS ${fmt(r.peakMb)} MB, ${fmt(r.ms, 0)} ms\n`);
    }
    const path = writeResult(
      'advisor-evidence.md',
      `# Advisor evidence read, part by part

One target: 5,000 statements, 500 tables, 2,000 indexes (the catalog's counters and gauges),
${SAMPLES} samples (${fmt((SAMPLES * 5) / 60, 0)} min at 5 s), 10 % of the rows moving per sample, 4 of 5 tables' last_vacuum/analyze
times null. Each read in a fresh
process with \`${SERVE_FLAGS.join(' ')}\` on the same store file.

| read | RSS before (MB) | peak RSS (MB) | peak − before | ms | rows |
|---|---:|---:|---:|---:|---:|
${lines.join('\n')}
`
    );
    process.stderr.write(`wrote ${path}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

main();
