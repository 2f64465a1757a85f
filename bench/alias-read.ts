/**
 * What reading a server-wide collector through its server's history costs (store/stream-alias.ts):
 * the same 7-day activity history (15 s, 10 rows) stored once under a target itself ("own") and
 * once under a server history that a second target's stream is an alias of ("alias"); the read
 * paths the engine takes (samples + matrix, step sums from running totals) timed in process for
 * both, medians of 15 (alternating). Writes bench/results/alias-read.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/sidecar/store/store';
import { fmt, writeResult } from './lib';

const DAYS = Number(process.env.BENCH_DAYS ?? 7);
const STEP_MS = 15_000;
const C = 'activity';
const SERVER = 'server:1:5432:mon@1';

const dir = mkdtempSync(join(tmpdir(), 'pgpulse-alias-read-'));
const store = Store.open(dir);
try {
  const n = (DAYS * 86_400_000) / STEP_MS;
  const t0 = 1_700_000_000_000;
  store.holdStream('alias', C, SERVER, t0);
  const dbs = ['a', 'b', 'c', 'd', 'e'];
  for (let i = 0; i < n; i++) {
    const rows = dbs.flatMap((d, k) =>
      ['idle', 'active'].map((state) => ({
        key: { datname: d, state },
        values: { count: (i + k) % 7, longest_query_s: i % 13 },
      }))
    );
    for (const t of ['own', SERVER]) {
      store.writeSample({ target: t, collector: C, ts: t0 + i * STEP_MS, ok: true, epoch: 1, rows });
    }
  }
  const to = t0 + n * STEP_MS;
  /** medians of 15 of each read, the two alternating so the machine's load falls on both alike */
  const medians = (fs: Array<() => unknown>) => {
    const xs = fs.map(() => [] as number[]);
    for (let k = 0; k < 15; k++) {
      fs.forEach((f, j) => {
        const s = performance.now();
        f();
        xs[j].push(performance.now() - s);
      });
    }
    return xs.map((x) => x.sort((a, b) => a - b)[7]);
  };
  const lines: string[] = [];
  for (const [label, span] of [
    ['1 h', 3_600_000],
    ['24 h', 86_400_000],
    [`${DAYS} d`, DAYS * 86_400_000 - STEP_MS],
  ] as const) {
    const from = to - span;
    const grid = { starts: Array.from({ length: 60 }, (_, j) => from + (j * span) / 60), step: span / 60 };
    const walk = (t: string) => () => store.matrix(t, C, ['count'], undefined, store.samples(t, C, from, to));
    const steps = (t: string) => () => store.stepTotals(t, C, ['count'], undefined, { from, to }, grid, 'end', 1e6);
    const [wOwn, wAlias, sOwn, sAlias] = medians([walk('own'), walk('alias'), steps('own'), steps('alias')]);
    lines.push(`| ${label} | ${fmt(wOwn, 2)} | ${fmt(wAlias, 2)} | ${fmt(sOwn, 2)} | ${fmt(sAlias, 2)} |`);
  }
  writeResult(
    'alias-read.md',
    `# Reading a server-wide collector through its server's history

${DAYS} days of an activity history every 15 s (10 rows), stored under a target itself and under a
server history another target's stream is an alias of; medians of 15 in-process reads, the
four reads alternating, ms.

| range | samples + matrix, own | samples + matrix, alias | step sums (60 steps), own | step sums, alias |
|---|---:|---:|---:|---:|
${lines.join('\n')}
`
  );
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
